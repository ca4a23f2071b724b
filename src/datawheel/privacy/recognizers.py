"""The default recognizers: what `scan_pii` runs, with the cheap trigger of each.

Each recognizer is one small object with ``entity``, ``name``, ``trigger`` (a cheap test a text
must pass before the regex runs) and ``find(text, lower) -> list[Span]``. Scores: the base score
of the pattern, raised by a validator (checksum, ranges) and by a context word ("phone", "电话",
"卡号" …) in the ``CONTEXT_WINDOW`` characters before the match; a failed validator drops the
candidate, and a number right after "order", "tracking", "订单号" … is dropped unless its own
context word is there too. Numeric types (phone, card, SSN, CN id, IPv4) search only inside the
runs of digits and separators that `numeric_chunks` finds, each run searched only by the types
whose minimum digit count it reaches. Modules: `recognizers_base` (protocol, context),
`recognizers_patterns` (regexes, scorers), `recognizers_validators` (checksums),
`recognizers_address` (ADDRESS), `names` (PERSON).
"""

from __future__ import annotations

from datawheel.privacy.recognizers_base import (
    CONTEXT_WINDOW,
    CONTEXT_WORDS,
    PatternRecognizer,
    Recognizer,
    has_context,
    numeric_chunks,
)
from datawheel.privacy.recognizers_patterns import (
    BareDomainRecognizer,
    DateOfBirthRecognizer,
    default_pattern_recognizers,
)

__all__ = [
    "CONTEXT_WINDOW",
    "CONTEXT_WORDS",
    "BareDomainRecognizer",
    "DateOfBirthRecognizer",
    "PatternRecognizer",
    "Recognizer",
    "default_pattern_recognizers",
    "has_context",
    "numeric_chunks",
]
