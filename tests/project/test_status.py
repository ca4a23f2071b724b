"""`datawheel status`: live accuracy with its interval, per-feature drift, alerts."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from datawheel.cli.main import app
from datawheel.project.pipeline import Project
from datawheel.project.status import project_status
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
