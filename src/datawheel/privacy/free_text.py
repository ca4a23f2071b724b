"""Free text: replace the PII spans `scan_pii` finds; record which operator touched which span."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal

from datawheel.privacy.operators import text_operator
from datawheel.privacy.scan import scan_pii
from datawheel.privacy.spans import Span
from datawheel.secret import SecretKey

__all__ = ["SpanRecord", "anonymize_text"]


@dataclass(frozen=True, slots=True)
class SpanRecord:
    """One span of the *input* text (code points, end exclusive) and the operator applied to it.

    ``replacement`` is the text that took its place (``keep`` leaves it unchanged); the original
    value is never recorded.
    """

    start: int
    end: int
    type: str
    operator: str
    replacement: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _replace(text: str, spans: list[Span], op: Any, name: str) -> tuple[str, list[SpanRecord]]:
    parts: list[str] = []
    records: list[SpanRecord] = []
    last = 0
    for span in spans:  # resolved spans: sorted by start, never overlapping
        replacement = op(text[span.start : span.end], span.type)
        parts += [text[last : span.start], replacement]
        records.append(SpanRecord(span.start, span.end, span.type, name, replacement))
        last = span.end
    parts.append(text[last:])
    return "".join(parts), records


def anonymize_text(
    texts: Sequence[str | None],
    *,
    key: SecretKey,
    operator: str = "pseudonymize",
    entities: Literal["all"] | Iterable[str] = "all",
    lang: Literal["auto", "en", "zh"] = "auto",
    column: str = "text",
) -> tuple[list[str | None], list[list[SpanRecord]]]:
    """Replace each PII span of each text; returns the texts and, per text, its span records.

    ``entities`` limits the types (``"all"`` or e.g. ``["EMAIL", "PHONE"]``; an empty list
    changes nothing). ``None`` stays ``None``.

    >>> from datawheel.secret import SecretKey
    >>> out, rec = anonymize_text(["mail ann@example.com"], key=SecretKey.generate(),
    ...                           operator="redact")
    >>> out, [(r.start, r.end, r.type, r.operator) for r in rec[0]]
    (['mail [EMAIL]'], [(5, 20, 'EMAIL', 'redact')])
    """
    op = text_operator(operator, key=key, column=column)
    wanted = None if entities == "all" else list(entities)
    if wanted == []:
        return list(texts), [[] for _ in texts]
    spans = scan_pii(texts, lang=lang, entities=wanted)
    out: list[str | None] = []
    records: list[list[SpanRecord]] = []
    for text, found in zip(texts, spans, strict=True):
        if text is None or not found:
            out.append(text)
            records.append([])
            continue
        new, recs = _replace(text, found, op, operator)
        out.append(new)
        records.append(recs)
    return out, records
