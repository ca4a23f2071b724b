"""The `Span` a recognizer reports, and overlap resolution between spans."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from itertools import pairwise

__all__ = ["Span", "resolve_overlaps"]


@dataclass(frozen=True, slots=True)
class Span:
    """One detected entity: ``text[start:end]`` (code points, end exclusive) is of ``type``.

    ``score`` is a confidence in [0, 1]; ``recognizer`` names what found it (not serialized).
    """

    start: int
    end: int
    type: str
    score: float
    recognizer: str = field(default="", compare=False)

    def to_dict(self) -> dict[str, object]:
        """The public JSON shape: exactly ``start``, ``end``, ``type``, ``score``."""
        return {"start": self.start, "end": self.end, "type": self.type, "score": self.score}


def resolve_overlaps(spans: Iterable[Span]) -> list[Span]:
    """Keep non-overlapping spans: the higher score wins, then the longer, then the earlier.

    Greedy over spans ranked best first, so the result is deterministic; returned by ``start``.
    """
    by_start = sorted(spans, key=_start)
    if all(a.end <= b.start for a, b in pairwise(by_start)):
        return by_start  # the common case: nothing overlaps
    ranked = sorted(by_start, key=lambda s: (-s.score, -(s.end - s.start), s.start, s.type))
    kept: list[Span] = []
    for span in ranked:
        if all(span.end <= k.start or span.start >= k.end for k in kept):
            kept.append(span)
    kept.sort(key=lambda s: s.start)
    return kept


def _start(span: Span) -> int:
    return span.start
