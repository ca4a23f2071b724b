"""What the web console shows from the offline half, joined here (layer 6) because the console,
like serve, never imports the loop: the alerts an operator must act on, model cards drawn in
the background, and "retrain now" as one forced turn of the loop."""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from datawheel.config import ProjectConfig
from datawheel.i18n.catalog import use_language
from datawheel.project.alerts import (
    NO_CHAMPION,
    NO_MODEL,
    drift_alerts,
    input_pii_alerts,
    retraining_alerts,
)
from datawheel.registry.privacy_policy import policy_alerts
from datawheel.registry.versions import ModelVersion, list_versions
from datawheel.store.workspace import Workspace

__all__ = ["ALERTS_SECONDS", "cached_alerts", "card_drawer", "retrain_now"]

log = logging.getLogger(__name__)
ALERTS_SECONDS = 30.0  # how stale the console's alerts may be
CARDS_KEPT = 8  # (version, language) cards held per worker


class _Alerts:
    """The champion's alerts as ``datawheel status`` words them (trained under an older privacy
    policy, needs retraining after an erasure, drifted features) and PII seen in model inputs,
    recomputed at most every ``every`` seconds. Advisory: a failure is logged and the last
    alerts are kept."""

    def __init__(
        self,
        ws: Workspace,
        config: ProjectConfig,
        drift: Callable[[], list[dict[str, Any]] | None] | None,
        every: float,
    ) -> None:
        self._ws, self._config, self._drift, self._every = ws, config, drift, every
        self._lock = threading.Lock()
        self._at = float("-inf")
        self._alerts: list[str] = []
        self._policy: dict[str, list[str]] = {}  # version id → its policy alerts (immutable)
        self.errors = 0

    def _policy_alerts(self, version: ModelVersion) -> list[str]:
        if version.id not in self._policy:  # a version trained before runs recorded the
            self._policy[version.id] = policy_alerts(self._ws, self._config, version)  # rules
        return self._policy[version.id]  # loads its model: once per worker

    def _compute(self) -> list[str]:
        versions = list_versions(self._ws)
        current = next((v for v in versions if v.stage == "champion"), None)
        if not versions:
            return [NO_MODEL]
        if current is None:
            return [NO_CHAMPION]
        alerts = retraining_alerts(current) + self._policy_alerts(current)
        for report in (self._drift() if self._drift is not None else None) or []:
            if report.get("version") == current.id and report.get("judged"):
                alerts += drift_alerts(current.id, report, self._config.loop.drift_psi_above)
        return alerts + input_pii_alerts(self._ws.engine)

    def __call__(self) -> list[str]:
        with self._lock:
            if time.monotonic() - self._at >= self._every:
                try:
                    self._alerts = self._compute()
                except Exception:  # advisory, like drift on /metrics: logged, last ones kept
                    self.errors += 1
                    log.exception("console alerts failed (%d failures in all)", self.errors)
                self._at = time.monotonic()
            return list(self._alerts)


def cached_alerts(
    ws: Workspace,
    config: ProjectConfig,
    drift: Callable[[], list[dict[str, Any]] | None] | None = None,
    *,
    every: float = ALERTS_SECONDS,
) -> Callable[[], list[str]]:
    """The console's alerts, recomputed at most every ``every`` seconds (see ``_Alerts``)."""
    return _Alerts(ws, config, drift, every)


class _Cards:
    """Model cards drawn on a background thread (evaluating a version and explaining it takes
    seconds): the first ask starts the drawing and answers None; later asks get the page. The
    last ``CARDS_KEPT`` (version, language) pages are kept. A card that cannot be drawn is a
    short page that says why, so the console stops waiting for it."""

    def __init__(self, ws: Workspace, config: ProjectConfig) -> None:
        self._ws, self._config = ws, config
        self._lock = threading.Lock()
        self._done: OrderedDict[tuple[str, str], str] = OrderedDict()
        self._drawing: set[tuple[str, str]] = set()

    def _draw(self, key: tuple[str, str]) -> None:
        from html import escape

        from datawheel.errors import DatawheelError
        from datawheel.project.evaluation import version_card

        version, lang = key
        try:
            with use_language(lang):
                html = version_card(self._ws, self._config, version)
        except Exception as exc:  # shown, not raised: the page must stop waiting
            if not isinstance(exc, DatawheelError):
                log.exception("the model card of %s failed", version)
            html = (
                f"<!doctype html><meta charset=utf-8><title>{escape(version)}</title>"
                f"<p>The card of {escape(version)} could not be drawn: {escape(str(exc))}</p>"
            )
        with self._lock:
            self._done[key] = html
            while len(self._done) > CARDS_KEPT:
                self._done.popitem(last=False)
            self._drawing.discard(key)

    def __call__(self, version: str, lang: str) -> str | None:
        key = (version, lang)
        with self._lock:
            if key in self._done:
                self._done.move_to_end(key)
                return self._done[key]
            if key not in self._drawing:
                self._drawing.add(key)
                threading.Thread(target=self._draw, args=(key,), daemon=True).start()
        return None


def card_drawer(ws: Workspace, config: ProjectConfig) -> Callable[[str, str], str | None]:
    """(version id, language) → the version's model card, or None while it is drawn."""
    return _Cards(ws, config)


def retrain_now(config: ProjectConfig) -> Callable[[Workspace], dict[str, Any]]:
    """One turn of the loop with ``force`` (``datawheel loop --once --force``) as the given
    workspace — the console's user, so the run, the gate and any promotion are audited under
    their name — summarised for the console's page."""

    def run(acting: Workspace) -> dict[str, Any]:
        from datawheel.loop.runner import run_once

        report = run_once(acting, config, force=True)
        return {
            "triggered": report.triggered,
            "reason": report.reason,
            "champion": report.champion,
            "challenger": report.challenger,
            "decision": report.decision,
            "reasons": report.reasons[:5],
            "seconds": round(report.seconds, 1),
        }

    return run
