"""Time windows: "7d"-style durations, and the ISO cut-off they mean at a given moment."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from datawheel.errors import UsageError

__all__ = ["Clock", "parse_duration", "since", "utc_now"]

Clock = Callable[[], datetime]
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def utc_now() -> datetime:
    return datetime.now(UTC)


def parse_duration(text: str) -> timedelta:
    """``"90s"``, ``"30m"``, ``"24h"``, ``"7d"``, ``"2w"`` → a timedelta."""
    value, unit = text[:-1], text[-1:]
    try:
        seconds = float(value) * _UNITS[unit]
    except (KeyError, ValueError):
        raise UsageError(
            f"invalid duration {text!r}", hint='a number and a unit s m h d w, e.g. "7d"'
        ) from None
    if seconds <= 0:
        raise UsageError(f"duration must be > 0, got {text!r}")
    return timedelta(seconds=seconds)


def since(window: str | None, now: datetime | None = None) -> str | None:
    """The ISO timestamp ``window`` before ``now`` (as stored in every table), or None."""
    if window is None:
        return None
    return ((now or utc_now()) - parse_duration(window)).isoformat(timespec="microseconds")
