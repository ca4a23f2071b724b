"""An app factory for ``uvicorn --factory``: each worker process builds its own app from the env."""

from __future__ import annotations

import os

from fastapi import FastAPI

from datawheel.config import load_config
from datawheel.serve.app import create_app
from datawheel.store.workspace import Workspace

__all__ = ["PROJECT_ENV", "WORKSPACE_ENV", "build"]

PROJECT_ENV = "DATAWHEEL_PROJECT_FILE"
WORKSPACE_ENV = "DATAWHEEL_SERVE_WORKSPACE"


def build() -> FastAPI:
    """Workers share state only through the database, so any number can run side by side."""
    from pathlib import Path

    import torch

    torch.set_num_threads(1)  # one core per worker: intra-op threads only add contention here

    project_file = Path(os.environ[PROJECT_ENV])
    config = load_config(project_file, check_source=False)
    ws = Workspace.open(os.environ[WORKSPACE_ENV], key_dir=project_file.parent, actor="api")
    return create_app(config, ws)
