"""The uvicorn factory: the served app exposes the offline half's drift gauges on /metrics."""

from __future__ import annotations

from pathlib import Path

import httpx

from datawheel.project.app_factory import PROJECT_ENV, WORKSPACE_ENV, build
from datawheel.project.pipeline import Project
from datawheel.serve.background import BackgroundServer


def test_build_when_served_then_metrics_include_drift_gauges(project_copy: Path, monkeypatch):
    project = Project.load(project_copy)
    monkeypatch.setenv(PROJECT_ENV, str(project.path))
    monkeypatch.setenv(WORKSPACE_ENV, str(project.workspace_dir))
    with BackgroundServer(build()) as server:
        body = httpx.get(f"{server.url}/metrics").text
    assert "# TYPE datawheel_feature_psi gauge" in body
    assert 'datawheel_drift_recent_rows{version="v1"} 0' in body
