"""A regression project end to end: init --from, run, serve values with intervals, explain,
numeric feedback, live error in the loop, and a re-run through the gate."""

from __future__ import annotations

from pathlib import Path

import httpx
import numpy as np
import polars as pl
import pytest

from datawheel.loop.feedback import live_error
from datawheel.loop.runner import run_once
from datawheel.project.evaluation import evaluate_model
from datawheel.project.pipeline import Project
from datawheel.project.scaffold_from import init_from_file
from datawheel.project.status import project_status
from datawheel.serve.app import create_app
from datawheel.serve.background import BackgroundServer
from datawheel.serve.tenants import create_key, create_tenant
from in_process import run_main

pytestmark = pytest.mark.slow


def houses(path: Path, n: int = 900, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    area = rng.normal(80, 25, n).round(1)
    rooms = rng.integers(1, 7, n)
    city = rng.choice(["north", "south", "east"], n)
    price = area * 3000 + rooms * 10000 + (city == "north") * 50000 + rng.normal(0, 15000, n)
    gaps = pl.Series("area", area).scatter(np.flatnonzero(rng.random(n) < 0.05), None)
    pl.DataFrame({"listing_id": [f"L{i}" for i in range(n)], "area": gaps, "rooms": rooms,
                  "city": city, "price": price.round(0)}).write_csv(path)  # fmt: skip
    return path


@pytest.fixture
def regression_project(tmp_path: Path) -> Path:
    source = houses(tmp_path / "houses.csv")
    project_file, _ = init_from_file(tmp_path / "houses", source, target="price",
                                     id_column="listing_id")  # fmt: skip
    project_file.write_text(project_file.read_text().replace("epochs: 30", "epochs: 3"))
    return project_file


def test_regression_when_run_served_and_labeled_then_values_intervals_and_live_error(
    regression_project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = Project.load(regression_project)
    report = project.run()
    assert report.task == "regression" and report.stage == "champion"
    assert report.metrics["rmse"] < report.metrics["baseline"]["rmse"]  # beats the mean
    assert {c["family"] for c in report.selection["candidates"]} == {"linear", "gbm", "mlp"}

    ws = project.open_workspace()
    create_tenant(ws, "acme", plan="pro", plans=["free", "pro"])
    key = create_key(ws, tenant="acme")
    server = BackgroundServer(create_app(project.config, project.open_workspace(actor="api")))
    server.start()
    try:
        headers = {"Authorization": f"Bearer {key.secret}"}
        with httpx.Client(base_url=server.url, headers=headers, timeout=30) as client:
            # area had gaps in training: it may be left out of a request
            row = {"rooms": 3, "city": "north"}
            answer = client.post("/v1/predict", json={"rows": [row, {**row, "area": 90.0}]})
            assert answer.status_code == 200, answer.text
            first = answer.json()["predictions"][1]
            low, high = first["interval"]
            assert low < first["value"] < high
            bad = client.post("/v1/feedback", json={"prediction_id": first["id"], "label": "n/a"})
            assert bad.status_code == 422
            good = client.post("/v1/feedback", json={"prediction_id": first["id"],
                                                     "label": first["value"] + 1000.0})  # fmt: skip
            assert good.status_code == 201, good.text
            explained = client.post("/v1/explain", json={"rows": [{**row, "area": 90.0}]})
            entry = explained.json()["explanations"][0]
            assert entry["label"] is None and entry["scale"] in ("value", None)
            total = entry["base_value"] + sum(entry["values"].values())
            assert total == pytest.approx(first["value"], rel=1e-4)
    finally:
        server.stop()
    evaluated = evaluate_model(project, ws, report=regression_project.parent / "card.html")
    assert (
        evaluated.intervals["rmse"][0]
        <= evaluated.metrics["rmse"]
        <= evaluated.intervals["rmse"][1]
    )
    card = (regression_project.parent / "card.html").read_text()
    for heading in ("Residuals", "Candidate models", "mean baseline", "split conformal"):
        assert heading in card
    live = live_error(ws, report.model_version)
    assert live.labeled == 1 and live.rmse == pytest.approx(1000.0, rel=1e-6)
    # status shows a regression's live error, not an accuracy of exact float matches
    served = next(
        v for v in project_status(ws, project.config)["versions"] if v["id"] == live.model_version
    )
    assert served["live_metric"] == "rmse" and served["live_accuracy"] is None
    assert served["live_value"] == pytest.approx(1000.0, rel=1e-6) and served["labeled"] == 1
    monkeypatch.setenv("COLUMNS", "200")
    shown = run_main("status", "-c", str(regression_project), cwd=regression_project.parent)
    assert shown.returncode == 0 and "live rmse (30d)" in shown.stdout, shown.stdout
    assert "1000" in shown.stdout and "live accuracy" not in shown.stdout
    loop = run_once(ws, project.config)
    assert "live rmse" in loop.reason or "labeled feedback rows" in loop.reason
    ws.close()

    again = Project.load(regression_project).run()  # a re-run is a challenger at the gate
    assert again.gate["decision"] in ("promote", "reject")
    assert any("rmse" in reason for reason in again.gate["reasons"])
