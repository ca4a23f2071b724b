"""Lease renewal ahead: under steady load a worker reserves its next quota and rate lease
before the current one runs out, so no request waits on the database; small leases (near a
limit, low-rate plans) are never renewed ahead, so nothing is stranded in a worker."""

from __future__ import annotations

import asyncio
from pathlib import Path

import sqlalchemy as sa

from datawheel.serve.limits import Limiter, current_month
from datawheel.store.db import quota_counters, rate_buckets
from datawheel.store.workspace import Workspace
from waiting import wait_until, wait_until_async

from .conftest import FakeClock

BIG = 10**9


def _database(tmp_path: Path) -> tuple[Workspace, Limiter, FakeClock]:
    ws = Workspace.open(tmp_path / "ws", key_dir=tmp_path)
    clock = FakeClock()
    return ws, Limiter(ws.engine, quota_lease=100, rate_lease=100, clock=clock), clock


def _reserved(ws: Workspace, month: str) -> int:
    with ws.engine.connect() as conn:
        return conn.execute(
            sa.select(quota_counters.c.reserved).where(quota_counters.c.month == month)
        ).scalar_one()


async def _settle(limiter: Limiter) -> None:
    """Let any background renewal finish (it runs in a thread)."""
    await wait_until_async(
        lambda: all(p.ahead is None for p in [*limiter._quota.values(), *limiter._rate.values()]),
        what="the renewals ahead to finish",
    )


def test_lease_when_half_spent_then_next_one_reserved_ahead(tmp_path):
    ws, limiter, clock = _database(tmp_path)
    month = current_month(clock())

    async def spend(n: int) -> None:
        for _ in range(n):
            await limiter.admit("t1", per_minute=BIG, quota=BIG, rows=1)
            await asyncio.sleep(0)  # one request per loop turn, as under real traffic
        await _settle(limiter)

    asyncio.run(spend(49))
    assert _reserved(ws, month) == 100  # one lease, not yet half spent
    assert limiter.leased_quota("t1", month) == 51

    asyncio.run(spend(1))  # 50 left: the next lease is reserved while these still serve
    assert _reserved(ws, month) == 200
    assert limiter.leased_quota("t1", month) == 150
    with ws.engine.connect() as conn:  # the rate bucket was renewed ahead the same way
        tokens = conn.execute(sa.select(rate_buckets.c.tokens)).scalar_one()
    assert tokens == BIG - 200


def test_lease_when_small_near_the_quota_then_never_reserved_ahead(tmp_path):
    ws, limiter, clock = _database(tmp_path)
    month = current_month(clock())

    async def spend(n: int) -> None:
        for _ in range(n):
            await limiter.admit("t1", per_minute=BIG, quota=80, rows=1)
        await _settle(limiter)

    asyncio.run(spend(9))  # leases of at most 1/8 of what is left: 10 rows, then smaller
    assert _reserved(ws, month) == 10
    assert limiter.leased_quota("t1", month) == 1  # nothing reserved beyond the small lease
    limiter.release()
    assert _reserved(ws, month) == 9  # exactly what was served


def test_lease_when_released_while_a_renewal_is_in_flight_then_every_unit_handed_back(tmp_path):
    ws, limiter, clock = _database(tmp_path)
    month = current_month(clock())

    async def stop_mid_renewal() -> None:
        for _ in range(50):  # the 50th admission starts a renewal
            await limiter.admit("t1", per_minute=BIG, quota=BIG, rows=1)
        pool = limiter._quota[("t1", month)]
        # the renewal takes its lock and, in the same loop turn, hands the reservation to a
        # thread; polling every turn sees it before the loop could take the units back
        await wait_until_async(pool.refill.locked, what="the renewal ahead to start", every=0)
        # the loop is busy (as in a shutdown), so the units cannot reach the pool: block it
        # until the thread has reserved them in the database
        wait_until(lambda: pool.in_flight == 100, what="the renewal thread to reserve its lease")
        limiter.release()  # before the renewal's units reach the pool
        await _settle(limiter)

    asyncio.run(stop_mid_renewal())
    assert _reserved(ws, month) == 50  # exactly what was served: nothing stranded
    assert limiter.leased_quota("t1", month) == 0
