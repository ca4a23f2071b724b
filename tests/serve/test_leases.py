"""Lease renewal ahead: under steady load a worker reserves its next quota and rate lease
before the current one runs out, so no request waits on the database; small leases (near a
limit, low-rate plans) are never renewed ahead, so nothing is stranded in a worker."""

from __future__ import annotations

import asyncio
from pathlib import Path

import sqlalchemy as sa

from datawheel.serve.http_errors import TooManyRequests
from datawheel.serve.limits import GRACE, Limiter, current_month
from datawheel.store.db import quota_counters, quota_leases, rate_buckets
from datawheel.store.workspace import Workspace
from waiting import wait_until, wait_until_async

from .conftest import FakeClock

BIG = 10**9


def _database(tmp_path: Path) -> tuple[Workspace, Limiter, FakeClock]:
    ws = Workspace.open(tmp_path / "ws", key_dir=tmp_path, role="service")
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


# -- leases that do not strand ------------------------------------------------------------------


def _limiter(ws: Workspace, clock: FakeClock, *, lease: int = 100) -> Limiter:
    return Limiter(ws.engine, quota_lease=lease, rate_lease=100, clock=clock, lease_seconds=60)


async def _serve_until_refused(
    limiter: Limiter, *, quota: int, rows: int, ws: Workspace | None = None
) -> tuple[int, str]:
    """Admit requests until refused; with ``ws``, flush the served rows as the write-behind
    does after every request."""
    served = 0
    while True:
        try:
            await limiter.admit("t1", per_minute=BIG, quota=quota, rows=rows)
        except TooManyRequests as exc:
            return served, exc.message
        served += rows
        if ws is not None:
            _flush_spent(ws, limiter)


def _flush_spent(ws: Workspace, limiter: Limiter) -> None:
    """What the write-behind does in each flush: served rows leave the lease row."""
    with ws.engine.begin() as conn:
        limiter.write_spent(conn)


def test_quota_when_multi_row_requests_then_only_the_last_partial_request_is_refused(tmp_path):
    ws, _, clock = _database(tmp_path)
    limiter = _limiter(ws, clock)
    served, message = asyncio.run(_serve_until_refused(limiter, quota=500, rows=7))
    assert served == 497  # 71 requests of 7; was 491 when holdings did not count
    assert "(3 left, 7 asked)" in message
    limiter.release()
    assert _reserved(ws, current_month(clock())) == 497


def test_lease_when_worker_killed_then_its_unserved_rows_return_after_expiry(tmp_path):
    ws, _, clock = _database(tmp_path)
    month = current_month(clock())
    killed, survivor = _limiter(ws, clock), _limiter(ws, clock)

    async def scenario() -> tuple[int, int]:
        await killed.admit("t1", per_minute=BIG, quota=1000, rows=5)
        _flush_spent(ws, killed)
        assert _reserved(ws, month) == 100  # a lease of 100, 5 served, then the worker dies
        served, _ = await _serve_until_refused(survivor, quota=1000, rows=1, ws=ws)
        clock.advance(60 + GRACE + 1)  # its lease expires; the next reservation reclaims it
        more, _ = await _serve_until_refused(survivor, quota=1000, rows=1, ws=ws)
        return served, more

    served, more = asyncio.run(scenario())
    assert served == 900  # the dead worker's 95 unserved rows were still held…
    assert more == 95 and served + more + 5 == 1000  # … until its lease expired
    with ws.engine.connect() as conn:
        workers = conn.execute(sa.select(quota_leases.c.worker).distinct()).scalars().all()
    assert workers == [survivor.worker]


def test_lease_when_reclaimed_from_a_stalled_worker_then_its_units_are_void(tmp_path):
    ws, _, clock = _database(tmp_path)
    month = current_month(clock())
    stalled, other = _limiter(ws, clock), _limiter(ws, clock)

    async def scenario() -> None:
        await stalled.admit("t1", per_minute=BIG, quota=1000, rows=1)
        _flush_spent(ws, stalled)
        clock.advance(60 + GRACE + 1)
        await other.admit("t1", per_minute=BIG, quota=1000, rows=1)  # reclaims its 99 rows
        await stalled.admit("t1", per_minute=BIG, quota=1000, rows=1)  # must not spend them
        _flush_spent(ws, stalled)
        _flush_spent(ws, other)

    asyncio.run(scenario())
    held = stalled.leased_quota("t1", month) + other.leased_quota("t1", month)
    assert _reserved(ws, month) == 3 + held  # served + still leased: nothing counted twice


def test_lease_when_near_expiry_then_renewed_before_spending(tmp_path):
    ws, _, clock = _database(tmp_path)
    limiter = _limiter(ws, clock)

    def expiry() -> float:
        with ws.engine.connect() as conn:
            return conn.execute(sa.select(quota_leases.c.expires_at)).scalar_one()

    async def scenario() -> tuple[float, float]:
        await limiter.admit("t1", per_minute=BIG, quota=1000, rows=1)
        first = expiry()
        clock.advance(50)  # within a quarter of the lease's life of its expiry
        await limiter.admit("t1", per_minute=BIG, quota=1000, rows=1)
        return first, expiry()

    first, renewed = asyncio.run(scenario())
    assert renewed == first + 50


def test_refund_when_rows_not_served_then_back_in_the_lease(tmp_path):
    ws, _, clock = _database(tmp_path)
    month = current_month(clock())
    limiter = _limiter(ws, clock)
    ticket = asyncio.run(limiter.admit("t1", per_minute=BIG, quota=1000, rows=10))
    held = limiter.leased_quota("t1", month)
    limiter.refund(ticket)
    assert limiter.leased_quota("t1", month) == held + 10
    _flush_spent(ws, limiter)
    with ws.engine.connect() as conn:
        assert conn.execute(sa.select(quota_leases.c.units)).scalar_one() == 100  # none spent
    limiter.release()
    assert _reserved(ws, month) == 0
