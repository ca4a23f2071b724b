"""Waiting in tests: poll a condition until it holds, or fail saying what never happened.

Tests never sleep a fixed time to let something happen and never assert how long something
took (timing belongs in benchmarks/): on a loaded 2-core machine a fixed sleep is sometimes too
short and a time limit sometimes too tight. The timeouts here are generous on purpose: they
only bound how long a broken test hangs, a passing one returns as soon as the condition holds.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")

TIMEOUT = 60.0  # seconds; a hang guard, not a performance limit


def wait_until(
    condition: Callable[[], T], *, what: str, timeout: float = TIMEOUT, every: float = 0.02
) -> T:
    """Call ``condition`` until it returns something truthy, and return that; raise
    ``AssertionError`` naming ``what`` after ``timeout`` seconds. ``condition`` may itself
    raise (e.g. assert that a watched process is still alive) to fail early."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"waited {timeout:g} s for {what}; it never happened")
        time.sleep(every)


async def wait_until_async(
    condition: Callable[[], T], *, what: str, timeout: float = TIMEOUT, every: float = 0.01
) -> T:
    """``wait_until`` for code on an event loop: the loop keeps running between polls
    (``every=0``: poll once per loop turn, to catch a state that lasts only a few turns)."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"waited {timeout:g} s for {what}; it never happened")
        await asyncio.sleep(every)
