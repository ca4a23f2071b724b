"""Drift per served version, feature and UTC day, kept as it is measured (the latest measure of
a day wins), so drift over time is read from a small table rather than recomputed."""

from __future__ import annotations

import functools
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, bindparam, select
from sqlalchemy.dialects import postgresql, sqlite

from datawheel.store.db import drift_daily, now_iso, reading

__all__ = ["drift_over_time", "record_drift"]

_FIELDS = ("day", "version", "feature", "psi", "drifted", "recent", "measured_at")


@functools.cache
def _upsert(dialect_name: str) -> postgresql.Insert | sqlite.Insert:
    dialect = postgresql if dialect_name == "postgresql" else sqlite
    stmt = dialect.insert(drift_daily).values({n: bindparam(n) for n in _FIELDS})
    return stmt.on_conflict_do_update(
        index_elements=["day", "version", "feature"],
        set_={n: stmt.excluded[n] for n in ("psi", "drifted", "recent", "measured_at")},
    )


def record_drift(engine: Engine, reports: Iterable[dict[str, Any]]) -> int:
    """Keep today's measure of each judged report (``DriftReport.to_dict()``): one row per
    version and feature. Returns the rows written."""
    at = now_iso()
    rows = [
        {"day": at[:10], "version": report["version"], "feature": f["feature"],
         "psi": float(f["psi"]), "drifted": bool(f["drifted"]), "recent": int(report["recent"]),
         "measured_at": at}
        for report in reports if report.get("judged")
        for f in report.get("features", [])
    ]  # fmt: skip
    if rows:
        with engine.begin() as conn:
            conn.execute(_upsert(conn.dialect.name), rows)
    return len(rows)


def drift_over_time(
    engine: Engine, version: str, *, days: int = 30, today: datetime | None = None
) -> dict[str, list[tuple[str, float, bool]]]:
    """Feature → [(day, psi, drifted)] over the last ``days`` days, oldest first."""
    since = ((today or datetime.now(UTC)) - timedelta(days=days - 1)).strftime("%Y-%m-%d")
    with reading(engine) as conn:
        rows = conn.execute(
            select(drift_daily.c.feature, drift_daily.c.day, drift_daily.c.psi,
                   drift_daily.c.drifted)
            .where(drift_daily.c.version == version, drift_daily.c.day >= since)
            .order_by(drift_daily.c.feature, drift_daily.c.day)
        ).all()  # fmt: skip
    out: dict[str, list[tuple[str, float, bool]]] = {}
    for r in rows:
        out.setdefault(r.feature, []).append((r.day, r.psi, bool(r.drifted)))
    return out
