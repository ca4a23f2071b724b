"""Layer 1: the workspace database, content-addressed artifacts, and the audit log.

The names below load on first use, so importing a light module of the package (``roles``,
which every command's permission check reads) does not pull in SQLAlchemy.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["ArtifactStore", "Workspace", "resolve_workspace_dir"]

_EXPORTS = {
    "ArtifactStore": "datawheel.store.artifacts",
    "Workspace": "datawheel.store.workspace",
    "resolve_workspace_dir": "datawheel.store.workspace",
}


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'datawheel.store' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])
