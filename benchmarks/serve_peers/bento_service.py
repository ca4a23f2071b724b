"""BentoML 1.4 peer: one @bentoml.service with an @bentoml.api, same model, 2 workers.

DW_BENCH_WORKSPACE=… bentoml serve bento_service:Predictor --host 127.0.0.1 --port P
"""

from __future__ import annotations

import os
from typing import Any

import bentoml


@bentoml.service(workers=2, traffic={"timeout": 30})
class Predictor:
    def __init__(self) -> None:
        import torch

        from datawheel.registry.versions import load_model

        torch.set_num_threads(1)
        self.model = load_model("champion", workspace=os.environ["DW_BENCH_WORKSPACE"])

    @bentoml.api
    def predict(self, rows: list[dict[str, Any]]) -> list[list[float]]:
        return self.model.predict_proba(rows).tolist()
