"""Optional MLflow mirror of a run: on when MLFLOW_TRACKING_URI is set and mlflow imports."""

from __future__ import annotations

import json
import os
from typing import Any

__all__ = ["MlflowTracker"]


def _flat(prefix: str, value: Any, out: dict[str, str]) -> dict[str, str]:
    """Nested params → ``a.b.c`` keys with short string values (MLflow's param limits)."""
    if isinstance(value, dict):
        for key, item in value.items():
            _flat(f"{prefix}.{key}" if prefix else str(key), item, out)
    else:
        out[prefix] = (value if isinstance(value, str) else json.dumps(value, default=str))[:500]
    return out


class MlflowTracker:
    """Logs the same params, per-epoch metrics and final metrics as the workspace run.

    ``start`` returns None when tracking is off, so callers write ``if tracker:``. MLflow
    failures never fail training: the workspace run is the record, MLflow a mirror.
    """

    def __init__(self, mlflow: Any, run: Any) -> None:
        self._mlflow = mlflow
        self._run = run

    @classmethod
    def start(cls, experiment: str, kind: str, params: dict[str, Any]) -> MlflowTracker | None:
        if not os.environ.get("MLFLOW_TRACKING_URI"):
            return None
        try:
            import mlflow
        except ImportError:
            return None
        mlflow.set_experiment(experiment)
        run = mlflow.start_run(run_name=kind, tags={"datawheel.kind": kind})
        mlflow.log_params(_flat("", params, {}))
        return cls(mlflow, run)

    def log_epoch(self, row: dict[str, float]) -> None:
        """Per-epoch metrics, stepped by epoch; never asks the trainer to stop."""
        step = int(row.get("epoch", 0))
        metrics = {k: float(v) for k, v in row.items() if k != "epoch" and v == v}  # drop NaN
        self._mlflow.log_metrics(metrics, step=step)

    def end(self, status: str, metrics: dict[str, Any]) -> None:
        numbers = {k: float(v) for k, v in metrics.items() if isinstance(v, int | float) and v == v}
        if numbers:
            self._mlflow.log_metrics(numbers)
        self._mlflow.end_run(status=status)
