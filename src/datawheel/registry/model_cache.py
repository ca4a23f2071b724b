"""A bounded cache of loaded model versions, owned by whoever serves them (not the process)."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from cachetools import LRUCache

from datawheel.errors import UsageError
from datawheel.registry.versions import ModelVersion, load_version_model
from datawheel.store.workspace import Workspace

if TYPE_CHECKING:
    from datawheel.train.bundle import TrainedModel

__all__ = ["ModelCache"]


class ModelCache:
    """The ``max_models`` most recently used models, by workspace, version and artifact.

    A server holds one: after a promotion the former shadow, and after a rollback the former
    champion, are served without reloading, while a long-lived process never accumulates every
    version it ever served. Thread-safe; a model is loaded outside the lock, so a slow load
    never blocks a hit on another version.
    """

    def __init__(self, max_models: int = 3) -> None:
        if max_models < 1:
            raise UsageError(f"max_models must be >= 1, got {max_models}")
        self._models: LRUCache[tuple[str, str, str], TrainedModel] = LRUCache(maxsize=max_models)
        self._lock = threading.Lock()
        self.loads = 0  # how many times a model was read from the artifact store

    def get(self, ws: Workspace, version: ModelVersion) -> TrainedModel:
        """The model of ``version``, loaded on a miss (evicting the least recently used)."""
        key = (ws.artifacts.location, version.id, version.artifact)
        with self._lock:
            model = self._models.get(key)
        if model is not None:
            return model
        model = load_version_model(ws, version)
        with self._lock:
            self.loads += 1
            return self._models.setdefault(key, model)

    def __len__(self) -> int:
        with self._lock:
            return len(self._models)
