"""Column detection: which table columns hold PII, from the header and a sample of the values."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

import polars as pl

from datawheel.errors import UsageError
from datawheel.privacy.scan import scan_text

__all__ = ["ColumnPII", "detect_pii_columns", "header_type"]

Reason = Literal["header", "values", "both"]


@dataclass(frozen=True, slots=True)
class ColumnPII:
    """The PII ``type`` a column holds, a ``score`` in [0, 1], and what said so."""

    type: str
    score: float
    reason: Reason


# Normalized header (lower case, words joined by "_") -> type; English and Chinese synonyms.
_HEADER_RULES: list[tuple[str, re.Pattern[str]]] = [
    (t, re.compile(p))
    for t, p in [
        (
            "PERSON_ID",
            r"^(person|user|customer|client|subject|patient|employee|member|account|"
            r"student|citizen)_?(id|no|number|key)$|^(用户|客户|会员|员工|患者)(id|编号)$",
        ),
        (
            "CN_RESIDENT_ID",
            r"^(id_?card|idcard|resident_?id|national_?id|citizen_?id)(_?(no|number))?$"
            r"|身份证",
        ),
        ("US_SSN", r"^(ssn|social_?security(_?(no|number))?|us_?ssn)$"),
        ("EMAIL", r"^(e_?mail|mail)(_?address)?$|_e_?mail$|^e_?mail_|邮箱|电子邮件|邮件地址"),
        (
            "PHONE",
            r"(^|_)(phone|tel|telephone|mobile|cell|cellphone|fax)(_?(no|number|num))?($|_)"
            r"|电话|手机|联系方式",
        ),
        (
            "CREDIT_CARD",
            r"^(credit_?)?card(_?(no|number|num))?$|^(cc|pan)(_?number)?$|卡号|信用卡"
            r"|银行卡",
        ),
        ("IBAN", r"(^|_)iban($|_)"),
        ("IP_ADDRESS", r"^(ip|ipv4|ipv6|ip_?addr(ess)?|client_?ip|remote_?addr|source_?ip)$"),
        ("URL", r"^(url|website|homepage|web_?site|link)$|网址|主页"),
        ("DATE_OF_BIRTH", r"^(dob|birth_?date|date_?of_?birth|birthday|born)$|出生日期|生日"),
        ("PASSPORT", r"passport|护照"),
        (
            "ADDRESS",
            r"(^|_)(address|street|addr|street_?address|home_?address|mailing_?address)"
            r"($|_)|地址|住址",
        ),
        (
            "PERSON",
            r"^(full_?|first_?|last_?|given_?|family_?|middle_?|sur|maiden_?)?name$"
            r"|^(customer|client|patient|contact|employee|person|user)_?name$"
            r"|^(first|last)_?name|姓名|名字|联系人|收件人|客户名",
        ),
    ]
]
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_NON_WORD = re.compile(r"[^0-9a-z\u4e00-\u9fff]+")


def header_type(name: str) -> str | None:
    """The PII type a header names ("E-mail" → EMAIL, "身份证号" → CN_RESIDENT_ID), or None."""
    norm = _NON_WORD.sub("_", _CAMEL.sub("_", name.strip()).lower()).strip("_")
    for kind, pattern in _HEADER_RULES:
        if pattern.search(norm):
            return kind
    return None


def _value_type(values: list[str]) -> tuple[str | None, float]:
    """The type whose recognizer covers (nearly) a whole value most often, and that share."""
    counts: dict[str, int] = {}
    for value in values:
        text = value.strip()
        if not text:
            continue
        # values stand alone, without context words: accept weaker matches than in free text
        spans = scan_text(text, threshold=0.3)
        covering = {s.type for s in spans if (s.end - s.start) >= 0.9 * len(text)}
        for kind in covering:
            counts[kind] = counts.get(kind, 0) + 1
    if not counts or not values:
        return None, 0.0
    kind = max(counts, key=lambda k: counts[k])
    return kind, counts[kind] / len(values)


def detect_pii_columns(
    frame: pl.DataFrame, *, sample: int = 200, seed: int = 0, min_share: float = 0.5
) -> dict[str, ColumnPII]:
    """Classify each column of ``frame`` as a PII type; columns that are not PII are left out.

    The header is matched against English and Chinese synonyms (``name``/``姓名``,
    ``phone``/``手机``, ``ssn`` …); up to ``sample`` non-null values (drawn with ``seed``) of a
    text column are scanned, and a type counts when its recognizer covers a whole value in at
    least ``min_share`` of them. Header and values agreeing gives ``reason="both"``.

    >>> import polars as pl
    >>> detect_pii_columns(pl.DataFrame({"contact": ["ann@example.com"], "age": [30]}))
    {'contact': ColumnPII(type='EMAIL', score=0.9, reason='values')}
    """
    if sample < 1:
        raise UsageError(f"sample must be >= 1, got {sample}")
    found: dict[str, ColumnPII] = {}
    for name in frame.columns:
        column = frame.get_column(name)
        by_header = header_type(name)
        by_values, share = None, 0.0
        if column.dtype == pl.String or by_header is not None:
            values = column.drop_nulls()
            if len(values) > sample:
                values = values.sample(sample, seed=seed)
            if values.dtype != pl.String:
                values = values.cast(pl.String, strict=False).drop_nulls()
            by_values, share = _value_type(values.to_list())
            if share < min_share:
                by_values = None
        if by_header and not by_values and _categorical_flag(column):
            by_header = None  # an "email" column of yes/no answers is a flag, not an address
        result = _combine(by_header, by_values, share)
        if result is not None:
            found[name] = result
    return found


FLAG_MAX_DISTINCT = 5  # a header-only match with at most this many distinct values is a flag


def _categorical_flag(column: pl.Series) -> bool:
    """Booleans, or a handful of distinct values repeated over many rows (yes/no, 0/1,
    opted-in/out): what a column *about* emails holds, never the emails themselves."""
    if column.dtype == pl.Boolean:
        return True
    values = column.drop_nulls()
    distinct = values.n_unique()
    return distinct <= FLAG_MAX_DISTINCT and values.len() >= 4 * distinct


def _combine(header: str | None, values: str | None, share: float) -> ColumnPII | None:
    if header and values == header:
        return ColumnPII(header, round(min(1.0, 0.6 + 0.4 * share), 3), "both")
    if values and (header is None or share >= 0.8):
        return ColumnPII(values, round(0.9 * share, 3), "values")
    if header:
        return ColumnPII(header, 0.6, "header")
    return None
