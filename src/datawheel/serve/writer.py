"""Write-behind for the hot path: prediction logs and usage counters are queued in memory and
written by one thread every few milliseconds, many rows in one transaction.

What may wait: the prediction log and metering (a crash loses at most one flush interval).
What may not: quota admission, which stays synchronous and atomic in ``limits``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import Engine, insert

from datawheel.serve.metering import record_usage_many
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


def _dumps(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS | orjson.OPT_SERIALIZE_NUMPY).decode()


class WriteBehind:
    """``log(records)`` and ``meter(tenant, endpoint, rows)`` return at once; a daemon thread
    writes them. ``flush()`` waits until everything queued before it is committed.

    ``before_flush`` (e.g. the shadow model's batched pass, which calls ``log``) and ``submit``-ted
    callables run on the writer thread before each flush, off the request path.
    """

    def __init__(
        self,
        engine: Engine,
        *,
        interval_s: float = 0.005,
        before_flush: Callable[[], None] | None = None,
        write_gate: threading.Lock | None = None,
    ) -> None:
        self._engine = engine
        self._gate = write_gate or threading.Lock()  # shared with the quota leases (limits)
        self._before_flush = before_flush
        self._interval = interval_s
        self._records: list[tuple[Any, ...]] = []
        self._usage: Counter[tuple[str, str, str]] = Counter()
        self._requests: Counter[tuple[str, str, str]] = Counter()
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
            self._records.extend(rows)
            self._queued += 1

    def meter(self, tenant_id: str, endpoint: str, rows: int) -> None:
        second = int(time.time())
        if self._day[0] != second:  # one date format a second, not one a request
            self._day = (second, datetime.fromtimestamp(second, UTC).strftime("%Y-%m-%d"))
        day = self._day[1]
        with self._lock:
            self._usage[(tenant_id, endpoint, day)] += rows
            self._requests[(tenant_id, endpoint, day)] += 1
            self._queued += 1

    def submit(self, work: Callable[[], None]) -> None:
        with self._lock:
            self._work.append(work)
            self._queued += 1

    def flush(self, timeout: float = 10.0) -> None:
        """Block until everything queued so far is committed."""
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
                if self._queued == self._written:
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
                    log.exception("background work failed")
            time.sleep(self._interval)  # gather a few more requests into this transaction
            with self._lock:
                records, self._records = self._records, []
                usage, self._usage = self._usage, Counter()
                requests, self._requests = self._requests, Counter()
                generation = self._queued
            try:
                with self._gate:
                    self._write(records, usage, requests)
            except Exception:
                log.exception("write-behind failed; %d prediction logs lost", len(records))
            with self._lock:
                self._written = generation
                self._wake.notify_all()

    def _write(
        self,
        records: list[tuple[Any, ...]],
        usage: Counter[tuple[str, str, str]],
        requests: Counter[tuple[str, str, str]],
    ) -> None:
        if not records and not usage:
            return
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
            record_usage_many(
                conn,
                [
                    {"tenant_id": tenant_id, "endpoint": endpoint, "day": day,
                     "requests": requests[(tenant_id, endpoint, day)], "rows": rows}
                    for (tenant_id, endpoint, day), rows in usage.items()
                ],
            )  # fmt: skip
