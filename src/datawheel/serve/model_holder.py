"""The served champion (and shadow): loaded once, swapped live when the registry changes."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from datawheel.errors import IntegrityError, NotFoundError, UsageError
from datawheel.registry.model_cache import ModelCache
from datawheel.registry.versions import get_version, load_version_model
from datawheel.store.roles import require
from datawheel.store.workspace import Workspace
from datawheel.train.bundle import TrainedModel

__all__ = ["ModelHolder", "preflight"]

log = logging.getLogger(__name__)


def preflight(ws: Workspace) -> str:
    """What ``datawheel serve`` checks before starting workers: the role may serve, the secret
    key is the workspace's, and the champion exists and loads. Returns its version id.

    A champion that does not load (a corrupted or missing file) stops here with one line:
    workers that failed at start-up would be restarted by uvicorn forever.
    """
    require(ws, "serve")
    ws.secret_key()
    version = get_version(ws, "champion")  # no model yet: NotFoundError with a hint
    try:
        load_version_model(ws, version)
    except NotFoundError as exc:
        raise IntegrityError(
            f"the champion {version.id} cannot be loaded: {exc.message}",
            hint="restore the workspace's artifacts, or `datawheel models rollback`",
        ) from None
    except (IntegrityError, UsageError) as exc:
        raise IntegrityError(
            f"the champion {version.id} cannot be loaded: {exc.message}",
            hint="`datawheel models rollback` to serve the previous version, or retrain",
        ) from None
    return version.id


class ModelHolder:
    """Checks the registry at most every ``refresh_seconds``; a promotion or rollback is served
    from the next batch on, with no restart and no request failing in between.

    ``start()`` moves the check to a background thread, so requests never wait on the registry.
    The pair (version, model) is replaced in one assignment: a batch sees the old or the new.
    Loaded models live in the holder's own ``ModelCache`` (``max_models``: the champion, a
    shadow, and the one before, so a promotion or rollback swaps without reloading).
    """

    def __init__(
        self,
        ws: Workspace,
        *,
        stage: str = "champion",
        refresh_seconds: float = 0.5,
        clock: Callable[[], float] = time.monotonic,
        max_models: int = 3,
        on_error: Callable[[str], None] | None = None,
    ):
        self._on_error = on_error  # hears of a failed background refresh (it is also logged)
        self._ws = ws
        self.models = ModelCache(max_models)
        self._stage = stage
        self._refresh = refresh_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._checked_at = float("-inf")
        self._served: tuple[str, TrainedModel] | None = None
        self._shadow: tuple[str, TrainedModel] | None = None
        self._polling = False
        self._stop = threading.Event()

    def current(self) -> tuple[str, TrainedModel]:
        """(version id, model) — the registry's current champion, loading it if it changed."""
        if not self._polling and self._clock() - self._checked_at >= self._refresh:
            self.refresh()
        served = self._served
        if served is None:
            self.refresh()
            served = self._served
        assert served is not None
        return served

    def shadow(self) -> tuple[str, TrainedModel] | None:
        """The version in stage ``shadow`` (run beside the champion, never returned), if any."""
        return self._shadow

    def refresh(self) -> None:
        with self._lock:
            version = get_version(self._ws, self._stage)
            if self._served is None or version.id != self._served[0]:
                self._served = (version.id, self.models.get(self._ws, version))
            try:
                shadow = get_version(self._ws, "shadow")
            except NotFoundError:
                self._shadow = None
            else:
                if self._shadow is None or shadow.id != self._shadow[0]:
                    self._shadow = (shadow.id, self.models.get(self._ws, shadow))
            self._checked_at = self._clock()

    def start(self) -> ModelHolder:
        """Refresh in a daemon thread every ``refresh_seconds``."""
        self._polling = True
        threading.Thread(target=self._poll, name="datawheel-models", daemon=True).start()
        return self

    def stop(self) -> None:
        self._stop.set()

    def _poll(self) -> None:
        while not self._stop.wait(self._refresh):
            try:
                self.refresh()
            except Exception:  # keep serving the last good model; try again next tick
                log.exception("model refresh failed; serving the last good model")
                if self._on_error is not None:
                    self._on_error("model_refresh")
