"""Per-tenant admission: token-bucket rate limits (requests, and feedback apart) and a monthly row
quota, shared by every worker through the database and spent locally from small leases.

Each worker holds, per tenant, a *lease*: units it reserved atomically in the database (one
short write transaction: SQLite ``BEGIN IMMEDIATE``, PostgreSQL ``SELECT … FOR UPDATE``) and may
spend without asking again. The database counter only ever grows by what it granted and never
past the limit, so N workers can never overrun a quota together. Lease sizes shrink as the
remainder shrinks (at most 1/8 of it), so near the limit every worker reserves row by row.

A quota lease is also a row of ``quota_leases``: who holds it, how many of its rows are not yet
served (the write-behind subtracts what was served, in the transaction that meters it), and
until when it holds. A worker renews it as it goes; one that stopped without handing its lease
back (killed) loses it ``GRACE`` seconds after it expires, when the next reservation by any
worker returns its unserved rows to the tenant. A worker never spends from a lease within
``ttl / 4`` of its expiry without renewing it, so a lease is only ever reclaimed from a worker
that stopped spending it. A request needing more rows than the worker holds reserves only the
difference (its holdings count), so rows are never stranded below one request's size.

A large lease is renewed *ahead*: when half of it is left, a background refill reserves the
next one, so under steady load no request waits on the database. Small leases (near a limit,
or low-rate plans) are never renewed ahead, so nothing is stranded.
"""

from __future__ import annotations

import asyncio
import logging
import math
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, NamedTuple, TypeVar

from sqlalchemy import Connection, Engine, Select, Table, delete, select, update
from sqlalchemy.dialects import postgresql, sqlite

from datawheel.serve.http_errors import TooManyRequests, Unavailable
from datawheel.store.db import quota_counters, quota_leases, rate_buckets

__all__ = [
    "GRACE",
    "Grant",
    "Limiter",
    "Ticket",
    "current_month",
    "reserve_quota",
    "reserve_tokens",
]

log = logging.getLogger(__name__)
_Select = TypeVar("_Select", bound=Select[Any])

AHEAD_MIN_LEASE = 32  # leases at least this large are renewed before they run out
GRACE = 10.0  # seconds past its expiry before a lease is reclaimed (clock skew between hosts)


@dataclass(frozen=True)
class Grant:
    units: int  # reserved for this worker (0: refused)
    retry_after: float = 0.0  # seconds until the units asked for could be granted
    remaining: int = 0  # what the database still holds after this grant
    lost: bool = False  # this worker's lease had been reclaimed: its local units are void
    expires: float = math.inf  # when the worker's lease (now renewed) expires


class Ticket(NamedTuple):
    """Rows admitted against a tenant's quota: hand them back with ``Limiter.refund`` if they
    are not served (a timeout, an error). A tuple: one is made per request."""

    tenant_id: str
    month: str
    rows: int


def current_month(now: float | None = None) -> str:
    when = datetime.fromtimestamp(now, UTC) if now is not None else datetime.now(UTC)
    return when.strftime("%Y-%m")


def _insert(conn: Connection) -> Callable[[Table], postgresql.Insert | sqlite.Insert]:
    return postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert


def _lock_row(conn: Connection, stmt: _Select) -> _Select:
    return stmt.with_for_update() if conn.dialect.name == "postgresql" else stmt


def _reclaim_expired(conn: Connection, tenant_id: str, month: str, now: float) -> int:
    """Delete the leases of this tenant and month that expired ``GRACE`` seconds ago; returns
    their unserved rows (the caller gives them back to the counter it holds locked)."""
    where = (
        quota_leases.c.tenant_id == tenant_id,
        quota_leases.c.month == month,
        quota_leases.c.expires_at < now - GRACE,
    )
    units = conn.execute(select(quota_leases.c.units).where(*where)).scalars().all()
    if units:
        conn.execute(delete(quota_leases).where(*where))
    return sum(max(0, u) for u in units)


def reserve_quota(
    engine: Engine,
    *,
    tenant_id: str,
    month: str,
    quota: int,
    need: int,
    lease: int,
    worker: str = "",
    holding: int = 0,
    now: float = 0.0,
    ttl: float = math.inf,
) -> Grant:
    """Reserve what ``need`` rows lack beyond the ``holding`` rows this worker already has (plus
    up to ``lease`` ahead) of this month's quota, or nothing; renews the worker's lease row.

    Expired leases of other workers are reclaimed first. If this worker's own lease was
    reclaimed, its ``holding`` no longer counts (``Grant.lost``)."""
    with engine.begin() as conn:
        conn.execute(
            _insert(conn)(quota_counters)
            .values(tenant_id=tenant_id, month=month, reserved=0)
            .on_conflict_do_nothing(index_elements=["tenant_id", "month"])
        )
        key = (quota_counters.c.tenant_id == tenant_id, quota_counters.c.month == month)
        reserved = conn.execute(
            _lock_row(conn, select(quota_counters.c.reserved).where(*key))
        ).scalar_one()
        returned = _reclaim_expired(conn, tenant_id, month, now) if worker else 0
        reserved -= returned
        mine = (
            quota_leases.c.worker == worker,
            quota_leases.c.tenant_id == tenant_id,
            quota_leases.c.month == month,
        )
        own = conn.execute(select(quota_leases.c.units).where(*mine)).first() if worker else None
        lost = bool(worker) and holding > 0 and own is None
        have = 0 if lost else holding
        short = max(0, need - have)
        left = quota - reserved
        expires = now + ttl
        units = 0 if left < short else min(left, max(short, min(lease, left // 8)))
        if units or returned:
            conn.execute(update(quota_counters).where(*key).values(reserved=reserved + units))
        if worker and own is not None:
            conn.execute(
                update(quota_leases)
                .where(*mine)
                .values(units=quota_leases.c.units + units, expires_at=expires)
            )
        elif worker and units:
            conn.execute(
                _insert(conn)(quota_leases).values(
                    worker=worker, tenant_id=tenant_id, month=month, units=units,
                    expires_at=expires,
                )
            )  # fmt: skip
    if units == 0 and short > 0:
        return Grant(0, _seconds_to_next_month(), max(0, left), lost, expires)
    return Grant(units, remaining=left - units, lost=lost, expires=expires)


def release_quota(
    engine: Engine, *, tenant_id: str, month: str, units: int, worker: str = ""
) -> None:
    """Give back an unspent lease (a worker stopping) and forget its lease row."""
    with engine.begin() as conn:
        conn.execute(
            update(quota_counters)
            .where(quota_counters.c.tenant_id == tenant_id, quota_counters.c.month == month)
            .values(reserved=quota_counters.c.reserved - units)
        )
        if worker:
            conn.execute(
                delete(quota_leases).where(
                    quota_leases.c.worker == worker,
                    quota_leases.c.tenant_id == tenant_id,
                    quota_leases.c.month == month,
                )
            )


def reserve_tokens(
    engine: Engine, *, tenant_id: str, per_minute: int, now: float, need: int, lease: int
) -> Grant:
    """Take ``need`` tokens (plus up to ``lease`` more) from the bucket ``tenant_id`` names
    (a tenant's id, or ``<id>/feedback``), or none.

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
        self.fresh_until = math.inf  # spend only before this (the lease's expiry, less a margin)
        self.refill = asyncio.Lock()
        self.ahead: asyncio.Task[None] | None = None  # a refill started before the pool ran dry


class Limiter:
    """Admission for one worker: ``await admit(tenant, plan, rows)`` or ``TooManyRequests``.

    ``clock`` is wall-clock seconds shared by every worker (injected in tests: STYLE.md #6);
    ``write_gate`` is the lock this process's database writers share (see ``WriteBehind``);
    ``lease_seconds`` is how long a quota lease holds without renewal.
    """

    def __init__(
        self,
        engine: Engine,
        *,
        quota_lease: int,
        rate_lease: int,
        clock: Callable[[], float],
        write_gate: threading.Lock | None = None,
        lease_seconds: float = 60.0,
    ) -> None:
        self._engine = engine
        self._gate = write_gate or threading.Lock()
        self._released = False  # release() ran: reserve nothing more, keep nothing more
        self._quota_lease = quota_lease
        self._rate_lease = rate_lease
        self._clock = clock
        self._ttl = lease_seconds
        self._margin = lease_seconds / 4
        self.worker = secrets.token_hex(8)  # this process's name in quota_leases
        self._quota: dict[tuple[str, str], _Pool] = {}
        self._rate: dict[str, _Pool] = {}
        self._month: tuple[int, str] = (-1, "")  # (second, "YYYY-MM"): one format a second
        self._spent: dict[tuple[str, str], int] = {}  # rows admitted since the last flush
        self._spent_lock = threading.Lock()

    async def admit(self, tenant_id: str, *, per_minute: int, quota: int, rows: int) -> Ticket:
        """One request (a rate token) of ``rows`` rows (quota), or raise ``TooManyRequests``."""
        if rows > quota:
            raise TooManyRequests(
                f"{rows} rows exceed the plan's monthly quota of {quota}",
                retry_after=3600,
                code="quota_exceeded",
            )
        now = self._clock()
        await self.admit_request(tenant_id, per_minute=per_minute)
        second = int(now)
        if self._month[0] != second:
            self._month = (second, current_month(now))
        month = self._month[1]
        await self._take_quota(tenant_id, month, quota, rows, now)
        with self._spent_lock:
            self._spent[(tenant_id, month)] = self._spent.get((tenant_id, month), 0) + rows
        return Ticket(tenant_id, month, rows)

    async def admit_request(self, bucket: str, *, per_minute: int, what: str = "requests") -> None:
        """One token of the bucket ``bucket`` (``per_minute`` a minute), or ``TooManyRequests``."""
        pool = self._rate.get(bucket) or self._rate.setdefault(bucket, _Pool())
        if pool.units >= 1:  # the hot path: no await, no database
            pool.units -= 1
            if self._renew_due(pool):
                self._renew_ahead(pool, self._token_reserver(bucket, per_minute))
            return
        async with pool.refill:  # one refill at a time; the others then find the new units
            if pool.units >= 1:
                pool.units -= 1
                return
            reserve = self._token_reserver(bucket, per_minute)
            grant = await asyncio.to_thread(self._gated, pool, lambda: reserve(1), lambda _: 1)
            if grant is None:
                raise Unavailable("the server is stopping", retry_after=1)
            if grant.units == 0:
                raise TooManyRequests(
                    f"rate limit of {per_minute} {what} per minute reached",
                    retry_after=math.ceil(grant.retry_after),
                    code="rate_limited",
                )
            self._pool_add(pool, grant.units - 1)
            pool.last_grant = grant.units

    def _token_reserver(self, bucket: str, per_minute: int) -> Callable[[int], Grant]:
        def reserve(need: int) -> Grant:
            return reserve_tokens(
                self._engine,
                tenant_id=bucket,
                per_minute=per_minute,
                now=self._clock(),
                need=need,
                lease=min(self._rate_lease, max(1, per_minute // 100)),
            )

        return reserve

    def _quota_reserver(
        self, tenant_id: str, month: str, quota: int
    ) -> Callable[[int, int], Grant]:
        def reserve(need: int, holding: int) -> Grant:
            return reserve_quota(
                self._engine,
                tenant_id=tenant_id,
                month=month,
                quota=quota,
                need=need,
                lease=self._quota_lease,
                worker=self.worker,
                holding=holding,
                now=self._clock(),
                ttl=self._ttl,
            )

        return reserve

    async def _take_quota(
        self, tenant_id: str, month: str, quota: int, rows: int, now: float
    ) -> None:
        key = (tenant_id, month)
        pool = self._quota.get(key) or self._quota.setdefault(key, _Pool())
        if pool.units >= rows and now < pool.fresh_until:  # the hot path
            pool.units -= rows
            if self._renew_due(pool):
                ahead = self._quota_reserver(tenant_id, month, quota)
                self._renew_ahead(pool, lambda n: ahead(n, pool.units))
            return
        reserve = self._quota_reserver(tenant_id, month, quota)
        async with pool.refill:
            if pool.units >= rows and self._clock() < pool.fresh_until:
                pool.units -= rows
                return
            held, pool.units = pool.units, 0  # this request's: counted by the database

            def from_grant(grant: Grant) -> int:  # what the request takes of the new units
                have = 0 if grant.lost else held
                return max(0, rows - have) if grant.units else 0

            grant = await asyncio.to_thread(
                self._gated, pool, lambda: reserve(rows, held), from_grant
            )
            if grant is None:
                raise Unavailable("the server is stopping", retry_after=1)
            if grant.lost:
                log.warning("the quota lease of tenant %s expired and was reclaimed", tenant_id)
            have = 0 if grant.lost else held
            pool.fresh_until = grant.expires - self._margin
            if have + grant.units < rows:
                pool.units += have
                raise TooManyRequests(
                    f"monthly quota of {quota} rows reached ({grant.remaining + have} left, "
                    f"{rows} asked)",
                    retry_after=math.ceil(grant.retry_after),
                    code="quota_exceeded",
                    hint="upgrade the plan, or wait for next month",
                )
            taken = from_grant(grant)
            pool.units += have - (rows - taken)  # what is left of the holdings
            self._pool_add(pool, grant.units - taken)
            pool.last_grant = grant.units

    def refund(self, ticket: Ticket) -> None:
        """Rows admitted but not served (a timeout, an error) go back to this worker's lease."""
        pool = self._quota.get((ticket.tenant_id, ticket.month))
        if pool is None or self._released:
            return
        pool.units += ticket.rows
        key = (ticket.tenant_id, ticket.month)
        with self._spent_lock:
            self._spent[key] = self._spent.get(key, 0) - ticket.rows

    def write_spent(self, conn: Connection) -> Callable[[], None]:
        """Subtract the rows admitted since the last call from this worker's lease rows, in the
        caller's transaction (the write-behind's, which meters them). Returns the undo for a
        transaction that does not commit: the counts wait for the next one."""
        with self._spent_lock:
            spent, self._spent = self._spent, {}

        def undo() -> None:
            with self._spent_lock:
                for key, rows in spent.items():
                    self._spent[key] = self._spent.get(key, 0) + rows

        try:
            self._subtract(conn, spent)
        except BaseException:
            undo()
            raise
        return undo

    def _subtract(self, conn: Connection, spent: dict[tuple[str, str], int]) -> None:
        for (tenant_id, month), rows in spent.items():
            if rows:
                conn.execute(
                    update(quota_leases)
                    .where(
                        quota_leases.c.worker == self.worker,
                        quota_leases.c.tenant_id == tenant_id,
                        quota_leases.c.month == month,
                    )
                    .values(units=quota_leases.c.units - rows)
                )

    def leased_quota(self, tenant_id: str, month: str) -> int:
        pool = self._quota.get((tenant_id, month))
        return pool.units if pool else 0

    def _gated(
        self, pool: _Pool, reserve: Callable[[], Grant], take: Callable[[Grant], int]
    ) -> Grant | None:
        """A reservation, on a worker thread, queued behind this process's other writers in
        Python: on SQLite a writer that finds the database locked sleeps in steps of up to
        100 ms, so two writers of one process must not meet there (other processes still do,
        rarely). What the pool will receive is counted in ``in_flight`` under the same lock, so
        ``release`` hands back every unit reserved, even one still on its way to the pool.
        ``take``: units of the grant the waiting request takes at once. None once released."""
        with self._gate:
            if self._released:
                return None
            grant = reserve()
            if grant.units:
                pool.in_flight += grant.units - take(grant)
            return grant

    def _pool_add(self, pool: _Pool, units: int) -> None:
        """On the event loop: a reservation's units arrive (unless release() took them back)."""
        if self._released:
            return
        pool.in_flight -= units
        pool.units += units

    @staticmethod
    def _renew_due(pool: _Pool) -> bool:
        return (
            pool.last_grant >= AHEAD_MIN_LEASE
            and pool.units <= pool.last_grant // 2
            and pool.ahead is None
            and not pool.refill.locked()
        )

    def _renew_ahead(self, pool: _Pool, reserve: Callable[[int], Grant]) -> None:
        pool.ahead = asyncio.get_running_loop().create_task(self._renew(pool, reserve))

    async def _renew(self, pool: _Pool, reserve: Callable[[int], Grant]) -> None:
        """The next lease, reserved while the current one still serves; a refusal or an error
        is left to the request that finds the pool empty (it asks again and reports it)."""
        try:
            async with pool.refill:
                if pool.units > pool.last_grant // 2:  # a request refilled it meanwhile
                    return
                grant = await asyncio.to_thread(self._gated, pool, lambda: reserve(0), lambda _: 0)
                if grant is not None:
                    if grant.lost:
                        pool.units = 0
                    self._pool_add(pool, grant.units)
                    pool.last_grant = grant.units  # 0 (refused): no more renewals ahead
                    pool.fresh_until = grant.expires - self._margin
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
                release_quota(
                    self._engine,
                    tenant_id=tenant_id,
                    month=month,
                    units=max(0, units),
                    worker=self.worker,
                )
                pool.units = pool.in_flight = 0
