"""The regexes and validating scorers of the pattern recognizers, one section per type."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from typing import Any

from datawheel.privacy.recognizers_base import (
    CONTEXT_WINDOW,
    CONTEXT_WORDS,
    PatternRecognizer,
    has_context,
)
from datawheel.privacy.recognizers_validators import (
    cn_resident_id_valid,
    iban_length,
    iban_valid,
    luhn_valid,
    us_ssn_valid,
)
from datawheel.privacy.spans import Span

__all__ = ["BareDomainRecognizer", "DateOfBirthRecognizer", "default_pattern_recognizers"]


def _digits(s: str) -> str:
    return "".join(c for c in s if "0" <= c <= "9")


# --- EMAIL -----------------------------------------------------------------------------------
_EMAIL = re.compile(
    r"(?<![A-Za-z0-9_.+-])[A-Za-z0-9][A-Za-z0-9._%+-]{0,63}@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+"
    r"[A-Za-z]{2,24}(?![A-Za-z0-9-])"
)


def _score_email(m: re.Match[str]) -> tuple[int, int, float] | None:
    return m.start(), m.end(), 0.9


# --- URL ---------------------------------------------------------------------------------------
_URL_BODY = r"[^\s<>\"'\u3000-\u303f\u4e00-\u9fff\uff00-\uffef]"
_URL = re.compile(r"(?<![A-Za-z0-9_])(?:(?:https?|ftp)://|www\.)" + _URL_BODY + "+", re.I)
_URL_TRAILING = ".,;:!?)]}'\""


def _score_url(m: re.Match[str]) -> tuple[int, int, float] | None:
    s, e = m.span()
    while e > s and m.string[e - 1] in _URL_TRAILING:
        e -= 1
    return s, e, 0.85


# --- IP_ADDRESS --------------------------------------------------------------------------------
_IPV4 = re.compile(r"(?<![\d.])(?:\d{1,3}\.){3}\d{1,3}(?![\d.]|\.\d)")
_IPV6 = re.compile(
    r"(?<![0-9A-Fa-f:])(?:[0-9A-Fa-f]{0,4}:){2,7}(?:[0-9A-Fa-f]{1,4}|(?:\d{1,3}\.){3}\d{1,3})?"
    r"(?![0-9A-Fa-f:])"
)


def _score_ipv4(m: re.Match[str]) -> tuple[int, int, float] | None:
    try:
        ipaddress.IPv4Address(m.group())
    except ValueError:
        return None
    return m.start(), m.end(), 0.75


def _score_ipv6(m: re.Match[str]) -> tuple[int, int, float] | None:
    text = m.group()
    if text.count(":") < 2 or len(text) < 3:
        return None
    try:
        ipaddress.IPv6Address(text)
    except ValueError:
        return None
    return m.start(), m.end(), 0.85


# --- PHONE -------------------------------------------------------------------------------------
_EXT = r"(?:\s?(?:x|ext\.?|转)\s?\d{1,5})?"
_PHONE = re.compile(
    # mainland mobile: optional +86, 1[3-9] + 9 digits, optionally grouped 3-4-4
    r"(?P<cnm>(?:(?:\+|00)86[\s-]?)?1[3-9]\d(?:[\s-]?\d{4}){2})"
    # mainland landline: 0 + 2-3 digit area code, 7-8 digit number
    r"|(?P<cnl>(?:(?:\+|00)86[\s-]?)?(?:\(0\d{2,3}\)|0\d{2,3}-)\s?\d{7,8}" + _EXT + r")"
    # US / NANP: +1, 1 or 001 prefix, (NXX) or NXX, NXX, XXXX
    r"|(?P<us>(?:\+1[\s.-]?|001[\s.-]|1[\s.-])?(?:\(\d{3}\)\s?|\d{3}[\s.-])\d{3}[\s.-]\d{4}"
    + _EXT
    + r")"
    # international: + country code and 2-5 groups
    r"|(?P<intl>(?:\+|00)[1-9]\d{0,2}(?:[\s.-]?\(?\d{1,4}\)?){2,5}" + _EXT + r")"
    # ten bare digits (US) scored low unless context says phone
    r"|(?P<bare>\d{10}" + _EXT + r")"
)


def _score_phone(m: re.Match[str]) -> tuple[int, int, float] | None:
    s, e = m.span()
    text = m.string
    before = text[s - 1] if s > 0 else " "
    if (
        before.isdigit()
        or before in "-."
        or (before.isascii() and before.isalpha())
        or (
            e < len(text)
            and (
                text[e].isdigit()
                or (text[e] in "-" and e + 1 < len(text) and text[e + 1].isdigit())
            )
        )
    ):
        return None
    kind = m.lastgroup
    n = len(_digits(m.group()))
    if kind == "cnm":
        return s, e, 0.75
    if kind == "cnl":
        return s, e, 0.6
    if kind == "us":
        return s, e, 0.7
    if kind == "intl":
        return (s, e, 0.65) if 8 <= n <= 15 else None
    return s, e, 0.4  # bare ten digits


# --- CREDIT_CARD -------------------------------------------------------------------------------
_CARD = re.compile(
    r"(?<![\d-])(?:\d{4}[ -]){3}\d{1,7}(?![\d])|(?<![\d-])\d{13,19}(?![\d])"
    r"|(?<![\d-])\d{4}[ -]\d{6}[ -]\d{4,5}(?![\d])"
)
_CARD_PREFIX = re.compile(r"4|5[1-5]|2[2-7]|3[47]|3[068]|35|6(?:011|5|4[4-9]|2)")


def _score_card(m: re.Match[str]) -> tuple[int, int, float] | None:
    digits = _digits(m.group())
    if not 13 <= len(digits) <= 19 or not _CARD_PREFIX.match(digits) or not luhn_valid(digits):
        return None
    # 17-19 digits are rare card lengths (some Visa, UnionPay): reported only with context
    return m.start(), m.end(), (0.8 if len(digits) <= 16 else 0.45)


# --- IBAN --------------------------------------------------------------------------------------
_IBAN = re.compile(r"(?<![A-Za-z0-9])[A-Z]{2}\d{2}(?: ?[A-Z0-9]{1,4}){3,8}")


def _score_iban(m: re.Match[str]) -> tuple[int, int, float] | None:
    text = m.group()
    length = iban_length(text[:2])
    if length is None:
        return None
    count, cut = 0, 0
    for i, c in enumerate(text):  # trim to the country's length, spaces allowed between groups
        if c != " ":
            count += 1
            if count == length:
                cut = i + 1
                break
    if count < length or not iban_valid(text[:cut]):
        return None
    end = m.start() + cut
    if end < len(m.string) and m.string[end].isascii() and m.string[end].isalnum():
        return None
    return m.start(), end, 0.9


# --- US_SSN ------------------------------------------------------------------------------------
_SSN = re.compile(r"(?<![\d-])(\d{3})([- ]?)(\d{2})\2(\d{4})(?![\d-])")


def _score_ssn(m: re.Match[str]) -> tuple[int, int, float] | None:
    if not us_ssn_valid(m.group(1), m.group(3), m.group(4)):
        return None
    if m.group(2) == "-":
        return m.start(), m.end(), 0.7
    # nine bare (or spaced) digits: an SSN only right after "SSN" / "social security"
    near = m.string[max(0, m.start() - 20) : m.start()].lower()
    if "ssn" not in near and "social" not in near:
        return None
    return m.start(), m.end(), 0.5


# --- CN_RESIDENT_ID ----------------------------------------------------------------------------
_CN_ID = re.compile(r"(?<![\dA-Za-z])[1-9]\d{16}[\dXx](?![\dA-Za-z])")


def _score_cn_id(m: re.Match[str]) -> tuple[int, int, float] | None:
    if not cn_resident_id_valid(m.group()):
        return None
    return m.start(), m.end(), 0.9


# --- PASSPORT (context only) -------------------------------------------------------------------
_PASSPORT = re.compile(r"(?<![A-Za-z0-9_-])(?:[A-Z]{1,2}\d{7,8}|\d{9})(?![A-Za-z0-9_-])")


def _score_passport(m: re.Match[str]) -> tuple[int, int, float] | None:
    return m.start(), m.end(), 0.45


# --- DATE_OF_BIRTH (context only) --------------------------------------------------------------
_MONTHS = (
    r"(?:Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?"
    r"|Sep(?:t(?:ember)?)?|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)\.?"
)
_DOB = re.compile(
    r"(?<!\d)(?:(?:19|20)\d{2}[-/.](?:0?[1-9]|1[0-2])[-/.](?:0?[1-9]|[12]\d|3[01])"
    r"|(?:19|20)\d{2}年(?:0?[1-9]|1[0-2])月(?:0?[1-9]|[12]\d|3[01])日"
    r"|(?:0?[1-9]|1[0-2])/(?:0?[1-9]|[12]\d|3[01])/(?:19|20)\d{2}"
    r"|(?:0?[1-9]|[12]\d|3[01])\s" + _MONTHS + r",?\s(?:19|20)\d{2}"
    r"|" + _MONTHS + r"\s(?:0?[1-9]|[12]\d|3[01])(?:st|nd|rd|th)?,?\s(?:19|20)\d{2})(?!\d)"
)


def _score_dob(m: re.Match[str]) -> tuple[int, int, float] | None:
    return m.start(), m.end(), 0.5


class DateOfBirthRecognizer:
    """Dates (ISO, US, "March 5, 1985", 1985年3月5日) within 40 characters after a birth word."""

    entity = "DATE_OF_BIRTH"
    name = "date_of_birth"
    numeric = False
    _cue = re.compile("|".join(re.escape(w) for w in CONTEXT_WORDS["DATE_OF_BIRTH"]), re.I)

    def trigger(self, text: str) -> bool:
        return self._cue.search(text) is not None

    def find(self, text: str, lower: str) -> list[Span]:
        out: list[Span] = []
        pos = 0
        for cue in self._cue.finditer(text):
            start = max(cue.end(), pos)
            for m in _DOB.finditer(text, start, min(len(text), cue.end() + CONTEXT_WINDOW)):
                out.append(Span(m.start(), m.end(), self.entity, 0.85, self.name))
                pos = m.end()
        return out


class BareDomainRecognizer:
    """Domains without a scheme ("example.com/help"), found from the TLD leftwards; low score."""

    entity = "URL"
    name = "url_domain"
    numeric = False
    _tld = re.compile(
        r"\.(?:com|org|net|edu|gov|io|cn|co|uk|de|info|biz)(?![A-Za-z0-9_@-])"
        r"(?:/" + _URL_BODY + "*)?",
        re.I,
    )
    _label = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-.")

    def trigger(self, text: str) -> bool:
        return self._tld.search(text) is not None

    def find(self, text: str, lower: str) -> list[Span]:
        out: list[Span] = []
        for m in self._tld.finditer(text):
            start = m.start()
            while start > 0 and text[start - 1] in self._label:
                start -= 1
            if start == m.start() or (start > 0 and text[start - 1] in "@/_"):
                continue  # no label, an e-mail domain, or part of a URL with a scheme
            end = m.end()
            while end > start and text[end - 1] in _URL_TRAILING:
                end -= 1
            score = 0.6 if has_context(lower, start, CONTEXT_WORDS["URL"]) else 0.4
            out.append(Span(start, end, self.entity, score, self.name))
        return out


def _has(pattern: str, flags: int = 0) -> Callable[[str], bool]:
    """Trigger: ``pattern`` occurs somewhere in the text."""
    search = re.compile(pattern, flags).search
    return lambda text: search(text) is not None


def _words(*words: str) -> Callable[[str], bool]:
    """Trigger for context-only recognizers: one of ``words`` occurs (case-insensitive)."""
    return _has("|".join(re.escape(w) for w in words), re.IGNORECASE)


def default_pattern_recognizers() -> list[Any]:
    """The pattern recognizers, in the order they run."""
    always = bool

    def r(*args: object, **kw: object) -> PatternRecognizer:
        return PatternRecognizer(*args, **kw)  # type: ignore[arg-type]

    return [
        DateOfBirthRecognizer(),
        BareDomainRecognizer(),
        r("EMAIL", "email", _EMAIL, _score_email, lambda t: "@" in t, boost=0.05),
        r("URL", "url", _URL, _score_url, _has(r"://|www\.", re.I), boost=0.1),
        r("IP_ADDRESS", "ipv6", _IPV6, _score_ipv6, _has("[0-9A-Fa-f]:[0-9A-Fa-f:]"), boost=0.1),
        r("IBAN", "iban", _IBAN, _score_iban, _has(r"[A-Z]{2}\d\d"), boost=0.05),
        r(
            "PASSPORT",
            "passport",
            _PASSPORT,
            _score_passport,
            _words(*CONTEXT_WORDS["PASSPORT"]),
            boost=0.35,
            needs_context=True,
        ),
        # numeric: searched only inside numeric_chunks(text)
        r("IP_ADDRESS", "ipv4", _IPV4, _score_ipv4, always, boost=0.2, numeric=True, min_digits=4),
        r("PHONE", "phone", _PHONE, _score_phone, always, boost=0.2, numeric=True, min_digits=7),
        r(
            "CREDIT_CARD",
            "credit_card",
            _CARD,
            _score_card,
            always,
            boost=0.15,
            numeric=True,
            min_digits=13,
        ),
        r("US_SSN", "us_ssn", _SSN, _score_ssn, always, boost=0.3, numeric=True, min_digits=9),
        r(
            "CN_RESIDENT_ID",
            "cn_resident_id",
            _CN_ID,
            _score_cn_id,
            always,
            boost=0.08,
            numeric=True,
            min_digits=17,
        ),
    ]
