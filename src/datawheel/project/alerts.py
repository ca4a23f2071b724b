"""The alerts an operator must act on, worded once for ``datawheel status`` and the console."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine

from datawheel.i18n.catalog import N_
from datawheel.registry.versions import ModelVersion
from datawheel.serve.input_pii import input_pii_warnings

__all__ = ["NO_CHAMPION", "NO_MODEL", "drift_alerts", "input_pii_alerts", "retraining_alerts"]

# N_: in the catalog; the console translates them where it shows them (the CLI as it prints)
NO_MODEL = N_("no model yet — run `datawheel run`")
NO_CHAMPION = N_("no champion: the last run failed its gate — see `datawheel models list`")


def retraining_alerts(version: ModelVersion) -> list[str]:
    """A version that learned from an erased subject."""
    if version.needs_retraining:
        return [N_(f"{version.id} needs retraining (a subject it learned from was erased)")]
    return []


def drift_alerts(version_id: str, drift: dict[str, Any], threshold: float) -> list[str]:
    """One alert per drifted feature of a ``DriftReport.to_dict()``."""
    alerts = []
    for name in drift.get("drifted", []):
        psi = next(f["psi"] for f in drift["features"] if f["feature"] == name)
        alerts.append(N_(f"{version_id} feature {name!r} drifted: PSI {psi:.3f} > {threshold:g}"))
    return alerts


def input_pii_alerts(engine: Engine) -> list[str]:
    """Model input fields that received PII-looking text no privacy rule covers."""
    return [
        N_(
            f"model input field {name!r} received text that looks like PII "
            f"({', '.join(seen['types'])}) since {seen['first_seen'][:10]}: it reaches the "
            f"model and the prediction log as sent — add a privacy.columns rule for {name}"
        )
        for name, seen in sorted(input_pii_warnings(engine).items())
    ]
