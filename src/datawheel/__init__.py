"""datawheel — a privacy-first data flywheel: clean, anonymize, train, evaluate, serve, learn.

The public API is imported lazily, so ``import datawheel`` and ``datawheel --help`` stay fast.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    "Project": "datawheel.project.pipeline",
    "RunReport": "datawheel.project.pipeline",
    "load_model": "datawheel.registry.versions",
    "dedup": "datawheel.data.dedup",
    "scan_pii": "datawheel.privacy.scan",
    "load_config": "datawheel.config",
    "ProjectConfig": "datawheel.config",
    "Workspace": "datawheel.store.workspace",
    "DatawheelError": "datawheel.errors",
    "Client": "datawheel.client",
    "AsyncClient": "datawheel.client",
    "ApiError": "datawheel.client",
}

__all__ = sorted([*_EXPORTS, "__version__"])


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'datawheel' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
