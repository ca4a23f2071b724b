"""The MLflow mirror: with MLFLOW_TRACKING_URI set, a training run appears in MLflow too."""

from __future__ import annotations

from pathlib import Path

import pytest

from datawheel.project.pipeline import Project

mlflow = pytest.importorskip("mlflow", reason="the MLflow mirror needs mlflow (or mlflow-skinny)")


def test_run_when_tracking_uri_set_then_params_and_epoch_metrics_in_mlflow(
    project_copy: Path, tmp_path: Path, monkeypatch
):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    report = Project.load(project_copy).run()
    client = mlflow.tracking.MlflowClient(tracking_uri=uri)
    experiment = client.get_experiment_by_name("income")
    runs = client.search_runs([experiment.experiment_id])
    assert len(runs) == 1
    run = runs[0]
    assert run.info.status == "FINISHED"
    assert run.data.tags["datawheel.kind"] == "train"
    assert any(key.startswith("train.") for key in run.data.params)
    assert abs(run.data.metrics["accuracy"] - report.metrics["accuracy"]) < 1e-9
    history = client.get_metric_history(run.info.run_id, "val_loss")
    assert len(history) >= 1
