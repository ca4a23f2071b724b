"""The served champion: loaded once, swapped live when the registry names a new one."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from datawheel.registry import get_version, load_version_model
from datawheel.store.workspace import Workspace
from datawheel.train.bundle import TrainedModel

__all__ = ["ModelHolder"]


class ModelHolder:
    """Checks the registry at most every ``refresh_seconds``; a promotion or rollback is served
    from the next request on, with no restart and no request failing in between."""

    def __init__(
        self,
        ws: Workspace,
        *,
        stage: str = "champion",
        refresh_seconds: float = 0.5,
        clock: Callable[[], float] = time.monotonic,
    ):
        self._ws = ws
        self._stage = stage
        self._refresh = refresh_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._checked_at = float("-inf")
        self._version: str | None = None
        self._model: TrainedModel | None = None

    def current(self) -> tuple[str, TrainedModel]:
        """(version id, model) — the registry's current champion, loading it if it changed."""
        now = self._clock()
        if self._model is None or now - self._checked_at >= self._refresh:
            with self._lock:
                if self._model is None or now - self._checked_at >= self._refresh:
                    version = get_version(self._ws, self._stage)
                    if version.id != self._version:
                        self._model = load_version_model(self._ws, version)
                        self._version = version.id
                    self._checked_at = now
        assert self._model is not None and self._version is not None
        return self._version, self._model
