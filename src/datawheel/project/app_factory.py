"""The app factory ``datawheel serve`` hands to uvicorn: each worker builds its own app.

It lives above serve/ and loop/ (layer 6) because it joins them: the online app plus the
offline half's drift gauges on ``/metrics``. Workers share state only through the database.
"""

from __future__ import annotations

import gc
import logging
import os
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from fastapi import FastAPI

from datawheel.config import LoopConfig, ProjectConfig, load_config
from datawheel.console.app import PREFIX, create_console
from datawheel.loop.drift import feature_drift, prometheus_drift_lines
from datawheel.project.console_feeds import cached_alerts, card_drawer, retrain_now
from datawheel.registry.versions import list_versions
from datawheel.store.drift_days import record_drift
from datawheel.store.workspace import Workspace

__all__ = [
    "CONSOLE_ENV",
    "PROJECT_ENV",
    "WORKSPACE_ENV",
    "build",
    "cached_drift_lines",
    "cached_drift_reports",
    "mount_console",
]

PROJECT_ENV = "DATAWHEEL_PROJECT_FILE"
CONSOLE_ENV = "DATAWHEEL_CONSOLE"  # "0": serve without the web console (`--no-console`)
WORKSPACE_ENV = "DATAWHEEL_SERVE_WORKSPACE"
DRIFT_REFRESH_SECONDS = 60.0  # each computation reads up to a thousand logged requests

log = logging.getLogger(__name__)


class _DriftGauges:
    """Drift gauges recomputed at most every ``every`` seconds. Drift is advisory, so a failure
    never fails ``/metrics``: it is logged, counted in ``datawheel_drift_errors_total``, and its
    gauges are left out (stale numbers would look current) until a later computation works."""

    def __init__(self, ws: Workspace, policy: LoopConfig, every: float) -> None:
        self._ws, self._policy, self._every = ws, policy, every
        self._lock = threading.Lock()
        self._at = float("-inf")
        self._lines: list[str] = []
        self.errors = 0

    def __call__(self) -> Iterable[str]:
        with self._lock:
            if time.monotonic() - self._at >= self._every:
                try:
                    self._lines = prometheus_drift_lines(self._ws, self._policy)
                except Exception:  # any cause: the database, a model, the data — all advisory
                    self.errors += 1
                    log.exception("drift gauges failed (%d failures in all)", self.errors)
                    self._lines = []
                self._at = time.monotonic()
            return [
                *self._lines,
                "# HELP datawheel_drift_errors_total Failed drift computations (each logged).",
                "# TYPE datawheel_drift_errors_total counter",
                f"datawheel_drift_errors_total {self.errors}",
            ]


def cached_drift_lines(
    ws: Workspace, policy: LoopConfig, *, every: float = DRIFT_REFRESH_SECONDS
) -> Callable[[], Iterable[str]]:
    """Drift gauges for ``/metrics``, recomputed at most every ``every`` seconds; see
    ``_DriftGauges`` for what a failure does."""
    return _DriftGauges(ws, policy, every)


class _DriftReports:
    """Per-feature drift of the served versions for the console, recomputed at most every
    ``every`` seconds in a background thread (a computation reads up to a thousand logged
    requests and takes seconds on a big log): a page view never waits for it. Until the first
    computation ends the console shows none, and says so."""

    def __init__(self, ws: Workspace, policy: LoopConfig, every: float) -> None:
        self._ws, self._policy, self._every = ws, policy, every
        self._lock = threading.Lock()
        self._at = float("-inf")
        self._running = False
        self._reports: list[dict[str, Any]] | None = None

    def _compute(self) -> None:
        try:
            served = [v for v in list_versions(self._ws) if v.stage in ("champion", "shadow")]
            reports = [feature_drift(self._ws, v, self._policy).to_dict() for v in served]
            record_drift(self._ws.engine, reports)  # the console's drift over time
        except Exception:  # advisory, as on /metrics: logged, the last figures kept
            log.exception("drift reports for the console failed")
            reports = self._reports or []
        with self._lock:
            self._reports, self._running = reports, False

    def __call__(self) -> list[dict[str, Any]] | None:
        """The latest reports, or None while the first computation runs."""
        with self._lock:
            if not self._running and time.monotonic() - self._at >= self._every:
                self._running, self._at = True, time.monotonic()
                threading.Thread(target=self._compute, daemon=True).start()
            return self._reports


def cached_drift_reports(
    ws: Workspace, policy: LoopConfig, *, every: float = DRIFT_REFRESH_SECONDS
) -> Callable[[], list[dict[str, Any]] | None]:
    """Drift reports (``DriftReport.to_dict()``) of the champion and shadow for the console."""
    return _DriftReports(ws, policy, every)


def mount_console(app: FastAPI, config: ProjectConfig, ws: Workspace) -> None:
    """Mount the web console at ``/console``, fed from here what the offline half knows (the
    console, like serve, never imports the loop): drift, alerts, model cards and the "retrain
    now" action."""
    drift = cached_drift_reports(ws, config.loop)
    app.mount(
        PREFIX,
        create_console(
            config,
            ws,
            input_schema=app.state.service.validator.schema,
            drift=drift,
            alerts=cached_alerts(ws, config, drift),
            card=card_drawer(ws, config),
            retrain=retrain_now(config),
        ),
    )


def build() -> FastAPI:
    """The app for the project and workspace named in the environment."""
    import torch

    # imported here, in the worker: `datawheel serve` reads this module's names before it sets
    # the metrics directory, which prometheus_client (under serve.app) reads once, at import
    from datawheel.serve.app import create_app

    torch.set_num_threads(1)  # one core per worker: intra-op threads only add contention here
    project_file = Path(os.environ[PROJECT_ENV])
    config = load_config(project_file, check_source=False)
    ws = Workspace.open(os.environ[WORKSPACE_ENV], key_dir=project_file.parent, actor="api")
    app = create_app(config, ws, extra_metrics=cached_drift_lines(ws, config.loop))
    if os.environ.get(CONSOLE_ENV, "1") != "0":
        mount_console(app, config, ws)
    # Everything loaded so far (torch, the model, the app) lives as long as the worker: freezing
    # it keeps the collector's full passes, tens of ms with torch loaded, off the request tail.
    gc.collect()
    gc.freeze()
    return app
