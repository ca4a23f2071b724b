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


_URL_IP_HOST = re.compile(
    r"(?:https?|ftp)://(?:\d{1,3}\.){3}\d{1,3}(?![\w.-])|(?:https?|ftp)://\[", re.I
)


def _score_url(m: re.Match[str]) -> tuple[int, int, float] | None:
    s, e = m.span()
    if _URL_IP_HOST.match(m.string, s):
        return None  # "http://10.0.0.7:8080/x": the address is the identifier; IP_ADDRESS has it
    while e > s and m.string[e - 1] in _URL_TRAILING:
        e -= 1
    return s, e, 0.85


# --- IP_ADDRESS --------------------------------------------------------------------------------
# A sentence may end right after an address ("from 10.0.0.1."); a fifth dotted number, a letter or
# "-rc1" / "+build" / "_x" glued on make it something else (a version, a build tag, an OID).
_IPV4 = re.compile(r"(?<![\d.])(?:\d{1,3}\.){3}\d{1,3}(?!\d|\.\d|[-+_]?[A-Za-z0-9])")
_IPV6 = re.compile(
    r"(?<![0-9A-Fa-f:])(?:[0-9A-Fa-f]{0,4}:){2,7}(?:[0-9A-Fa-f]{1,4}|(?:\d{1,3}\.){3}\d{1,3})?"
    r"(?![0-9A-Fa-f:])"
)
# A version word right before four dotted numbers ("firmware 10.4.12.5", "Rev. 11.20.19.196",
# "upgraded to 4.2.1.7", "版本1.1.75.189") makes them a version or a section number. Only right
# before: a word further back ("host,ip,mac,firmware" then a CSV row) says nothing about them.
_VERSION_BEFORE = re.compile(
    r"(?:\b(?:versions?|ver|v|rev|revision|releases?|released|build|firmware|fw|patch(?:ed)?|tag"
    r"|sdk|rv|section|oid|chapter|clause)\.?[ \t]*[:=#]?[ \t]*"
    r"|\b(?:upgrad|updat|bump|downgrad)(?:e|es|ed|ing)?[ \t]+(?:to[ \t]+)?"
    r"(?:v(?:ersion)?\.?[ \t]*)?"
    r"|§[ \t]*|(?:版本号?|固件|章节|条款)[：:\s]*)$"
)


def _score_ipv4(m: re.Match[str]) -> tuple[int, int, float] | None:
    try:
        ipaddress.IPv4Address(m.group())
    except ValueError:
        return None
    s, text = m.start(), m.string
    prev = text[s - 1] if s > 0 else " "
    if (
        (prev.isascii() and prev.isalpha())
        or prev == "_"
        or (prev == "/" and text[s - 2 : s - 1].isalnum())
    ):
        return None  # "v2.1.18.247", "AcmeBank/2.1.18.247", "Chrome/120.0.6099.109"
    if _VERSION_BEFORE.search(text[max(0, s - 32) : s].lower()):
        return None  # "Rev. 11.20.19.196", "firmware 10.4.12.5", "section 3.2.1.4"
    return s, m.end(), 0.75


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
    r"|(?P<cnl>(?:(?:\+|00)86[\s-]?)?(?:\(0\d{2,3}\)|0\d{2,3}[- ])\s?\d{3,4}[ -]?\d{3,4}"
    + _EXT
    + r"(?![-.]?\d))"
    # US / NANP: +1, 1 or 001 prefix, (NXX) or NXX, NXX, XXXX
    r"|(?P<us>(?:\+1[\s.-]?|001[\s.-]|1[\s.-])?(?:\(\d{3}\)\s?|\d{3}[\s.-])\d{3}[\s.-]\d{4}"
    + _EXT
    + r")"
    # international: + country code and 2-5 groups
    r"|(?P<intl>(?:\+|00)[1-9]\d{0,2}(?:[\s.-]?\(?\d{1,4}\)?){2,5}" + _EXT + r")"
    # ten bare digits (US) scored low unless context says phone
    r"|(?P<bare>\d{10}" + _EXT + r")"
)


_EXT_TAIL = re.compile(r"\s?(?:x|ext\.?|转)\s?\d{1,5}$")


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
        national = _digits(_EXT_TAIL.sub("", m.group()))
        national = national[national.index("0") :]  # drop a +86 / 0086 prefix
        return (s, e, 0.6) if 10 <= len(national) <= 12 else None
    if kind == "us":
        return s, e, 0.7
    if kind == "intl":
        return (s, e, 0.65) if 8 <= n <= 15 else None
    return s, e, 0.4  # bare ten digits


# --- CREDIT_CARD -------------------------------------------------------------------------------
# A run of digit groups joined by one kind of separator (space, dash or dot), not inside a longer
# run of digits. `_score_card` checks the layout, the length (12-19, ISO/IEC 7812), the issuer
# prefix and the Luhn digit, trying shorter runs of whole groups when the full run fails
# ("4111 1111 1111 1111 0425" ends in an expiry date). A comma may stand on either side (CSV
# fields). The run is taken whole (possessive), so a longer run is never cut to fit.
_CARD = re.compile(r"(?<![\d+./])(?<!\d[ .-])\d++(?:([ .-])\d++(?:\1\d++)*+)?+(?![.-]?\d)")


def _card_base(digits: str) -> float:
    """The score of a Luhn-valid number by issuer and length: 0.8 where the issuer prints that
    length as standard, 0.4 for the issuer's rarer lengths (needs a context word), 0 if none."""
    n = len(digits)
    for prefixes, standard, allowed in _CARD_ISSUERS:
        if digits.startswith(prefixes):
            if n in standard:
                return 0.8
            if n in allowed:
                return 0.4
            return 0.0
    return 0.0


# (IIN prefixes, standard lengths, other lengths the scheme allows), most specific first:
# Visa, Mastercard (51-55, 2221-2720), Amex, Diners, Verve, Discover, JCB, UnionPay, RuPay, Mir,
# Troy, Maestro, UATP, and the other 5…/6… debit schemes.
_MC2 = tuple(str(p) for p in range(2221, 2721))
_CARD_ISSUERS: list[tuple[tuple[str, ...], frozenset[int], frozenset[int]]] = [
    (("4",), frozenset({16}), frozenset({13, 19})),
    (("51", "52", "53", "54", "55", *_MC2), frozenset({16}), frozenset()),
    (("34", "37"), frozenset({15}), frozenset()),
    (("36",), frozenset({14}), frozenset(range(15, 20))),
    (("300", "301", "302", "303", "304", "305", "3095", "38", "39"), frozenset({14, 16}),
     frozenset(range(15, 20))),
    (("5060", "5061", "5078", "6500"), frozenset({16, 19}), frozenset({18})),  # Verve
    (("6011", "644", "645", "646", "647", "648", "649", "65"), frozenset({16}),
     frozenset({17, 18, 19})),
    (("35",), frozenset({16}), frozenset({17, 18, 19})),  # JCB 3528-3589; 35… kept broad
    (("62", "81", "82"), frozenset({16, 19}), frozenset({17, 18})),  # UnionPay, RuPay 8…
    (("2200", "2201", "2202", "2203", "2204"), frozenset({16}), frozenset({17, 18, 19})),
    (("9792",), frozenset({16}), frozenset()),  # Troy
    (("5018", "5020", "5038", "5893", "6304", "6759", "6761", "6762", "6763"), frozenset({16, 19}),
     frozenset(range(12, 20))),
    (("1",), frozenset(), frozenset({15})),  # UATP (airlines)
    (("50", "56", "57", "58", "60", "63", "64", "66", "67", "68", "69"), frozenset({16}),
     frozenset(range(12, 20))),
]  # fmt: skip


def _card_layout(groups: list[str]) -> bool:
    """Whether digit groups read as one printed card number: one group, or a first group of 4-6
    digits and later groups of at least 3 (4-6-5, 4-4-5, 6-13, 4-3-3-3), or fours with a shorter
    last group (4-4-4-1, 4-4-4-4-3), as numbers are chunked on receipts and screens."""
    if len(groups) == 1:
        return True
    if not 4 <= len(groups[0]) <= 6:
        return False
    if min(map(len, groups[1:])) >= 3:
        return True
    return all(len(g) == 4 for g in groups[:-1]) and len(groups[-1]) <= 4


def _score_card(m: re.Match[str]) -> tuple[int, int, float] | None:
    text = m.group()
    sep = m.group(1)
    groups = text.split(sep) if sep else [text]
    for k in range(len(groups), 0, -1):
        part = groups[:k]
        digits = "".join(part)
        if len(digits) < 12:
            return None
        if len(digits) > 19 or not _card_layout(part) or not luhn_valid(digits):
            continue
        base = _card_base(digits)
        if base:
            end = m.start() + sum(map(len, part)) + k - 1
            return m.start(), end, base
    return None


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
            boost=0.3,
            numeric=True,
            min_digits=12,
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
