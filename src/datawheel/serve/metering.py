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
from datawheel.store.db import tenants, usage
from datawheel.store.workspace import Workspace

__all__ = ["export_usage", "record_usage"]


def record_usage(
    conn: Connection, *, tenant_id: str, endpoint: str, rows: int, day: str | None = None
) -> None:
    """Add one request and ``rows`` rows to today's counter, inside the caller's transaction."""
    day = day or datetime.now(UTC).strftime("%Y-%m-%d")
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    stmt = dialect.insert(usage).values(
        tenant_id=tenant_id, endpoint=endpoint, day=day, requests=1, rows=rows
    )
    conn.execute(
        stmt.on_conflict_do_update(
            index_elements=["tenant_id", "endpoint", "day"],
            set_={"requests": usage.c.requests + 1, "rows": usage.c.rows + rows},
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
