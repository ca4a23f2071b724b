"""Per-tenant admission: a token-bucket rate limit and a monthly row quota, shared by every
worker through the database and spent locally from small leases.

Each worker holds, per tenant, a *lease*: units it reserved atomically in the database (one
short write transaction: SQLite ``BEGIN IMMEDIATE``, PostgreSQL ``SELECT … FOR UPDATE``) and may
spend without asking again. The database counter only ever grows by what it granted and never
past the limit, so N workers can never overrun a quota together; a lease left unspent when a
worker stops is handed back, and one lost in a crash only under-serves. Lease sizes shrink as
the remainder shrinks (at most 1/8 of it), so near the limit every worker reserves row by row.

A large lease is renewed *ahead*: when half of it is left, a background refill reserves the
next one, so under steady load no request waits on the database (a refill that queues behind
the write-behind's commit would otherwise stall every request of the worker for milliseconds).
Small leases (near a limit, or low-rate plans) are never renewed ahead, so nothing is stranded.
"""

from __future__ import annotations

import asyncio
import logging
import math
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, Select, Table, select, update
from sqlalchemy.dialects import postgresql, sqlite

from datawheel.serve.errors import TooManyRequests, Unavailable
from datawheel.store.db import quota_counters, rate_buckets

__all__ = ["Grant", "Limiter", "current_month", "reserve_quota", "reserve_tokens"]

log = logging.getLogger(__name__)
_Select = TypeVar("_Select", bound=Select[Any])

AHEAD_MIN_LEASE = 32  # leases at least this large are renewed before they run out


@dataclass(frozen=True)
class Grant:
    units: int  # reserved for this worker (0: refused)
    retry_after: float = 0.0  # seconds until ``need`` units could be granted
    remaining: int = 0  # what the database still holds after this grant


def current_month(now: float | None = None) -> str:
    when = datetime.fromtimestamp(now, UTC) if now is not None else datetime.now(UTC)
    return when.strftime("%Y-%m")


def _insert(conn: Connection) -> Callable[[Table], postgresql.Insert | sqlite.Insert]:
    return postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert


def _lock_row(conn: Connection, stmt: _Select) -> _Select:
    return stmt.with_for_update() if conn.dialect.name == "postgresql" else stmt


def reserve_quota(
    engine: Engine, *, tenant_id: str, month: str, quota: int, need: int, lease: int
) -> Grant:
    """Reserve ``need`` rows (plus up to ``lease`` more) of this month's quota, or none."""
    with engine.begin() as conn:
        conn.execute(
            _insert(conn)(quota_counters)
            .values(tenant_id=tenant_id, month=month, reserved=0)
            .on_conflict_do_nothing(index_elements=["tenant_id", "month"])
        )
        key = (quota_counters.c.tenant_id == tenant_id, quota_counters.c.month == month)
        reserved = conn.execute(_lock_row(conn, select(quota_counters.c.reserved).where(*key)))
        left = quota - reserved.scalar_one()
        if left < need:
            return Grant(0, retry_after=_seconds_to_next_month(), remaining=max(0, left))
        units = min(left, max(need, min(lease, left // 8)))
        conn.execute(
            update(quota_counters).where(*key).values(reserved=quota_counters.c.reserved + units)
        )
    return Grant(units, remaining=left - units)


def release_quota(engine: Engine, *, tenant_id: str, month: str, units: int) -> None:
    """Give back an unspent lease (a worker stopping)."""
    with engine.begin() as conn:
        conn.execute(
            update(quota_counters)
            .where(quota_counters.c.tenant_id == tenant_id, quota_counters.c.month == month)
            .values(reserved=quota_counters.c.reserved - units)
        )


def reserve_tokens(
    engine: Engine, *, tenant_id: str, per_minute: int, now: float, need: int, lease: int
) -> Grant:
    """Take ``need`` tokens (plus up to ``lease`` more) from the tenant's bucket, or none.

    The bucket holds at most ``per_minute`` tokens and refills at ``per_minute / 60`` a second.
    """
    rate = per_minute / 60.0
    with engine.begin() as conn:
        conn.execute(
            _insert(conn)(rate_buckets)
            .values(tenant_id=tenant_id, tokens=float(per_minute), updated_at=now)
            .on_conflict_do_nothing(index_elements=["tenant_id"])
        )
        where = rate_buckets.c.tenant_id == tenant_id
        row = conn.execute(
            _lock_row(conn, select(rate_buckets.c.tokens, rate_buckets.c.updated_at).where(where))
        ).one()
        tokens = min(float(per_minute), row.tokens + max(0.0, now - row.updated_at) * rate)
        if tokens < need:
            units = 0
            retry_after = (need - tokens) / rate
        else:
            units = max(need, min(lease, int(tokens) // 4))
            retry_after = 0.0
        conn.execute(
            update(rate_buckets).where(where).values(tokens=tokens - units, updated_at=now)
        )
    return Grant(units, retry_after=retry_after, remaining=int(tokens) - units)


def _seconds_to_next_month() -> float:
    now = datetime.now(UTC)
    year, month = (now.year + 1, 1) if now.month == 12 else (now.year, now.month + 1)
    return (datetime(year, month, 1, tzinfo=UTC) - now).total_seconds()


class _Pool:
    """Units leased to this worker for one key; refills are serialized per key."""

    def __init__(self) -> None:
        self.units = 0
        self.in_flight = 0  # reserved in the database, not yet in ``units`` (see Limiter._gated)
        self.last_grant = 0
        self.refill = asyncio.Lock()
        self.ahead: asyncio.Task[None] | None = None  # a refill started before the pool ran dry


class Limiter:
    """Admission for one worker: ``await admit(tenant, plan, rows)`` or ``TooManyRequests``.

    ``clock`` is wall-clock seconds shared by every worker (injected in tests: STYLE.md #6);
    ``write_gate`` is the lock this process's database writers share (see ``WriteBehind``).
    """

    def __init__(
        self,
        engine: Engine,
        *,
        quota_lease: int,
        rate_lease: int,
        clock: Callable[[], float],
        write_gate: threading.Lock | None = None,
    ) -> None:
        self._engine = engine
        self._gate = write_gate or threading.Lock()
        self._released = False  # release() ran: reserve nothing more, keep nothing more
        self._quota_lease = quota_lease
        self._rate_lease = rate_lease
        self._clock = clock
        self._quota: dict[tuple[str, str], _Pool] = {}
        self._rate: dict[str, _Pool] = {}
        self._month: tuple[int, str] = (-1, "")  # (second, "YYYY-MM"): one format a second

    async def admit(self, tenant_id: str, *, per_minute: int, quota: int, rows: int) -> None:
        """One request (a rate token) of ``rows`` rows (quota), or raise ``TooManyRequests``."""
        if rows > quota:
            raise TooManyRequests(
                f"{rows} rows exceed the plan's monthly quota of {quota}",
                retry_after=3600,
                code="quota_exceeded",
            )
        now = self._clock()
        await self._take(
            self._rate.setdefault(tenant_id, _Pool()),
            1,
            lambda need: reserve_tokens(
                self._engine,
                tenant_id=tenant_id,
                per_minute=per_minute,
                now=self._clock(),
                need=need,
                lease=min(self._rate_lease, max(1, per_minute // 100)),
            ),
            lambda g: TooManyRequests(
                f"rate limit of {per_minute} requests per minute reached",
                retry_after=math.ceil(g.retry_after),
                code="rate_limited",
            ),
        )
        second = int(now)
        if self._month[0] != second:
            self._month = (second, current_month(now))
        month = self._month[1]
        await self._take(
            self._quota.setdefault((tenant_id, month), _Pool()),
            rows,
            lambda need: reserve_quota(
                self._engine,
                tenant_id=tenant_id,
                month=month,
                quota=quota,
                need=need,
                lease=self._quota_lease,
            ),
            lambda g: TooManyRequests(
                f"monthly quota of {quota} rows reached ({g.remaining} left, {rows} asked)",
                retry_after=math.ceil(g.retry_after),
                code="quota_exceeded",
                hint="upgrade the plan, or wait for next month",
            ),
        )

    def leased_quota(self, tenant_id: str, month: str) -> int:
        pool = self._quota.get((tenant_id, month))
        return pool.units if pool else 0

    async def _take(
        self,
        pool: _Pool,
        need: int,
        reserve: Callable[[int], Grant],
        refused: Callable[[Grant], TooManyRequests],
    ) -> None:
        if pool.units >= need:  # the hot path: no await, no database
            pool.units -= need
            self._maybe_renew(pool, reserve)
            return
        async with pool.refill:  # one refill at a time; the others then find the new units
            if pool.units >= need:
                pool.units -= need
                return
            grant = await asyncio.to_thread(self._gated, pool, reserve, need, need)
            if grant is None:
                raise Unavailable("the server is stopping", retry_after=1)
            if grant.units == 0:
                raise refused(grant)
            self._pool_add(pool, grant.units - need)
            pool.last_grant = grant.units

    def _gated(
        self, pool: _Pool, reserve: Callable[[int], Grant], need: int, spent: int
    ) -> Grant | None:
        """A reservation, on a worker thread, queued behind this process's other writers in
        Python: on SQLite a writer that finds the database locked sleeps in steps of up to
        100 ms, so two writers of one process must not meet there (other processes still do,
        rarely). What the pool will receive is counted in ``in_flight`` under the same lock, so
        ``release`` hands back every unit reserved, even one still on its way to the pool.
        ``spent``: units the waiting request takes at once. None once released."""
        with self._gate:
            if self._released:
                return None
            grant = reserve(need)
            if grant.units:
                pool.in_flight += grant.units - spent
            return grant

    def _pool_add(self, pool: _Pool, units: int) -> None:
        """On the event loop: a reservation's units arrive (unless release() took them back)."""
        if self._released:
            return
        pool.in_flight -= units
        pool.units += units

    def _maybe_renew(self, pool: _Pool, reserve: Callable[[int], Grant]) -> None:
        if (
            pool.last_grant >= AHEAD_MIN_LEASE
            and pool.units <= pool.last_grant // 2
            and pool.ahead is None
            and not pool.refill.locked()
        ):
            pool.ahead = asyncio.get_running_loop().create_task(self._renew(pool, reserve))

    async def _renew(self, pool: _Pool, reserve: Callable[[int], Grant]) -> None:
        """The next lease, reserved while the current one still serves; a refusal or an error
        is left to the request that finds the pool empty (it asks again and reports it)."""
        try:
            async with pool.refill:
                if pool.units > pool.last_grant // 2:  # a request refilled it meanwhile
                    return
                grant = await asyncio.to_thread(self._gated, pool, reserve, 1, 0)
                if grant is not None:
                    self._pool_add(pool, grant.units)
                    pool.last_grant = grant.units  # 0 (refused): no more renewals ahead
        except Exception:  # a background task: logged; the request that needs the lease retries
            log.exception("renewing a lease ahead failed; the next request will retry")
        finally:
            pool.ahead = None

    def release(self) -> None:
        """Hand unspent quota leases back to the database (a worker stopping), including units
        a renewal reserved that have not reached the pool yet; reserve nothing afterwards."""
        with self._gate:
            self._released = True
            for (tenant_id, month), pool in list(self._quota.items()):
                units = pool.units + pool.in_flight
                if units > 0:
                    release_quota(self._engine, tenant_id=tenant_id, month=month, units=units)
                pool.units = pool.in_flight = 0
