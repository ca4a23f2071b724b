"""`datawheel status`: versions compared on the same rows, live accuracy with its interval,
per-feature drift, the split, alerts."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from datawheel.cli.main import app
from datawheel.project.pipeline import Project
from datawheel.project.status import project_status
from datawheel.registry.candidate import assess_model
from datawheel.registry.versions import get_version, load_version_model, register_model
from datawheel.store.datasets import load_frame
from loop.helpers import income_rows, serve_and_label  # tests/ is on sys.path (rootdir)


def test_status_when_shifted_traffic_with_labels_then_drift_and_accuracy_shown(project_copy):
    project = Project.load(project_copy)
    with project.open_workspace() as ws:
        rows = income_rows(2000, 8000)
        serve_and_label(ws, project.config, rows.filter(rows["age"] >= 50).head(250))
        state = project_status(ws, project.config)
    (v1,) = state["versions"]
    assert v1["labeled"] == 250 and v1["live_window"] == "30d"
    low, high = v1["live_interval"]
    assert low <= v1["live_accuracy"] <= high
    assert "age" in state["drift"]["drifted"]
    assert any("'age' drifted" in a for a in state["alerts"])
    assert state["audit"]["ok"] and state["retraining"] is None

    result = CliRunner().invoke(app, ["status", "-c", str(project_copy)])
    assert result.exit_code == 0, result.output
    assert "PSI" in result.output and "drifted" in result.output  # the narrow test console wraps
    as_json = CliRunner().invoke(app, ["status", "-c", str(project_copy), "--json"])
    assert json.loads(as_json.output)["drift"]["version"] == "v1"


def test_status_when_tuned_file_named_then_shown_and_a_stray_one_alerted(project_copy):
    from datawheel.config import reference_tuned

    stray = project_copy.with_name("datawheel.tuned.yaml")
    stray.write_text("train: {lr: 0.5}\n")  # beside the project file, named by nothing
    state = json.loads(
        CliRunner().invoke(app, ["status", "-c", str(project_copy), "--json"]).output
    )
    assert state["tuned"] is None
    assert any("datawheel.tuned.yaml is not used" in a for a in state["alerts"])

    stray.unlink()
    project_copy.with_name("best.yaml").write_text("train: {lr: 0.002}\nmodel: {dropout: 0.3}\n")
    reference_tuned(project_copy, "best.yaml")
    as_json = CliRunner().invoke(app, ["status", "-c", str(project_copy), "--json"])
    state = json.loads(as_json.output)
    assert state["tuned"]["values"] == {"train.lr": 0.002, "model.dropout": 0.3}
    assert state["tuned"]["file"].endswith("best.yaml")
    assert not any("tuned" in a for a in state["alerts"])
    shown = CliRunner().invoke(app, ["status", "-c", str(project_copy)])
    assert shown.exit_code == 0 and "tuned settings from" in shown.output
    assert "train.lr=0.002" in shown.output.replace("\n", "")


def test_status_when_versions_then_compared_on_the_same_rows_only(project_copy):
    project = Project.load(project_copy)
    ws = project.open_workspace()
    try:
        v1 = get_version(ws, "v1")
        model = load_version_model(ws, v1)
        # v2: the same weights, recorded as trained on v1's test rows (a later run's split)
        register_model(ws, model, dataset_id=v1.eval_dataset_id, eval_dataset_id=None,
                       metrics={}, fairness={})  # fmt: skip
        # v3: scored on the champion's rows like v1
        register_model(ws, model, dataset_id=v1.dataset_id, eval_dataset_id=None,
                       metrics={}, fairness={})  # fmt: skip
        state = project_status(ws, project.config)
        expected = assess_model(project.config, model, load_frame(ws, v1.eval_dataset_id))
    finally:
        ws.close()
    assert state["compared_on"]["dataset"] == v1.eval_dataset_id
    assert state["compared_on"]["metric"] == "roc_auc"
    scores = {v["id"]: v["compared"] for v in state["versions"]}
    assert scores["v1"]["value"] == pytest.approx(expected.primary["value"])
    assert scores["v3"]["value"] == scores["v1"]["value"]  # same model, same rows, same number
    assert scores["v2"]["value"] is None and "not comparable" in scores["v2"]["note"]
    assert state["split"]["method"] in ("grouped", "stratified", "time")

    result = CliRunner(env={"COLUMNS": "200"}).invoke(app, ["status", "-c", str(project_copy)])
    assert result.exit_code == 0, result.output
    assert "roc_auc on the same" in result.output and "not comparable" in result.output
    assert "champion's split" in result.output


def test_status_when_scored_once_then_read_back_until_the_settings_change(project_copy):
    project = Project.load(project_copy)
    with project.open_workspace() as ws:
        first = project_status(ws, project.config)["versions"][0]["compared"]
        cached = sorted((ws.root / "cache" / "compared").glob("*.json"))
        assert len(cached) == 1  # one version, one table, one set of settings
        # the cache is what status reads: a planted number comes back
        planted = json.loads(cached[0].read_text()) | {"value": 0.123}
        cached[0].write_text(json.dumps(planted))
        assert project_status(ws, project.config)["versions"][0]["compared"]["value"] == 0.123

        changed = project.config.model_copy(deep=True)
        changed.evaluate.metric = "accuracy"
        again = project_status(ws, changed)["versions"][0]["compared"]
    assert again["metric"] == "accuracy" and again["value"] != 0.123
    assert first["metric"] == "roc_auc"
    assert len(list((ws.root / "cache" / "compared").glob("*.json"))) == 2
