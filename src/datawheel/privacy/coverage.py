"""Which columns look like PII but have no privacy rule: warned about (or refused) by `run`."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import polars as pl

from datawheel.errors import DataError
from datawheel.privacy.columns import ColumnPII, detect_pii_columns

__all__ = ["check_pii_rules", "suggested_rule", "unruled_pii"]

SAMPLE_ROWS = 2000  # rows scanned: enough for a column's type, cheap on a large table


def suggested_rule(found: ColumnPII) -> str:
    """The operator to propose for a detected type: pseudonymize identifiers (joins survive),
    redact free-form locations, generalize nothing automatically."""
    if found.type in ("ADDRESS", "URL", "DATE_OF_BIRTH"):
        return "redact"
    return "pseudonymize"


def unruled_pii(
    frame: pl.DataFrame, rules: Mapping[str, Any], *, skip: Iterable[str] = ()
) -> dict[str, ColumnPII]:
    """Columns of ``frame`` that look like PII and have no rule in ``privacy.columns``;
    ``skip`` holds columns handled otherwise (the subject id, the target, text columns)."""
    left_out = set(rules) | set(skip)
    sample = frame.head(SAMPLE_ROWS)
    found = detect_pii_columns(sample.select([c for c in sample.columns if c not in left_out]))
    return dict(found)


def check_pii_rules(
    frame: pl.DataFrame,
    rules: Mapping[str, Any],
    *,
    skip: Iterable[str] = (),
    require: bool = False,
    source: str = "datawheel.yaml",
) -> list[str]:
    """One warning per unruled PII-looking column; with ``require`` the first is an error."""
    warnings = []
    for column, found in unruled_pii(frame, rules, skip=skip).items():
        rule = suggested_rule(found)
        message = (
            f"column {column!r} looks like {found.type} ({found.reason}, score {found.score:.2f}) "
            f"but has no privacy rule"
        )
        hint = f"add `privacy.columns.{column}: {rule}` (or keep / drop) to the project file"
        if require:
            raise DataError(message, where=f"{source}: privacy.columns", hint=hint)
        warnings.append(f"{message}; {hint}")
    return warnings
