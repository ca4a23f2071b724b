"""Usage metering: requests and rows per tenant, endpoint and UTC day, upserted atomically."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Connection, select
from sqlalchemy.dialects import postgresql, sqlite

from datawheel.errors import UsageError
from datawheel.store.artifacts import atomic_write
from datawheel.store.db import quota_counters, tenants, usage
from datawheel.store.workspace import Workspace

__all__ = ["QUOTA_ENDPOINTS", "export_usage", "month_usage", "record_usage"]

QUOTA_ENDPOINTS = ("predict", "explain")  # their rows count against the monthly quota


def record_usage(
    conn: Connection,
    *,
    tenant_id: str,
    endpoint: str,
    rows: int,
    requests: int = 1,
    day: str | None = None,
) -> None:
    """Add ``requests`` requests and ``rows`` rows to a day's counter, in the caller's
    transaction."""
    day = day or datetime.now(UTC).strftime("%Y-%m-%d")
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    stmt = dialect.insert(usage).values(
        tenant_id=tenant_id, endpoint=endpoint, day=day, requests=requests, rows=rows
    )
    conn.execute(
        stmt.on_conflict_do_update(
            index_elements=["tenant_id", "endpoint", "day"],
            set_={"requests": usage.c.requests + requests, "rows": usage.c.rows + rows},
        )
    )


def export_usage(ws: Workspace, *, month: str, output: Path) -> int:
    """Write the billing CSV for ``YYYY-MM``: one line per tenant, endpoint and day."""
    try:
        datetime.strptime(month, "%Y-%m")
    except ValueError:
        raise UsageError(f"month must be YYYY-MM, got {month!r}", where="--month") from None
    with ws.engine.connect() as conn:
        rows = conn.execute(
            select(
                tenants.c.name,
                tenants.c.plan,
                usage.c.endpoint,
                usage.c.day,
                usage.c.requests,
                usage.c.rows,
            )
            .join(tenants, tenants.c.id == usage.c.tenant_id)
            .where(usage.c.day.like(f"{month}-%"))
            .order_by(tenants.c.name, usage.c.day, usage.c.endpoint)
        ).all()
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["tenant", "plan", "endpoint", "day", "requests", "rows"])
    writer.writerows(tuple(r) for r in rows)
    atomic_write(output, buffer.getvalue().encode())
    return len(rows)


def month_usage(ws: Workspace, *, tenant_id: str, month: str) -> dict[str, object]:
    """A tenant's metered usage for ``YYYY-MM``: per endpoint and day, totals, quota reserved."""
    with ws.engine.connect() as conn:
        rows = conn.execute(
            select(usage.c.endpoint, usage.c.day, usage.c.requests, usage.c.rows)
            .where(usage.c.tenant_id == tenant_id, usage.c.day.like(f"{month}-%"))
            .order_by(usage.c.day, usage.c.endpoint)
        ).all()
        reserved = conn.execute(
            select(quota_counters.c.reserved).where(
                quota_counters.c.tenant_id == tenant_id, quota_counters.c.month == month
            )
        ).scalar()
    totals: dict[str, dict[str, int]] = {}
    for r in rows:
        total = totals.setdefault(r.endpoint, {"requests": 0, "rows": 0})
        total["requests"] += r.requests
        total["rows"] += r.rows
    return {
        "days": [dict(r._mapping) for r in rows],
        "totals": totals,
        "quota_rows_used": sum(totals.get(e, {}).get("rows", 0) for e in QUOTA_ENDPOINTS),
        "quota_rows_reserved": reserved or 0,
    }
