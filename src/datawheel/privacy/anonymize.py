"""Apply the project's ``privacy.columns`` rules to a table or to request rows, the same way."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import polars as pl

from datawheel.config import PrivacyConfig
from datawheel.errors import DataError
from datawheel.privacy.operators import Operator, make_operator, pseudonym
from datawheel.secret import SecretKey

__all__ = ["AnonymizeStats", "Anonymizer", "pii_tag", "subject_token"]

SUBJECT_TAG = "SUBJECT"
_TAGS = [  # header words → the type tag of a pseudonym, so equal values join across datasets
    (r"e-?mail|邮箱", "EMAIL"),
    (r"phone|mobile|tel|电话|手机", "PHONE"),
    (r"ssn|social.?security", "US_SSN"),
    (r"身份证|id.?card|resident.?id", "CN_RESIDENT_ID"),
    (r"address|street|地址", "ADDRESS"),
    (r"name|姓名|名字", "PERSON"),
    (r"\bip\b|ip.?addr", "IP_ADDRESS"),
    (r"card|卡号", "CREDIT_CARD"),
    (r"iban", "IBAN"),
]


def pii_tag(column: str) -> str:
    """The PII type a column's header suggests (``PII`` when none does)."""
    lowered = column.lower()
    for pattern, tag in _TAGS:
        if re.search(pattern, lowered):
            return tag
    return "PII"


def subject_token(key: SecretKey, subject_id: Any) -> str | None:
    """The keyed pseudonym of a data subject: what lineage, predictions and feedback store."""
    return pseudonym(key, subject_id, tag=SUBJECT_TAG)


@dataclass
class AnonymizeStats:
    columns: dict[str, str] = field(default_factory=dict)  # column → operator applied
    cells: dict[str, int] = field(default_factory=dict)  # column → non-null cells transformed
    dropped_columns: list[str] = field(default_factory=list)


class Anonymizer:
    """The operators for one project, built once and applied to frames or request rows."""

    def __init__(self, privacy: PrivacyConfig, key: SecretKey, *, id_column: str | None = None):
        self.id_column = id_column
        self.operators: dict[str, Operator] = {
            column: make_operator(rule, column=column, tag=pii_tag(column), key=key)
            for column, rule in privacy.columns.items()
        }
        if id_column and id_column not in self.operators:
            self.operators[id_column] = Operator("pseudonymize", lambda v: subject_token(key, v))

    def frame(self, frame: pl.DataFrame) -> tuple[pl.DataFrame, AnonymizeStats]:
        """Anonymize a table: each distinct value is transformed once, then mapped."""
        missing = [c for c in self.operators if c not in frame.columns]
        if missing:
            raise DataError(
                f"privacy.columns names columns not in the data: {', '.join(missing)}",
                where="privacy.columns",
                hint=f"available: {', '.join(frame.columns)}",
            )
        stats = AnonymizeStats()
        replacements: list[pl.Series] = []
        for column, op in self.operators.items():
            stats.columns[column] = op.name
            if op.drops_column:
                stats.dropped_columns.append(column)
                continue
            series = frame[column]
            stats.cells[column] = series.len() - series.null_count()
            if op.keeps_type:
                continue
            distinct = series.drop_nulls().unique().to_list()
            mapping = {value: op.apply(value) for value in distinct}
            replacements.append(
                series.replace_strict(mapping, default=None, return_dtype=pl.String).alias(column)
            )
        out = frame.with_columns(replacements).drop(stats.dropped_columns)
        return out, stats

    def row(self, row: Mapping[str, Any]) -> dict[str, Any]:
        """Anonymize one request row exactly as training data was (absent fields stay absent)."""
        out = dict(row)
        for column, op in self.operators.items():
            if column not in out:
                continue
            if op.drops_column:
                del out[column]
            else:
                out[column] = op.apply(out[column])
        return out
