"""Values that are codes, not numbers: ID-card numbers, phone numbers, postcodes, accounts.

Read as numbers they break: 身份证号 ends in an X check digit in one row of eleven (so the
column reads as "mixed types"), 0755 loses its zero, an 19-digit bank card loses its last
digits to floating point, and an 11-digit phone number becomes a numeric feature. A column
is a code column when (nearly) every value is digits with an optional trailing X, and the
values themselves say so — a leading zero, an X check digit, 16 digits or more, or all
mainland mobile numbers — or its name says so (手机号, 邮编, zip, account …) and the values
share one width of at least five digits (so an ``id`` counting 1, 2, 3 stays a number).
Evidence is counted, so a file read in batches gets the same verdict as one read whole.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import polars as pl

__all__ = ["CODE_SHARE", "IdentifierEvidence", "looks_like_identifier", "name_says_identifier"]

CODE_SHARE = 0.9  # share of a column's values that must be code-shaped
_MIN_NAMED_WIDTH = 5  # a named code column's values share one width of at least this many
_CODE = r"^\d+[Xx]?$"
_NAME = re.compile(
    r"(^|[^a-z])(ids?|uuid|code|zip|zipcode|postcode|postal|phone|tel|mobile|cell|fax|"
    r"account|acct|iban|card|ssn|sku|isbn|imei)([^a-z]|$)"
    r"|(?<=[a-z])(Id|ID|Code|Phone|Zip)$"
    r"|号码?$|编号|编码|代码|邮编|手机|电话|身份证|证件|账号|账户|帐号|卡号",
)


def name_says_identifier(name: str) -> bool:
    """Whether a column name reads as a code: ``手机号``, ``邮编``, ``zip``, ``customerId``."""
    return bool(_NAME.search(name) or _NAME.search(name.lower()))


@dataclass
class IdentifierEvidence:
    """Counts over one column's text values, added batch by batch."""

    values: int = 0  # non-empty values
    codes: int = 0  # digits with an optional trailing X
    leading_zero: bool = False
    check_letter: bool = False
    long: bool = False  # 16 digits or more: beyond exact floating point
    mobile: int = 0  # mainland mobile numbers: 1[3-9] and nine more digits
    widths: tuple[int, int] | None = None  # (shortest, longest) code

    def add(self, series: pl.Series) -> IdentifierEvidence:
        """Count the values of a String column (other dtypes carry no text to look at)."""
        if series.dtype != pl.String:
            return self
        values = series.drop_nulls().str.strip_chars()
        values = values.filter(values != "")
        codes = values.filter(values.str.contains(_CODE))
        self.values += values.len()
        self.codes += codes.len()
        if codes.is_empty():
            return self
        self.leading_zero = self.leading_zero or bool(codes.str.contains(r"^0\d").any())
        self.check_letter = self.check_letter or bool(codes.str.contains(r"\d[Xx]$").any())
        lengths = codes.str.len_chars()
        shortest, longest = int(lengths.min()), int(lengths.max())  # type: ignore[arg-type]
        self.long = self.long or longest >= 16
        self.mobile += int(codes.str.contains(r"^1[3-9]\d{9}$").sum())
        if self.widths is not None:
            shortest, longest = min(shortest, self.widths[0]), max(longest, self.widths[1])
        self.widths = (shortest, longest)
        return self

    def verdict(self, name: str) -> bool:
        """Whether the column named ``name`` holds codes, on all the values added."""
        if not self.values or self.codes < CODE_SHARE * self.values:
            return False
        if self.leading_zero or self.check_letter or self.long or self.mobile == self.codes:
            return True
        fixed = self.widths is not None and self.widths[0] == self.widths[1]
        return fixed and self.widths[0] >= _MIN_NAMED_WIDTH and name_says_identifier(name)  # type: ignore[index]


def looks_like_identifier(series: pl.Series) -> bool:
    """Whether a String column holds codes (see the module docstring)."""
    return IdentifierEvidence().add(series).verdict(series.name)
