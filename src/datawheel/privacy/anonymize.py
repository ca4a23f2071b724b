"""Apply the project's ``privacy.columns`` rules to a table or to request rows, the same way."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import polars as pl

from datawheel.config import PrivacyConfig
from datawheel.errors import DataError
from datawheel.privacy.free_text import SpanRecord, anonymize_text
from datawheel.privacy.operators import Operator, make_operator, pseudonym, text_operator
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
    text_spans: dict[str, dict[str, int]] = field(default_factory=dict)  # text column → type → n
    faces: dict[str, int] = field(default_factory=dict)  # image column → faces blurred


class Anonymizer:
    """The operators for one project, built once and applied to frames or request rows."""

    def __init__(
        self,
        privacy: PrivacyConfig,
        key: SecretKey,
        *,
        id_column: str | None = None,
        text_columns: Sequence[str] = (),
        image_columns: Sequence[str] = (),
    ):
        self.id_column = id_column
        # data.images columns whose faces are blurred (privacy.images.faces: blur); a column
        # rule (e.g. drop) takes precedence
        self.face_columns = [
            c for c in image_columns
            if privacy.images.faces == "blur" and c not in privacy.columns
        ]  # fmt: skip
        self._key = key
        self.text = privacy.text
        text_operator(privacy.text.operator, key=key)  # an unknown operator fails here, early
        # Free-text columns (``data.text``) without a column rule get span-level anonymization.
        self.text_columns = [
            c for c in text_columns if c not in privacy.columns and privacy.text.entities != []
        ]
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
        if self.face_columns:
            out = self._blur_frame(out, stats)
        if self.text_columns:
            out, records = self.text_frame(out)
            for column, per_row in records.items():
                stats.columns[column] = f"text:{self.text.operator}"
                counts: dict[str, int] = {}
                for rec in (r for row in per_row for r in row):
                    counts[rec.type] = counts.get(rec.type, 0) + 1
                stats.text_spans[column] = counts
                stats.cells[column] = sum(1 for row in per_row if row)
        return out, stats

    def _blur_frame(self, frame: pl.DataFrame, stats: AnonymizeStats) -> pl.DataFrame:
        from datawheel.data.media.faces import blur_column

        missing = [c for c in self.face_columns if c not in frame.columns]
        if missing:
            raise DataError(
                f"data.images names columns not in the data: {', '.join(missing)}",
                where="data.images",
                hint=f"available: {', '.join(frame.columns)}",
            )
        blurred = []
        for column in self.face_columns:
            if frame.schema[column] != pl.Binary:
                raise DataError(
                    f"image column {column!r} holds {frame.schema[column]}, not stored images",
                    where="data.images",
                    hint="faces are blurred on stored images: run the media stage first "
                    "(datawheel run, or datawheel clean with the project file)",
                )
            values, faces, images = blur_column(frame[column].to_list())
            stats.columns[column] = "faces:blur"
            stats.faces[column] = faces
            stats.cells[column] = images
            blurred.append(pl.Series(column, values, dtype=pl.Binary))
        return frame.with_columns(blurred)

    def text_frame(
        self, frame: pl.DataFrame
    ) -> tuple[pl.DataFrame, dict[str, list[list[SpanRecord]]]]:
        """Anonymize the spans of each free-text column; per column, one record list per row."""
        missing = [c for c in self.text_columns if c not in frame.columns]
        if missing:
            raise DataError(
                f"data.text names columns not in the data: {', '.join(missing)}",
                where="data.text",
                hint=f"available: {', '.join(frame.columns)}",
            )
        records: dict[str, list[list[SpanRecord]]] = {}
        replacements = []
        for column in self.text_columns:
            values = frame[column].cast(pl.String, strict=False).to_list()
            texts, records[column] = self._text(values, column)
            replacements.append(pl.Series(column, texts, dtype=pl.String))
        return frame.with_columns(replacements), records

    def _text(
        self, values: list[str | None], column: str
    ) -> tuple[list[str | None], list[list[SpanRecord]]]:
        return anonymize_text(
            values,
            key=self._key,
            operator=self.text.operator,
            entities=self.text.entities,
            column=column,
        )

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
        for column in self.text_columns:
            if isinstance(out.get(column), str):
                out[column] = self._text([out[column]], column)[0][0]
        for column in self.face_columns:
            if out.get(column) is not None:
                out[column] = _blurred_value(out[column], column)
        return out


def _blurred_value(value: Any, column: str) -> Any:
    """A request's image (bytes, base64 or a data: URI) normalized and with faces blurred, as
    training images were; bytes stay bytes, text comes back as base64 text."""
    import base64

    from datawheel.data.media.decode import MediaError, media_bytes
    from datawheel.data.media.faces import blur_image_bytes
    from datawheel.data.media.normalize import normalize_image

    try:
        stored, _ = normalize_image(media_bytes(value, None))
    except MediaError as exc:
        raise MediaError(exc.reason, exc.detail, where=column) from None
    data, _ = blur_image_bytes(stored.data)
    return data if isinstance(value, bytes | bytearray) else base64.b64encode(data).decode()
