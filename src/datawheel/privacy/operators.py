"""Anonymization operators by name: pseudonymize, redact, mask, generalize, encrypt, drop.

Each operator maps one value to its replacement. ``pseudonymize`` is keyed (HMAC-SHA256 under the
pseudonym key) and type-tagged, so the same e-mail gives the same token in every dataset and in the
API — joins survive, dictionary attacks without the key do not.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import math
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from datawheel.errors import ConfigError, PermissionDenied
from datawheel.secret import SecretKey
from datawheel.store import crypto

__all__ = [
    "ENCRYPTED_PREFIX",
    "OPERATORS",
    "Operator",
    "decrypt_value",
    "make_operator",
    "pseudonym",
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


def encrypt_value(key: SecretKey, value: Any, *, column: str) -> str | None:
    """Reversible AES-256-GCM under the field key, bound to the column name."""
    if value is None:
        return None
    blob = crypto.encrypt(key.field_key, str(value).encode(), context=column.encode())
    return ENCRYPTED_PREFIX + base64.urlsafe_b64encode(blob).decode("ascii")


def decrypt_value(key: SecretKey, value: Any, *, column: str, role: str) -> Any:
    """Inverse of ``encrypt`` — for the admin role only."""
    if role != "admin":
        raise PermissionDenied(f"role {role!r} cannot reveal encrypted values", hint="ask an admin")
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


OPERATORS = ("pseudonymize", "redact", "mask", "generalize", "encrypt", "drop", "keep")


def make_operator(rule: str | dict[str, Any], *, column: str, tag: str, key: SecretKey) -> Operator:
    """Build the operator a ``privacy.columns`` rule names, e.g. ``{"mask": 4}``."""
    name, arg = (rule, None) if isinstance(rule, str) else next(iter(rule.items()))
    if name == "pseudonymize":
        return Operator(name, lambda v: pseudonym(key, v, tag=tag))
    if name == "redact":
        return Operator(name, lambda v: None if v is None else REDACTED)
    if name == "mask":
        keep_last = 4 if arg is None else int(arg)
        return Operator(name, lambda v: _mask(v, keep_last))
    if name == "generalize":
        width = float(arg or 10)
        if width <= 0:
            raise ConfigError(
                f"generalize width must be > 0, got {arg}", where=f"privacy.columns.{column}"
            )
        return Operator(name, lambda v: _generalize_number(v, width))
    if name == "encrypt":
        return Operator(name, lambda v: encrypt_value(key, v, column=column))
    if name == "drop":
        return Operator(name, lambda v: None, drops_column=True)
    if name == "keep":
        return Operator(name, lambda v: v, keeps_type=True)
    raise ConfigError(
        f"unknown operator {name!r}",
        where=f"privacy.columns.{column}",
        hint=f"use one of {', '.join(OPERATORS)}",
    )
