"""Adaptive micro-batching: rows of concurrent requests share one forward pass.

Requests arriving in the same event-loop turn are flushed together right after it (no timer
when the server is idle). Under load (the previous batch held several requests) a batch may
wait up to ``max_wait_s`` for more, and is flushed as soon as it holds ``max_rows`` rows.
Each caller gets exactly its own slice of the result; a batch that fails is retried request by
request so one bad request cannot fail its neighbours.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, Generic, TypeVar

__all__ = ["MicroBatcher"]

R = TypeVar("R")


class MicroBatcher(Generic[R]):
    """``await submit(rows)`` → ``run(rows)``'s result for these rows only.

    ``run(all_rows, sizes)`` does one pass over the concatenated rows and returns one result per
    request (``sizes`` are the requests' row counts, in order).
    """

    def __init__(
        self,
        run: Callable[[list[dict[str, Any]], list[int]], list[R]],
        *,
        max_rows: int = 64,
        max_wait_s: float = 0.002,
        on_batch: Callable[[int, int], None] | None = None,
    ) -> None:
        self._run = run
        self._max_rows = max_rows
        self._max_wait = max_wait_s
        self._on_batch = on_batch
        self._rows: list[dict[str, Any]] = []
        self._sizes: list[int] = []
        self._futures: list[asyncio.Future[R]] = []
        self._handle: asyncio.Handle | asyncio.TimerHandle | None = None
        self._busy = False  # the previous batch held more than one request

    async def submit(self, rows: list[dict[str, Any]]) -> R:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[R] = loop.create_future()
        self._rows.extend(rows)
        self._sizes.append(len(rows))
        self._futures.append(future)
        if len(self._rows) >= self._max_rows:
            if self._handle is not None:
                self._handle.cancel()
            self._handle = None
            self._flush()
        elif self._handle is None:
            if self._busy and self._max_wait > 0:
                self._handle = loop.call_later(self._max_wait, self._flush)
            else:
                self._handle = loop.call_soon(self._flush)
        return await future

    def _flush(self) -> None:
        self._handle = None
        rows, sizes, futures = self._rows, self._sizes, self._futures
        self._rows, self._sizes, self._futures = [], [], []
        if not futures:
            return
        self._busy = len(futures) > 1
        if self._on_batch is not None:
            self._on_batch(len(rows), len(futures))
        try:
            results = self._run(rows, sizes)
        except Exception as exc:  # not swallowed: the failing request's future gets it
            if len(futures) == 1:
                self._settle(futures[0], None, exc)
                return
            results = None
        if results is not None:
            for future, result in zip(futures, results, strict=True):
                self._settle(future, result, None)
            return
        start = 0
        for future, size in zip(futures, sizes, strict=True):  # isolate the failing request
            try:
                result = self._run(rows[start : start + size], [size])[0]
                self._settle(future, result, None)
            except Exception as exc:  # raised to this request's caller, and only to it
                self._settle(future, None, exc)
            start += size

    @staticmethod
    def _settle(future: asyncio.Future[R], result: R | None, exc: BaseException | None) -> None:
        if future.done():  # the caller timed out and went away
            return
        if exc is not None:
            future.set_exception(exc)
        else:
            future.set_result(result)  # type: ignore[arg-type]
