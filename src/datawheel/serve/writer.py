"""Write-behind for the hot path: prediction logs, usage and error counters and the keys' "last
used" are queued in memory and written by one thread every few milliseconds, many rows in one
transaction.

What may wait: the prediction log and metering (a crash loses at most one flush interval).
What may not: quota admission, which stays synchronous and atomic in ``limits``.

A flush the database refuses for a passing reason (locked, connection lost, pool timeout) is put
back at the head of the queue and retried with back-off; rows beyond ``max_pending_rows``, a
batch the database rejects outright (which would fail forever), and what is still unwritten
when the writer stops are dropped — each drop logged and counted, never silent.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import Connection, Engine, exc, insert

from datawheel.serve.metering import record_key_use, record_usage_many
from datawheel.store.db import predictions

__all__ = ["PREDICTION_COLUMNS", "WriteBehind"]

log = logging.getLogger(__name__)

PREDICTION_COLUMNS = (
    "id",
    "tenant_id",
    "model_version",
    "subject",
    "features",
    "label",
    "probabilities",
    "latency_ms",
    "shadow",
    "created_at",
    "request_id",  # the champion's prediction id, shared by the shadow's row for that request
)
_PARAM = {"qmark": "?", "format": "%s", "pyformat": "%s"}
# the database may take the same rows a moment later: requeue, do not drop
TRANSIENT = (exc.OperationalError, exc.InterfaceError, exc.TimeoutError, exc.DisconnectionError)
MAX_RETRY_DELAY_S = 1.0


def _dumps(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS | orjson.OPT_SERIALIZE_NUMPY).decode()


_Counters = Counter[tuple[str, str, str]]  # (tenant, endpoint, day) → count


@dataclass
class _Pending:
    """What one flush writes: taken from the queue whole, put back whole if the flush fails."""

    records: list[tuple[Any, ...]] = field(default_factory=list)
    rows: _Counters = field(default_factory=Counter)  # rows answered
    requests: _Counters = field(default_factory=Counter)  # requests answered
    client_errors: _Counters = field(default_factory=Counter)  # 4xx once the key was known
    server_errors: _Counters = field(default_factory=Counter)  # 5xx
    keys_used: dict[str, str] = field(default_factory=dict)  # key id → latest ISO time

    def __bool__(self) -> bool:
        return bool(
            self.records or self.rows or self.requests or self.client_errors
            or self.server_errors or self.keys_used
        )  # fmt: skip

    def merge_into(self, later: _Pending) -> None:
        """Put these (older) items in front of ``later``'s: counters add, times keep the latest."""
        later.records[:0] = self.records
        for mine, theirs in (
            (self.rows, later.rows), (self.requests, later.requests),
            (self.client_errors, later.client_errors), (self.server_errors, later.server_errors),
        ):  # fmt: skip
            theirs.update(mine)
        for key_id, at in self.keys_used.items():
            if at > later.keys_used.get(key_id, ""):
                later.keys_used[key_id] = at

    def counters(self) -> list[dict[str, object]]:
        """One usage row per (tenant, endpoint, day) touched, for ``record_usage_many``."""
        out = []
        for slot in {*self.rows, *self.requests, *self.client_errors, *self.server_errors}:
            tenant_id, endpoint, day = slot
            out.append(
                {"tenant_id": tenant_id, "endpoint": endpoint, "day": day,
                 "requests": self.requests[slot], "rows": self.rows[slot],
                 "client_errors": self.client_errors[slot],
                 "server_errors": self.server_errors[slot]}
            )  # fmt: skip
        return out


class WriteBehind:
    """``log(records)``, ``meter(tenant, endpoint, rows)``, ``meter_error(tenant, endpoint,
    server=…)`` and ``key_used(key_id, at)`` return at once; a daemon thread writes them.
    ``flush()`` waits until everything queued before it is committed.

    ``before_flush`` (e.g. the shadow model's batched pass, which calls ``log``) and ``submit``-ted
    callables run on the writer thread before each flush, off the request path.

    ``on_error(kind, dropped_rows)`` hears of each failure — ``kind`` is ``"flush"`` (a write
    the database refused) or ``"background"`` (a submitted job) — e.g. to count it on
    ``/metrics``; ``failed_flushes`` and ``dropped_rows`` keep the totals.
    """

    def __init__(
        self,
        engine: Engine,
        *,
        interval_s: float = 0.005,
        before_flush: Callable[[], None] | None = None,
        write_gate: threading.Lock | None = None,
        max_pending_rows: int = 100_000,
        on_error: Callable[[str, int], None] | None = None,
        on_write: Callable[[Connection], Callable[[], None]] | None = None,
    ) -> None:
        self._engine = engine
        # more writes in each flush's transaction (lease accounting); returns how to undo them
        # in memory when the transaction does not commit (the flush is then retried)
        self._on_write = on_write
        self._max_pending = max_pending_rows  # prediction rows held while the database refuses
        self._on_error = on_error
        self.failed_flushes = 0
        self.dropped_rows = 0  # prediction log rows lost (each loss also logged)
        self._failures = 0  # consecutive failed flushes: the back-off
        self._gate = write_gate or threading.Lock()  # shared with the quota leases (limits)
        self._before_flush = before_flush
        self._interval = interval_s
        self._pending = _Pending()
        self._work: list[Callable[[], None]] = []
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._written = 0  # flush generation counters
        self._queued = 0
        self._stop = False
        self._day: tuple[int, str] = (-1, "")
        dialect = engine.dialect
        mark = _PARAM.get(dialect.paramstyle)
        self._raw_sql = (
            f"INSERT INTO predictions ({', '.join(PREDICTION_COLUMNS)}) "
            f"VALUES ({', '.join([mark] * len(PREDICTION_COLUMNS))})"
            if mark
            else None
        )
        self._thread = threading.Thread(target=self._run, name="datawheel-writer", daemon=True)
        self._thread.start()

    # -- producers (any thread) -----------------------------------------------------------------

    def log(self, rows: list[tuple[Any, ...]]) -> None:
        """Queue prediction rows: tuples in ``PREDICTION_COLUMNS`` order, JSON fields as dicts."""
        with self._lock:
            self._pending.records.extend(rows)
            self._queued += 1

    def _today(self) -> str:
        second = int(time.time())
        if self._day[0] != second:  # one date format a second, not one a request
            self._day = (second, datetime.fromtimestamp(second, UTC).strftime("%Y-%m-%d"))
        return self._day[1]

    def meter(self, tenant_id: str, endpoint: str, rows: int) -> None:
        """Count one answered request of ``rows`` rows (what is billed)."""
        slot = (tenant_id, endpoint, self._today())
        with self._lock:
            self._pending.rows[slot] += rows
            self._pending.requests[slot] += 1
            self._queued += 1

    def meter_error(self, tenant_id: str, endpoint: str, *, server: bool) -> None:
        """Count one request of a known tenant that was refused (4xx) or failed (``server``:
        5xx); the console shows them per day beside the requests."""
        slot = (tenant_id, endpoint, self._today())
        with self._lock:
            (self._pending.server_errors if server else self._pending.client_errors)[slot] += 1
            self._queued += 1

    def key_used(self, key_id: str, at: str) -> None:
        """Record that key ``key_id`` was used at ``at`` (ISO); one row per key per flush."""
        with self._lock:
            if at > self._pending.keys_used.get(key_id, ""):
                self._pending.keys_used[key_id] = at
            self._queued += 1

    def submit(self, work: Callable[[], None]) -> None:
        with self._lock:
            self._work.append(work)
            self._queued += 1

    def flush(self, timeout: float = 10.0) -> None:
        """Block until everything queued so far is committed, or its write failed (then it is
        queued again, or dropped and counted)."""
        with self._lock:
            target = self._queued
            self._wake.notify()
            deadline = time.monotonic() + timeout
            while self._written < target and not self._stop:
                if not self._wake.wait(max(0.0, deadline - time.monotonic())):
                    break

    def close(self) -> None:
        self.flush()
        with self._lock:
            self._stop = True
            self._wake.notify_all()
        self._thread.join(timeout=5)

    # -- the writer thread ----------------------------------------------------------------------

    def _run(self) -> None:
        while True:
            with self._lock:
                if self._queued == self._written and not self._failures:
                    if self._stop:
                        return
                    self._wake.wait(self._interval)
                work, self._work = self._work, []
            if self._before_flush is not None:
                work.append(self._before_flush)
            for job in work:
                try:
                    job()
                except Exception:  # a shadow model failing must never touch the served path
                    log.exception("background work on the writer thread failed")
                    self._report("background", 0)
            # gather a few more requests into this transaction; after a failure, back off
            time.sleep(min(self._interval * 2**self._failures, MAX_RETRY_DELAY_S))
            with self._lock:
                pending, self._pending = self._pending, _Pending()
                generation = self._queued
                stopping = self._stop
            try:
                with self._gate:
                    self._write(pending)
                self._failures = 0
            except TRANSIENT:
                self._failures += 1
                if stopping:
                    self._failed(pending, "the writer stopped while the database refused")
                else:
                    log.warning("write-behind flush failed (try %d): %d prediction logs queued "
                                "again", self._failures, len(pending.records),
                                exc_info=True)  # fmt: skip
                    self._requeue(pending)
            except Exception:  # rows the database will never take: retrying would block the log
                log.exception("write-behind: the database rejected a batch")
                self._failed(pending, "the database rejected the batch")
            with self._lock:
                self._written = generation
                self._wake.notify_all()
            if stopping and self._failures:
                return

    def _requeue(self, pending: _Pending) -> None:
        """Put a failed flush back at the head of the queue; beyond ``max_pending_rows`` the
        oldest rows are dropped (and counted), so a long outage cannot exhaust memory."""
        with self._lock:
            pending.merge_into(self._pending)  # counters merge: one entry per tenant and day
            records = self._pending.records
            excess = max(0, len(records) - self._max_pending)
            del records[:excess]
        if excess:
            log.error("write-behind dropped the %d oldest prediction logs: more than %d wait "
                      "for the database", excess, self._max_pending)  # fmt: skip
        self._count(excess)

    def _failed(self, pending: _Pending, why: str) -> None:
        """A flush that will not be retried: its rows are lost, and said so."""
        log.error("write-behind dropped %d prediction logs and %d usage counts: %s",
                  len(pending.records), len(pending.counters()), why)  # fmt: skip
        self._count(len(pending.records))

    def _count(self, dropped: int) -> None:
        self.failed_flushes += 1
        self.dropped_rows += dropped
        self._report("flush", dropped)

    def _report(self, kind: str, dropped: int) -> None:
        if self._on_error is not None:
            self._on_error(kind, dropped)

    def _write(self, pending: _Pending) -> None:
        if not pending:
            return
        undo: list[Callable[[], None]] = []
        try:
            self._write_rows(pending, undo)
        except BaseException:
            for step in undo:  # the transaction did not commit: the hook's work is undone
                step()
            raise

    def _write_rows(self, pending: _Pending, undo: list[Callable[[], None]]) -> None:
        records = pending.records
        with self._engine.begin() as conn:
            if records and self._raw_sql:
                conn.exec_driver_sql(
                    self._raw_sql,
                    [(*r[:4], _dumps(r[4]), r[5], _dumps(r[6]), *r[7:]) for r in records],
                )
            elif records:
                conn.execute(
                    insert(predictions),
                    [dict(zip(PREDICTION_COLUMNS, r, strict=True)) for r in records],
                )
            if self._on_write is not None:
                undo.append(self._on_write(conn))
            record_usage_many(conn, pending.counters())
            record_key_use(conn, pending.keys_used)
