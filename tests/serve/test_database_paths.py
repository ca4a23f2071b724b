"""The serving database paths on SQLite and PostgreSQL: quota leases under a race between two
workers' limiters, and the write-behind's prediction log and usage upsert (raw driver SQL and
dialect-specific ON CONFLICT on each database)."""

from __future__ import annotations

import asyncio
import time

import sqlalchemy as sa

from datawheel.serve.limits import Limiter
from datawheel.serve.metering import month_usage, usage_csv
from datawheel.serve.tenants import create_key, create_tenant
from datawheel.serve.writer import WriteBehind
from datawheel.store.db import api_key_usage, predictions, quota_counters, usage
from datawheel.store.workspace import Workspace


def test_quota_when_two_limiters_race_then_never_overrun_and_release_is_exact(
    workspace: Workspace,
) -> None:
    workers = [
        Limiter(workspace.engine, quota_lease=1000, rate_lease=100, clock=time.time)
        for _ in range(2)
    ]

    async def one(limiter: Limiter) -> bool:
        try:
            await limiter.admit("t1", per_minute=10**9, quota=50, rows=1)
            return True
        except Exception:
            return False

    async def race() -> list[bool]:
        return await asyncio.gather(*(one(workers[i % 2]) for i in range(120)))

    admitted = sum(asyncio.run(race()))
    assert 40 <= admitted <= 50  # never over; a few rows may sit in the other worker's lease
    for limiter in workers:
        limiter.release()
    with workspace.engine.connect() as conn:
        reserved = conn.execute(sa.select(quota_counters.c.reserved)).scalar_one()
    assert reserved == admitted


def test_write_behind_when_flushed_then_log_and_usage_land_on_either_database(
    workspace: Workspace,
) -> None:
    writer = WriteBehind(workspace.engine, interval_s=0.002)
    features = {"age": 41, "sex": "Female", "name": "pseudonym-3f2a"}
    records = [
        (f"p{i}", "t1", "v1", None, features, "<=50K", {"<=50K": 0.75, ">50K": 0.25}, 0.03,
         False, "2026-11-29T12:00:00.000000+00:00", f"p{i}")
        for i in range(3)
    ]  # fmt: skip
    writer.log(records)
    writer.meter("t1", "predict", 2)
    writer.meter("t1", "predict", 1)
    writer.flush()
    writer.meter("t1", "predict", 4)  # the second flush takes the upsert's update branch
    writer.close()
    with workspace.engine.connect() as conn:
        logged = conn.execute(
            sa.select(predictions.c.id, predictions.c.features, predictions.c.request_id)
        ).all()
        counters = conn.execute(sa.select(usage.c.requests, usage.c.rows)).one()
    assert sorted(r.id for r in logged) == ["p0", "p1", "p2"]
    assert all(r.features == features and r.request_id == r.id for r in logged)
    assert (counters.requests, counters.rows) == (3, 7)


def test_write_behind_when_errors_and_key_use_queued_then_counted_and_the_latest_use_kept(
    workspace: Workspace,
) -> None:
    tenant = create_tenant(workspace, "acme", plan="free", plans=["free"])
    key = create_key(workspace, tenant="acme")
    writer = WriteBehind(workspace.engine, interval_s=0.002)
    writer.meter(tenant, "predict", 2)
    writer.meter_error(tenant, "predict", server=False)
    writer.meter_error(tenant, "predict", server=False)
    writer.meter_error(tenant, "predict", server=True)
    writer.meter_error(tenant, "feedback", server=False)  # a day with errors only
    writer.key_used(key.id, "2026-11-29T12:00:05.000000+00:00")
    writer.key_used(key.id, "2026-11-29T12:00:01.000000+00:00")  # older: ignored
    writer.flush()
    writer.key_used(key.id, "2026-11-29T11:00:00.000000+00:00")  # another worker, behind
    writer.meter_error(tenant, "predict", server=False)  # the upsert's update branch
    writer.close()
    with workspace.engine.connect() as conn:
        rows = {
            r.endpoint: (r.requests, r.rows, r.client_errors, r.server_errors)
            for r in conn.execute(sa.select(usage))
        }
        last_used = conn.execute(sa.select(api_key_usage.c.last_used_at)).scalar_one()
    assert rows == {"predict": (1, 2, 3, 1), "feedback": (0, 0, 1, 0)}
    assert last_used == "2026-11-29T12:00:05.000000+00:00"
    month = _month(workspace)
    billed, lines = usage_csv(workspace, month=month)
    assert lines == 1 and "feedback" not in billed  # errors are not billed
    assert [
        d["endpoint"] for d in month_usage(workspace, tenant_id=tenant, month=month)["days"]
    ] == ["predict"]


def _month(workspace: Workspace) -> str:
    with workspace.engine.connect() as conn:
        return str(conn.execute(sa.select(usage.c.day)).scalars().first())[:7]
