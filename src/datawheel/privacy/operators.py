"""Anonymization operators by name (``REGISTRY``): on column values and on spans of free text.

Each operator maps one value to its replacement. ``pseudonymize`` is keyed (HMAC-SHA256 under the
pseudonym key) and type-tagged, so the same e-mail gives the same token in every dataset and in the
API — joins survive, dictionary attacks without the key do not.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import math
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from datawheel.config import OPERATORS, TEXT_OPERATORS
from datawheel.errors import ConfigError
from datawheel.secret import SecretKey
from datawheel.store import crypto
from datawheel.store.roles import check as check_role

__all__ = [
    "DATE_UNITS",
    "ENCRYPTED_PREFIX",
    "REDACTED",
    "REGISTRY",
    "Operator",
    "OperatorSpec",
    "decrypt_value",
    "encrypt_value",
    "make_operator",
    "pseudonym",
    "text_operator",
]

ENCRYPTED_PREFIX = "enc:v1:"
REDACTED = "[REDACTED]"


def _normalize(value: str) -> str:
    """Tokens must not change with case, width or surrounding spaces of the same value."""
    return " ".join(unicodedata.normalize("NFKC", value).split()).casefold()


def pseudonym(key: SecretKey, value: Any, *, tag: str) -> str | None:
    """``TAG_<16 hex>``: HMAC-SHA256 of the normalized value under the pseudonym key."""
    if value is None:
        return None
    text = _normalize(str(value))
    digest = hmac.new(key.pseudonym_key, f"{tag}\x1f{text}".encode(), hashlib.sha256).hexdigest()
    return f"{tag}_{digest[:16]}"


def _mask(value: Any, keep_last: int) -> str | None:
    if value is None:
        return None
    text = str(value)
    keep = text[-keep_last:] if keep_last > 0 else ""
    return "*" * (len(text) - len(keep)) + keep


def _generalize_number(value: Any, width: float) -> str | None:
    """A bin label such as ``35-39`` (integer widths) or ``[0.5, 1.0)``."""
    if value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    if math.isnan(number):
        return None
    low = math.floor(number / width) * width
    if float(width).is_integer() and float(low).is_integer():
        return f"{int(low)}-{int(low + width - 1)}"
    return f"[{low:g}, {low + width:g})"


_ISO_DATE = re.compile(r"^\s*(\d{4})-(\d{2})(?:-(\d{2}))?")
DATE_UNITS = ("year", "month")


def _generalize_date(value: Any, unit: str) -> str | None:
    """``2023`` (year) or ``2023-04`` (month) from a date, datetime or ISO-8601 string.

    A value that is not a date becomes None: what cannot be generalized must not leak.
    """
    if isinstance(value, dt.date):  # datetime is a date too
        year, month = value.year, value.month
    else:
        match = _ISO_DATE.match(str(value)) if value is not None else None
        if match is None:
            return None
        year, month = int(match.group(1)), int(match.group(2))
        if not 1 <= month <= 12:
            return None
    return f"{year:04d}" if unit == "year" else f"{year:04d}-{month:02d}"


def _generalize_prefix(value: Any, keep: int) -> str | None:
    """The first ``keep`` characters, the rest as ``*`` (``94110`` → ``941**``)."""
    if value is None:
        return None
    text = str(value).strip()
    return text[:keep] + "*" * max(len(text) - keep, 0)


def _generalizer(arg: Any, column: str) -> Callable[[Any], Any]:
    """``5`` / ``{width: 5}``: numeric bins; ``year`` / ``month``: dates; ``{prefix: 3}``."""
    where = f"privacy.columns.{column}"
    if isinstance(arg, dict):
        if len(arg) != 1 or next(iter(arg)) not in ("width", "prefix", "date"):
            raise ConfigError(
                f"generalize takes one of width, prefix, date; got {arg!r}",
                where=where,
                hint="e.g. {generalize: {prefix: 3}} or {generalize: month}",
            )
        (kind, value), arg = next(iter(arg.items())), None
        if kind == "prefix":
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise ConfigError(f"generalize prefix must be an integer >= 0, got {value!r}",
                                  where=where)  # fmt: skip
            return lambda v: _generalize_prefix(v, value)
        arg = value
    if isinstance(arg, str) and not _is_number(arg):
        if arg not in DATE_UNITS:
            raise ConfigError(
                f"generalize date unit must be year or month, got {arg!r}", where=where
            )
        unit = arg
        return lambda v: _generalize_date(v, unit)
    width = float(10 if arg is None else arg)
    if width <= 0:
        raise ConfigError(f"generalize width must be > 0, got {arg}", where=where)
    return lambda v: _generalize_number(v, width)


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def encrypt_value(key: SecretKey, value: Any, *, column: str) -> str | None:
    """Reversible AES-256-GCM under the field key, bound to the column name."""
    if value is None:
        return None
    blob = crypto.encrypt(key.field_key, str(value).encode(), context=column.encode())
    return ENCRYPTED_PREFIX + base64.urlsafe_b64encode(blob).decode("ascii")


def decrypt_value(key: SecretKey, value: Any, *, column: str, role: str | None) -> Any:
    """Inverse of ``encrypt`` — for the admin role only."""
    check_role(role, "reveal")
    if not isinstance(value, str) or not value.startswith(ENCRYPTED_PREFIX):
        return value
    blob = base64.urlsafe_b64decode(value[len(ENCRYPTED_PREFIX) :])
    plain = crypto.decrypt(key.field_key, blob, context=column.encode(), what=f"column {column}")
    return plain.decode()


@dataclass(frozen=True)
class Operator:
    """A named value transform; ``drops_column`` means the column is removed instead."""

    name: str
    apply: Callable[[Any], Any]
    drops_column: bool = False
    keeps_type: bool = False  # True when the output has the input's type (e.g. keep)


ColumnBuilder = Callable[[Any, str, str, SecretKey], Callable[[Any], Any]]
SpanBuilder = Callable[[SecretKey, str], Callable[[str, str], str | None]]


@dataclass(frozen=True)
class OperatorSpec:
    """What one operator does: on a column's values and, unless None, on spans of free text.

    ``column(arg, column, tag, key)`` builds the value transform for a ``privacy.columns`` rule
    (``arg`` is the rule's parameter, e.g. 4 in ``{mask: 4}``, else None); ``text(key, column)``
    builds the span transform ``(value, type) -> replacement`` for ``privacy.text.operator``.
    """

    column: ColumnBuilder
    text: SpanBuilder | None
    drops_column: bool = False
    keeps_type: bool = False


def _masker(arg: Any, column: str) -> Callable[[Any], Any]:
    """``{mask: N}`` keeps the last N characters (default 4)."""
    keep_last = 4 if arg is None else arg
    if not isinstance(keep_last, int) or isinstance(keep_last, bool) or keep_last < 0:
        raise ConfigError(
            f"mask takes the number of characters to keep, an integer >= 0, got {arg!r}",
            where=f"privacy.columns.{column}",
            hint="e.g. {mask: 4}",
        )
    return lambda v: _mask(v, keep_last)


# The one registry of operators; its names are config.OPERATORS (a test keeps them equal).
REGISTRY: dict[str, OperatorSpec] = {
    "pseudonymize": OperatorSpec(
        column=lambda _arg, _column, tag, key: lambda v: pseudonym(key, v, tag=tag),
        text=lambda key, _column: lambda v, kind: pseudonym(key, v, tag=kind),
    ),
    "redact": OperatorSpec(
        column=lambda *_: lambda v: None if v is None else REDACTED,
        text=lambda *_: lambda _v, kind: f"[{kind}]",
    ),
    "mask": OperatorSpec(
        column=lambda arg, column, *_: _masker(arg, column),
        text=lambda *_: lambda v, _kind: _mask(v, 4),
    ),
    "generalize": OperatorSpec(
        column=lambda arg, column, *_: _generalizer(arg, column),
        text=None,  # bins and dates need a column's values, not a span of prose
    ),
    "encrypt": OperatorSpec(
        column=lambda _arg, column, _tag, key: lambda v: encrypt_value(key, v, column=column),
        text=lambda key, column: lambda v, _kind: encrypt_value(key, v, column=column),
    ),
    "drop": OperatorSpec(
        column=lambda *_: lambda _v: None,
        text=lambda *_: lambda _v, _kind: "",
        drops_column=True,
    ),
    "keep": OperatorSpec(
        column=lambda *_: lambda v: v,
        text=lambda *_: lambda v, _kind: v,
        keeps_type=True,
    ),
}


def make_operator(rule: str | dict[str, Any], *, column: str, tag: str, key: SecretKey) -> Operator:
    """Build the operator a ``privacy.columns`` rule names, e.g. ``{"mask": 4}``."""
    name, arg = (rule, None) if isinstance(rule, str) else next(iter(rule.items()))
    spec = REGISTRY.get(name)
    if spec is None:
        raise ConfigError(
            f"unknown operator {name!r}",
            where=f"privacy.columns.{column}",
            hint=f"use one of {', '.join(OPERATORS)}",
        )
    return Operator(
        name,
        spec.column(arg, column, tag, key),
        drops_column=spec.drops_column,
        keeps_type=spec.keeps_type,
    )


def text_operator(
    name: str, *, key: SecretKey, column: str = "text"
) -> Callable[[str, str], str | None]:
    """The span transform for ``privacy.text.operator``: (value, type) → replacement.

    ``pseudonymize`` gives type-tagged keyed tokens (``EMAIL_3f…``) equal to the column
    operator's, so a value in a column and in a text join; ``redact`` gives ``[TYPE]``.
    """
    spec = REGISTRY.get(name)
    if spec is None or spec.text is None:
        raise ConfigError(
            f"unknown text operator {name!r}",
            where="privacy.text.operator",
            hint=f"use one of {', '.join(TEXT_OPERATORS)}",
        )
    return spec.text(key, column)
