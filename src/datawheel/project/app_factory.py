"""The app factory ``datawheel serve`` hands to uvicorn: each worker builds its own app.

It lives above serve/ and loop/ (layer 6) because it joins them: the online app plus the
offline half's drift gauges on ``/metrics``. Workers share state only through the database.
"""

from __future__ import annotations

import gc
import os
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from fastapi import FastAPI

from datawheel.config import LoopConfig, load_config
from datawheel.loop.drift import prometheus_drift_lines
from datawheel.serve.app import create_app
from datawheel.store.workspace import Workspace

__all__ = ["PROJECT_ENV", "WORKSPACE_ENV", "build", "cached_drift_lines"]

PROJECT_ENV = "DATAWHEEL_PROJECT_FILE"
WORKSPACE_ENV = "DATAWHEEL_SERVE_WORKSPACE"
DRIFT_REFRESH_SECONDS = 60.0  # each computation reads up to a thousand logged requests


def cached_drift_lines(
    ws: Workspace, policy: LoopConfig, *, every: float = DRIFT_REFRESH_SECONDS
) -> Callable[[], Iterable[str]]:
    """Drift gauges recomputed at most every ``every`` seconds; a failure yields no lines."""
    lock = threading.Lock()
    state: dict[str, object] = {"at": float("-inf"), "lines": []}

    def lines() -> Iterable[str]:
        with lock:
            if time.monotonic() - float(state["at"]) >= every:  # type: ignore[arg-type]
                try:
                    state["lines"] = prometheus_drift_lines(ws, policy)
                except Exception:  # drift is advisory: never fail /metrics over it
                    state["lines"] = []
                state["at"] = time.monotonic()
            return list(state["lines"])  # type: ignore[arg-type]

    return lines


def build() -> FastAPI:
    """The app for the project and workspace named in the environment."""
    import torch

    torch.set_num_threads(1)  # one core per worker: intra-op threads only add contention here
    project_file = Path(os.environ[PROJECT_ENV])
    config = load_config(project_file, check_source=False)
    ws = Workspace.open(os.environ[WORKSPACE_ENV], key_dir=project_file.parent, actor="api")
    app = create_app(config, ws, extra_metrics=cached_drift_lines(ws, config.loop))
    # Everything loaded so far (torch, the model, the app) lives as long as the worker: freezing
    # it keeps the collector's full passes, tens of ms with torch loaded, off the request tail.
    gc.collect()
    gc.freeze()
    return app
