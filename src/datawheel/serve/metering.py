"""Usage metering: requests, rows and errors per tenant, endpoint and UTC day, upserted
atomically; and when each API key was last used."""

from __future__ import annotations

import csv
import functools
import io
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Connection, bindparam, case, select
from sqlalchemy.dialects import postgresql, sqlite

from datawheel.atomic import atomic_write
from datawheel.errors import UsageError
from datawheel.store.db import api_key_usage, quota_counters, reading, tenants, usage
from datawheel.store.roles import require
from datawheel.store.workspace import Workspace

__all__ = [
    "QUOTA_ENDPOINTS",
    "export_usage",
    "month_usage",
    "record_key_use",
    "record_usage",
    "record_usage_many",
    "usage_csv",
]

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
    record_usage_many(
        conn,
        [{"tenant_id": tenant_id, "endpoint": endpoint, "day": day, "requests": requests,
          "rows": rows}],
    )  # fmt: skip


_COUNTS = ("requests", "rows", "client_errors", "server_errors")


def record_usage_many(conn: Connection, counters: list[dict[str, object]]) -> None:
    """Add several counters (dicts of tenant_id, endpoint, day, requests, rows and optionally
    client_errors, server_errors) in one statement, in the caller's transaction: the
    write-behind calls this on every flush."""
    if counters:
        conn.execute(
            _upsert(conn.dialect.name),
            [{"client_errors": 0, "server_errors": 0, **c} for c in counters],
        )


def record_key_use(conn: Connection, used: dict[str, str]) -> None:
    """Remember when each key (id → ISO time) was last used, keeping the later time, in the
    caller's transaction (the write-behind's flush)."""
    if used:
        conn.execute(
            _key_upsert(conn.dialect.name),
            [{"key_id": k, "last_used_at": at} for k, at in used.items()],
        )


@functools.cache
def _key_upsert(dialect_name: str) -> postgresql.Insert | sqlite.Insert:
    dialect = postgresql if dialect_name == "postgresql" else sqlite
    stmt = dialect.insert(api_key_usage).values(
        key_id=bindparam("key_id"), last_used_at=bindparam("last_used_at")
    )
    newer = stmt.excluded.last_used_at > api_key_usage.c.last_used_at
    return stmt.on_conflict_do_update(
        index_elements=["key_id"],
        set_={
            "last_used_at": case(
                (newer, stmt.excluded.last_used_at), else_=api_key_usage.c.last_used_at
            )
        },
    )


@functools.cache
def _upsert(dialect_name: str) -> postgresql.Insert | sqlite.Insert:
    """Built once per dialect with bound parameters, so SQLAlchemy compiles it once (a statement
    with literal values is rebuilt and re-keyed on every call: ~0.5 ms a flush)."""
    dialect = postgresql if dialect_name == "postgresql" else sqlite
    stmt = dialect.insert(usage).values(
        {name: bindparam(name) for name in ("tenant_id", "endpoint", "day", *_COUNTS)}
    )
    return stmt.on_conflict_do_update(
        index_elements=["tenant_id", "endpoint", "day"],
        set_={name: usage.c[name] + stmt.excluded[name] for name in _COUNTS},
    )


def usage_csv(ws: Workspace, *, month: str, tenant_id: str | None = None) -> tuple[str, int]:
    """The billing CSV for ``YYYY-MM`` (one tenant, or all) and its number of data lines: one
    line per tenant, endpoint and day. The CLI's export and the console's download share it."""
    try:
        datetime.strptime(month, "%Y-%m")
    except ValueError:
        raise UsageError(f"month must be YYYY-MM, got {month!r}", where="--month") from None
    stmt = (
        select(
            tenants.c.name,
            tenants.c.plan,
            usage.c.endpoint,
            usage.c.day,
            usage.c.requests,
            usage.c.rows,
        )
        .join(tenants, tenants.c.id == usage.c.tenant_id)
        .where(usage.c.day.like(f"{month}-%"), usage.c.requests > 0)  # errors are not billed
        .order_by(tenants.c.name, usage.c.day, usage.c.endpoint)
    )
    if tenant_id is not None:
        stmt = stmt.where(usage.c.tenant_id == tenant_id)
    with reading(ws.engine) as conn:
        rows = conn.execute(stmt).all()
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["tenant", "plan", "endpoint", "day", "requests", "rows"])
    writer.writerows(tuple(r) for r in rows)
    return buffer.getvalue(), len(rows)


def export_usage(ws: Workspace, *, month: str, output: Path) -> int:
    """Write the billing CSV for ``YYYY-MM``: one line per tenant, endpoint and day."""
    require(ws, "usage")
    text, lines = usage_csv(ws, month=month)
    atomic_write(output, text.encode())
    return lines


def month_usage(ws: Workspace, *, tenant_id: str, month: str) -> dict[str, object]:
    """A tenant's metered usage for ``YYYY-MM``: per endpoint and day, totals, quota reserved."""
    with reading(ws.engine) as conn:
        rows = conn.execute(
            select(usage.c.endpoint, usage.c.day, usage.c.requests, usage.c.rows)
            .where(
                usage.c.tenant_id == tenant_id,
                usage.c.day.like(f"{month}-%"),
                usage.c.requests > 0,  # a day with errors only has nothing to bill
            )
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
