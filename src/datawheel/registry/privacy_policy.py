"""Is the champion still allowed under the current privacy policy? A model trained before a
column got a rule read that column's raw values; `status` says so until it is retrained."""

from __future__ import annotations

from typing import Any

from datawheel.config import ProjectConfig
from datawheel.errors import NotFoundError
from datawheel.i18n.catalog import N_
from datawheel.registry.versions import ModelVersion, load_version_model
from datawheel.store.runs import get_run
from datawheel.store.workspace import Workspace

__all__ = ["policy_alerts"]


def _rule_name(rule: Any) -> str:
    return rule if isinstance(rule, str) else next(iter(rule), "") if rule else ""


def policy_alerts(ws: Workspace, config: ProjectConfig, version: ModelVersion) -> list[str]:
    """One alert per column the version reads (or was trained under) against today's rules."""
    current = config.privacy.columns
    alerts = []
    for column in version.input_schema:
        rule = _rule_name(current.get(column, "keep"))
        if rule != "keep":
            alerts.append(
                N_(
                    f"{version.id} was trained on column {column!r} as a feature, which the "
                    f"current privacy policy rules {rule!r}: retrain (`datawheel run` or "
                    f"`datawheel loop --once --force`) before serving it on"
                )
            )
    trained_under = _trained_under(ws, version)
    if trained_under is not None:
        changed = sorted(
            c for c in set(trained_under) | set(current)
            if trained_under.get(c) != current.get(c) and c not in version.input_schema
        )  # fmt: skip
        stricter = [c for c in changed if _rule_name(current.get(c, "keep")) != "keep"]
        if stricter:
            alerts.append(
                N_(
                    f"{version.id} was trained under an older privacy policy "
                    f"(rules changed for {', '.join(stricter)}): retrain to apply the current one"
                )
            )
    return alerts


def _trained_under(ws: Workspace, version: ModelVersion) -> dict[str, Any] | None:
    """The privacy rules the version was trained under: from its run's parameters (a database
    read), or — for a version trained before runs recorded them — from the model itself, which
    loads torch (`status` stays light for every version trained since)."""
    try:
        params = get_run(ws, version.run_id).params if version.run_id else {}
    except NotFoundError:
        params = {}
    if "privacy" in params:
        return dict(params["privacy"])
    privacy = load_version_model(ws, version).extras.get("privacy")
    return dict(privacy) if privacy is not None else None
