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


def test_drift_gauges_when_computation_fails_then_logged_counted_and_metrics_still_answer(
    sqlite_workspace, caplog
):
    import logging

    from sqlalchemy import text

    from datawheel.config import LoopConfig
    from datawheel.project.app_factory import cached_drift_lines

    gauges = cached_drift_lines(sqlite_workspace, LoopConfig(), every=0.0)
    assert "datawheel_drift_errors_total 0" in list(gauges())
    with sqlite_workspace.engine.begin() as conn:  # the registry becomes unreadable
        conn.execute(text("ALTER TABLE model_versions RENAME TO model_versions_away"))
    with caplog.at_level(logging.ERROR, logger="datawheel.project.app_factory"):
        lines = list(gauges())
    assert "datawheel_drift_errors_total 1" in lines
    assert not any(line.startswith("datawheel_feature_psi") for line in lines)
    assert any("drift gauges failed" in r.getMessage() for r in caplog.records)


def test_build_when_console_on_or_off_then_console_is_mounted_or_absent(
    project_copy: Path, monkeypatch
):
    from datawheel.project.app_factory import CONSOLE_ENV

    project = Project.load(project_copy)
    monkeypatch.setenv(PROJECT_ENV, str(project.path))
    monkeypatch.setenv(WORKSPACE_ENV, str(project.workspace_dir))
    with BackgroundServer(build()) as server:
        login = httpx.get(f"{server.url}/console/login")
        docs = httpx.get(f"{server.url}/docs")
        script = httpx.get(f"{server.url}/docs/static/swagger-ui-bundle.js")
    assert login.status_code == 200 and 'name="password"' in login.text
    assert "default-src 'self'" in login.headers["content-security-policy"]
    assert docs.status_code == 200 and "/docs/static/swagger-ui-bundle.js" in docs.text
    assert "cdn" not in docs.text.lower() and script.status_code == 200
    monkeypatch.setenv(CONSOLE_ENV, "0")
    with BackgroundServer(build()) as server:
        assert httpx.get(f"{server.url}/console/login").status_code == 404
        assert httpx.get(f"{server.url}/docs").status_code == 200
