"""`scan_pii`: run the recognizers over texts and return resolved spans; `scan_frame` for tables."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from functools import cache
from typing import TYPE_CHECKING, Any, Literal

from datawheel.errors import DataError, UsageError
from datawheel.privacy.names import CnPersonRecognizer, EnPersonRecognizer
from datawheel.privacy.recognizers import (
    PatternRecognizer,
    default_pattern_recognizers,
    numeric_chunks,
)
from datawheel.privacy.recognizers_address import CnAddressRecognizer, UsAddressRecognizer
from datawheel.privacy.spans import Span, resolve_overlaps

if TYPE_CHECKING:
    import polars as pl

__all__ = ["ENTITIES", "detect_language", "scan_frame", "scan_pii", "scan_text"]

Lang = Literal["auto", "en", "zh"]
_DIGIT = re.compile(r"[0-9]")

ENTITIES = (
    "PERSON", "EMAIL", "PHONE", "CREDIT_CARD", "IBAN", "US_SSN", "CN_RESIDENT_ID", "IP_ADDRESS",
    "URL", "ADDRESS", "DATE_OF_BIRTH", "PASSPORT",
)  # fmt: skip


@cache
def _plan(lang: Lang) -> tuple[tuple[Any, ...], tuple[PatternRecognizer, ...]]:
    """(recognizers run on the whole text, numeric ones run per numeric chunk) for ``lang``.

    ``auto`` runs both languages' PERSON and ADDRESS: their triggers skip what cannot match.
    """
    patterns = default_pattern_recognizers()
    english = (EnPersonRecognizer(), UsAddressRecognizer())
    chinese = (CnPersonRecognizer(), CnAddressRecognizer())
    plain = tuple(p for p in patterns if not p.numeric)
    numeric = tuple(p for p in patterns if p.numeric)
    extra = {"auto": english + chinese, "en": english, "zh": chinese}[lang]
    return plain + extra, numeric


def detect_language(text: str) -> Literal["en", "zh"]:
    """``zh`` when at least 20 % of the letters are CJK ideographs, else ``en``."""
    cjk = letters = 0
    for c in text:
        if "\u4e00" <= c <= "\u9fff":
            cjk += 1
            letters += 1
        elif c.isalpha():
            letters += 1
    return "zh" if letters and cjk / letters >= 0.2 else "en"


def scan_text(
    text: str,
    *,
    lang: Lang = "auto",
    entities: frozenset[str] | None = None,
    threshold: float = 0.5,
) -> list[Span]:
    """Resolved spans of one text at or above ``threshold``, ordered by ``start``."""
    if not text:
        return []
    plain, numeric = _plan(lang)
    lower = _lower(text)
    found: list[Span] = []
    for rec in plain:
        if (entities is None or rec.entity in entities) and rec.trigger(text):
            found += rec.find(text, lower)
    if numeric and _DIGIT.search(text):
        for s, e, n in numeric_chunks(text):
            for rec in numeric:
                if n >= rec.min_digits and (entities is None or rec.entity in entities):
                    found += rec.find(text, lower, s, e)
    if threshold > 0:
        found = [x for x in found if x.score >= threshold]
    if len(found) < 2:
        return found
    return resolve_overlaps(_inside_checksums(found))


def _lower(text: str) -> str:
    """``text`` lower-cased code point by code point, so offsets into it are offsets into
    ``text`` ("İ".lower() is two code points; it stays as it is)."""
    lower = text.lower()
    if len(lower) == len(text):
        return lower
    return "".join(c if len(c.lower()) != 1 else c.lower() for c in text)


# Types whose spans pass a checksum: a span of another type inside one is a piece of it
# ("0557 2622 9277" inside the card "2202 0557 2622 9277" is no phone number).
_CHECKSUMMED = frozenset({"CREDIT_CARD", "IBAN", "CN_RESIDENT_ID"})


def _inside_checksums(spans: list[Span]) -> list[Span]:
    """``spans`` less those of another type lying inside a checksum-validated span."""
    wholes = [s for s in spans if s.type in _CHECKSUMMED]
    if not wholes:
        return spans
    return [
        s
        for s in spans
        if not any(
            w.type != s.type and w.start <= s.start and s.end <= w.end and w != s for w in wholes
        )
    ]


def scan_pii(
    texts: Sequence[str | None],
    *,
    lang: Lang = "auto",
    entities: Iterable[str] | None = None,
    threshold: float = 0.5,
) -> list[list[Span]]:
    """Find PII in each text: one list of non-overlapping spans per input, in input order.

    ``None`` and empty texts give ``[]``. ``entities`` limits the types (default: all of
    `ENTITIES`); ``threshold`` is the minimum score reported.

    >>> [s.type for s in scan_pii(["mail me at ann@example.com"])[0]]
    ['EMAIL']
    """
    if lang not in ("auto", "en", "zh"):
        raise UsageError(f"lang must be one of auto, en, zh, got {lang!r}", hint="use --lang auto")
    if not 0.0 <= threshold <= 1.0:
        raise UsageError(f"threshold must be in [0, 1], got {threshold}")
    wanted = None
    if entities is not None:
        wanted = frozenset(e.upper() for e in entities)
        unknown = sorted(wanted - set(ENTITIES))
        if unknown:
            raise UsageError(
                f"unknown PII entity {unknown[0]!r}", hint=f"choose from {', '.join(ENTITIES)}"
            )
    return [
        scan_text(t, lang=lang, entities=wanted, threshold=threshold) if t else [] for t in texts
    ]


def scan_frame(
    frame: pl.DataFrame,
    text_field: str | None = None,
    *,
    lang: Lang = "auto",
    entities: Iterable[str] | None = None,
    threshold: float = 0.5,
) -> list[list[Span]]:
    """`scan_pii` over one text column of ``frame``; the column may be omitted if only one is text.

    Raises `DataError` when the column is missing, is not text, or cannot be guessed.
    """
    import polars as pl  # lazily: `import datawheel` stays fast

    if text_field is None:
        text_cols = [c for c, t in frame.schema.items() if t == pl.String]
        if len(text_cols) != 1:
            raise DataError(
                f"cannot tell which column holds the text: {len(text_cols)} text columns",
                hint="pass --text-field NAME",
            )
        text_field = text_cols[0]
    if text_field not in frame.columns:
        raise DataError(
            f"no column {text_field!r}; columns are {', '.join(frame.columns)}",
            hint="pass --text-field with one of them",
        )
    column = frame.get_column(text_field)
    if column.dtype != pl.String:
        column = column.cast(pl.String, strict=False)
    return scan_pii(column.to_list(), lang=lang, entities=entities, threshold=threshold)
