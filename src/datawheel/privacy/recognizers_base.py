"""The recognizer protocol, context words and numeric chunks that every recognizer shares.

A recognizer is one small object with ``entity``, ``name``, ``trigger(text) -> bool`` (a cheap
test a text must pass before the search runs) and ``find(text, lower) -> list[Span]``.
`PatternRecognizer` is the common kind: a regex, a scorer (validator) and context words.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from datawheel.privacy.spans import Span

# fmt: off
__all__ = [
    "CONTEXT_WINDOW", "CONTEXT_WORDS", "PatternRecognizer", "Recognizer", "has_context",
    "not_pii_before", "numeric_chunks",
]
# fmt: on

CONTEXT_WINDOW = 40  # characters before a match searched for a context word

# Lower-case context words per entity, English and Chinese.
# fmt: off
CONTEXT_WORDS: dict[str, tuple[str, ...]] = {
    "PHONE": (
        "phone", "tel", "call", "mobile", "cell", "fax", "contact", "whatsapp", "sms", "text me",
        "reach", "dial", "ring",
        "电话", "手机", "联系", "致电", "号码", "拨打", "座机", "来电", "微信",
    ),
    "CREDIT_CARD": (
        "card", "credit", "visa", "mastercard", "amex", "unionpay", "debit", "payment", "maestro",
        "jcb", "diners", "discover", "charged", "billed", "cardholder", "refund", "pan", "卡号",
        "信用卡", "银行卡", "银联", "借记卡", "卡", "账户", "扣款", "刷卡", "退款",
    ),
    "IBAN": (
        "iban", "bank", "account", "transfer", "wire", "账户", "账号", "银行", "转账", "汇款",
    ),
    "US_SSN": (
        "ssn", "social security", "social", "ss#", "社会安全号",
    ),
    "CN_RESIDENT_ID": (
        "身份证", "身份证号", "证件号", "id card", "resident id", "id number", "公民身份",
    ),
    "IP_ADDRESS": (
        "ip", "address", "server", "host", "地址", "服务器", "登录",
    ),
    "URL": (
        "http", "link", "site", "website", "url", "page", "链接", "网址", "网站", "网页",
    ),
    "EMAIL": (
        "email", "e-mail", "mail", "邮箱", "邮件", "电邮",
    ),
    "PASSPORT": (
        "passport", "护照",
    ),
    "DATE_OF_BIRTH": (
        "born", "birth", "dob", "d.o.b", "birthday", "出生", "生日", "生于",
    ),
}
# fmt: on

# Words that make a nearby number an identifier of something else (an order, a parcel); a numeric
# candidate right after one is dropped unless its own context word is present too. English words
# match whole ("ref", not the "ref" in "Firefighter"); the Chinese ones name an identifier
# ("快递单号"), not the courier himself ("快递员" is followed by his phone number).
_NOT_PII = re.compile(
    r"\b(?:order|orders|tracking|invoice|ticket|ref|sku|awb)\b|#|订单|单号|编号|流水号|运单|物流单"
)
NOT_PII_WINDOW = 16


def not_pii_before(before: str, tail: int) -> int:
    """Start of the last not-PII word in ``before[tail:]`` (lower-cased text), or -1."""
    last = -1
    for m in _NOT_PII.finditer(before, tail):
        last = m.start()
    return last


def has_context(
    lower: str, start: int, words: tuple[str, ...], window: int = CONTEXT_WINDOW
) -> bool:
    """Whether one of ``words`` occurs in the ``window`` characters before ``start``."""
    before = lower[max(0, start - window) : start]
    return any(w in before for w in words)


Scorer = Callable[[re.Match[str]], "tuple[int, int, float] | None"]


@dataclass(frozen=True)
class PatternRecognizer:
    """A regex, a scorer (validator) and context words; the scorer may reject or trim a match.

    ``scorer(match)`` returns ``(start, end, score)`` or ``None`` to drop the candidate. A context
    word raises the score by ``boost``; with ``needs_context`` a match without one is dropped.
    """

    entity: str
    name: str
    pattern: re.Pattern[str]
    scorer: Scorer
    trigger: Callable[[str], bool]
    boost: float = 0.15
    needs_context: bool = False
    numeric: bool = False  # candidates lie inside `numeric_chunks`: search only those
    min_digits: int = 0  # a numeric chunk with fewer digits cannot hold a candidate
    context: tuple[str, ...] = field(default=())

    def find(self, text: str, lower: str, pos: int = 0, endpos: int | None = None) -> list[Span]:
        """Accepted matches in ``text[pos:endpos]`` (``lower`` is ``text.lower()``, made once)."""
        out: list[Span] = []
        words = self.context or CONTEXT_WORDS.get(self.entity, ())
        matches = self.pattern.finditer(text, pos, len(text) if endpos is None else endpos)
        for m in matches:
            hit = self.scorer(m)
            if hit is None:
                continue
            start, end, score = hit
            before = lower[max(0, start - CONTEXT_WINDOW) : start]
            cue = max((before.rfind(w) for w in words), default=-1)
            if self.numeric or self.entity == "PASSPORT":
                tail = max(0, len(before) - NOT_PII_WINDOW)
                if not_pii_before(before, tail) > cue:
                    continue  # "订单号 …" is nearer than "护照": an order number
            if cue >= 0:
                score = min(1.0, score + self.boost)
            elif self.needs_context:
                continue
            out.append(Span(start, end, self.entity, round(score, 3), self.name))
        return out


Recognizer = PatternRecognizer  # the protocol every recognizer follows: entity, name, trigger, find

# Runs of digits and the separators numbers are written with ("+1 (359) 434-2320 x94",
# "6222 0202 …", "11010519491231002X", "10.0.0.1"); numeric recognizers search only inside them.
_NUMERIC_CHUNK = re.compile(
    r"[+(]?\d(?:[\d().+-]|[ \t](?=[\d(+])|\s?(?:x|ext\.?|转)\s?(?=\d)|[Xx](?![A-Za-z0-9]))*"
)


_NON_DIGIT = re.compile(r"\D")


def numeric_chunks(text: str, min_len: int = 7) -> list[tuple[int, int, int]]:
    """``(start, end, digits)`` of each numeric run at least ``min_len`` characters long."""
    out = []
    for m in _NUMERIC_CHUNK.finditer(text):
        s, e = m.span()
        if e - s >= min_len:
            chunk = m.group()
            out.append((s, e, len(chunk) - len(_NON_DIGIT.findall(chunk))))
    return out
