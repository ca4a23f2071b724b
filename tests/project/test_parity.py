"""Train/serve parity: the same raw rows — outliers, missing values, unseen categories —
through the five paths a model is used by give the same probabilities: the evaluation,
/v1/predict on a real server, load_model().predict_proba, the shadow, and the ONNX bundle."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import polars as pl
import pytest
from sqlalchemy import select

from datawheel.project.evaluation import anonymize_rows
from datawheel.project.pipeline import Project
from datawheel.registry.candidate import assess_model
from datawheel.registry.version_export import export_version
from datawheel.registry.versions import (
    get_version,
    load_model,
    load_version_model,
    register_model,
    start_shadow,
)
from datawheel.serve.app import create_app
from datawheel.serve.background import BackgroundServer
from datawheel.serve.tenants import create_key, create_tenant
from datawheel.store.db import predictions, reading
from datawheel.train.export import INT8_TOLERANCE
from loop.helpers import income_rows  # tests/ is on sys.path (rootdir)
from waiting import wait_until

EXACT = 1e-6


def _awkward_rows(model: Any) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """Held-out raw rows, then copies pushed beyond the outlier fences, with gaps and with
    categories training never saw; returns the rows and where the special ones are."""
    pre = model.preprocessor
    base = income_rows(3000, 3012).to_dicts()
    fenced = [n for n, lo in zip(pre.columns.numeric, pre.lower_, strict=True) if lo > -np.inf]
    assert fenced, "the example's outlier settings fence at least one column"
    column = fenced[0]
    j = pre.columns.numeric.index(column)
    far, at_fence = dict(base[0]), dict(base[0])
    far[column] = float(pre.upper_[j]) * 10 + 100  # far beyond the upper fence
    at_fence[column] = float(pre.upper_[j])  # clipping must make these two identical
    low = dict(base[1], **{column: float(pre.lower_[j]) - 1000})
    gaps = dict(base[2], **{c: None for c in pre.columns.numeric[:3]})
    gaps.update({c: None for c in pre.columns.categorical[:2]})
    unseen = dict(base[3], workclass="Martian", occupation="Astronaut", native_country="Atlantis")
    everything = dict(far, workclass=None, occupation="Astronaut", hours_per_week=None)
    rows = [*base, far, at_fence, low, gaps, unseen, everything]
    n = len(base)
    return rows, {"far": n, "at_fence": n + 1}


def _server_probabilities(
    project: Project, ws: Any, rows: list[dict[str, Any]], target: str
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """/v1/predict on a real uvicorn server with a shadow version; (served, shadow, classes)."""
    create_tenant(ws, "parity", plan="pro", plans=list(project.config.serve.plans))
    key = create_key(ws, tenant="parity")
    app = create_app(project.config, project.open_workspace(actor="api"), refresh_seconds=0.1)
    server = BackgroundServer(app).start()
    try:
        body = {"rows": [{k: v for k, v in r.items() if k != target} for r in rows]}
        headers = {"Authorization": f"Bearer {key.secret}"}
        with httpx.Client(base_url=server.url, headers=headers, timeout=30) as client:
            response = client.post("/v1/predict", json=body)
        assert response.status_code == 200, response.text
        served = response.json()["predictions"]
        classes = list(served[0]["probabilities"])
        ids = [p["id"] for p in served]

        def logged() -> dict[str, dict[str, float]] | None:
            app.state.service.writer.flush()
            with reading(ws.engine) as conn:
                found = conn.execute(
                    select(predictions.c.request_id, predictions.c.probabilities).where(
                        predictions.c.shadow.is_(True), predictions.c.request_id.in_(ids)
                    )
                ).all()
            shadow = {r.request_id: r.probabilities for r in found}
            return shadow if len(shadow) == len(ids) else None

        # the shadow pass runs on the writer thread
        shadow = wait_until(logged, what="the shadow's predictions to be logged")
    finally:
        server.stop()
    table = np.array([[p["probabilities"][c] for c in classes] for p in served])
    shadowed = np.array([[shadow[i][c] for c in classes] for i in ids])
    return table, shadowed, classes


def _bundle_probabilities(bundle: Path, rows: list[dict[str, Any]], tmp_path: Path) -> np.ndarray:
    path = tmp_path / f"{bundle.name}.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows), encoding="utf-8")
    done = subprocess.run(
        [sys.executable, str(bundle / "predict.py"), str(path)],
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    )
    classes = json.loads((bundle / "preprocessing.json").read_text())["classes"]
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    return np.array([[line["probabilities"][c] for c in classes] for line in lines])


@pytest.mark.slow
@pytest.mark.e2e  # predict.py runs in its own process
def test_five_paths_when_awkward_rows_then_identical_probabilities(
    project_copy: Path, tmp_path: Path
) -> None:
    pytest.importorskip("onnxruntime")
    project = Project.load(project_copy)
    config, target = project.config, project.config.data.target
    ws = project.open_workspace()
    try:
        champion = get_version(ws, "champion")
        model = load_version_model(ws, champion)
        rows, at = _awkward_rows(model)
        # the shadow: the same weights as another version, served beside the champion
        twin = register_model(ws, model, dataset_id=champion.dataset_id, eval_dataset_id=None,
                              metrics={}, fairness={})  # fmt: skip
        start_shadow(ws, twin.id, reason="parity test")

        frame = anonymize_rows(project, ws, pl.DataFrame(rows, infer_schema_length=None))
        evaluated = assess_model(config, model, frame).pred  # 1. the evaluation's path
        anonymized = [{k: v for k, v in r.items() if k != target} for r in frame.to_dicts()]
        served, shadowed, classes = _server_probabilities(project, ws, rows, target)  # 2, 4
        loaded = load_model("champion", workspace=project.workspace_dir)  # 3.
        assert loaded.classes == classes == model.classes
        direct = loaded.predict_proba(anonymized)
        export_version(ws, "champion", tmp_path / "fp32", config=config)
        export_version(ws, "champion", tmp_path / "int8", int8=True, config=config)
    finally:
        ws.close()
    bundle = _bundle_probabilities(tmp_path / "fp32", anonymized, tmp_path)  # 5.
    int8 = _bundle_probabilities(tmp_path / "int8", anonymized, tmp_path)

    assert evaluated is not None and evaluated.shape == (len(rows), len(classes))
    assert evaluated[:, 0].std() > 0  # the rows really differ in what the model says
    for name, other in (("/v1/predict", served), ("load_model", direct), ("shadow", shadowed),
                        ("ONNX bundle", bundle)):  # fmt: skip
        diff = float(np.abs(other - evaluated).max())
        assert diff <= EXACT, f"{name} differs from the evaluation by {diff:.2e}"
    assert float(np.abs(int8 - evaluated).max()) <= INT8_TOLERANCE
    # clipping is part of the transform on every path: beyond the fence = at the fence
    for probabilities in (evaluated, served, direct, shadowed, bundle):
        np.testing.assert_allclose(probabilities[at["far"]], probabilities[at["at_fence"]],
                                   atol=EXACT)  # fmt: skip
