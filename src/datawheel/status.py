"""``datawheel status``: model versions with live accuracy, and the alerts a team should see."""

from __future__ import annotations

from typing import Any

from datawheel.config import ProjectConfig
from datawheel.loop.feedback import live_accuracy
from datawheel.registry import list_versions
from datawheel.store.audit import verify
from datawheel.store.workspace import Workspace

__all__ = ["project_status"]


def project_status(ws: Workspace, config: ProjectConfig) -> dict[str, Any]:
    """Versions (newest first) with stage, offline and live accuracy, plus alerts."""
    versions = []
    alerts: list[str] = []
    for version in reversed(list_versions(ws)):
        live = live_accuracy(ws, version.id)
        versions.append(
            {
                "id": version.id,
                "stage": version.stage,
                "accuracy": version.metrics.get("accuracy", 0.0),
                "fairness_gap": version.metrics.get("fairness_gap", 0.0),
                "live_accuracy": live.accuracy,
                "labeled": live.labeled,
                "live_interval": [live.low, live.high],
                "created_at": version.created_at,
                "needs_retraining": version.needs_retraining,
            }
        )
        if version.stage == "champion":
            if version.needs_retraining:
                alerts.append(
                    f"{version.id} needs retraining (a subject it learned from was erased)"
                )
            if (
                live.accuracy is not None
                and live.labeled >= config.loop.min_labeled_feedback
                and live.accuracy < config.loop.accuracy_below
            ):
                alerts.append(
                    f"{version.id} live accuracy {live.accuracy:.4f} is below "
                    f"{config.loop.accuracy_below:g} — run `datawheel loop --once`"
                )
    if not versions:
        alerts.append("no model yet — run `datawheel run`")
    chain = verify(ws.engine)
    if not chain.ok:
        alerts.append(f"audit log broken: {chain.problem}")
    return {
        "project": config.name,
        "versions": versions,
        "alerts": alerts,
        "audit": {"ok": chain.ok, "entries": chain.entries},
    }
