"""The request body's schema, generated from the served model's input fields: a pydantic model
for OpenAPI, and a fast validator with the same rules for the hot path."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, create_model

from datawheel.errors import UsageError

__all__ = ["NUMBER_LIMIT", "RowValidator", "rows_model"]

NUMBER_LIMIT = 1e12  # larger magnitudes overflow the model's float32 features into inf/NaN
_Number = Annotated[float | None, Field(strict=True, ge=-NUMBER_LIMIT, le=NUMBER_LIMIT)]
_String = Annotated[str | None, Field(strict=True)]
_Category = Annotated[str | int | float | bool | None, Field(union_mode="left_to_right")]
_Passthrough = Annotated[str | int | float | None, Field(default=None)]
# an image or clip: base64 text (or a data: URI) in JSON; a file part in multipart/form-data
_Base64 = Annotated[str, Field(json_schema_extra={"format": "byte", "contentEncoding": "base64"})]
_Media = Annotated[
    _Base64 | None,
    Field(None, description="base64 of the file (PNG/JPEG/WebP/GIF, WAV/FLAC/OGG/MP3), or a "
          "data: URI; null = missing (the model uses its missing embedding)"),
]  # fmt: skip
MEDIA_KINDS = ("image", "audio")


def rows_model(
    name: str,
    schema: Mapping[str, str],
    optional: Iterable[str],
    *,
    max_rows: int,
    nullable: Iterable[str] = (),
) -> type[BaseModel]:
    """``{"rows": [Row, …]}`` where Row has the model's fields (required, nullable for a missing
    value) and the project's PII / id fields (optional; pseudonymized before use). Other fields
    are accepted and ignored: never given to the model, never stored."""
    leave_out = set(nullable)
    fields: dict[str, Any] = {
        column: (
            _Number if kind == "number" else _Category,
            Field(None) if column in leave_out else Field(...),
        )
        for column, kind in schema.items()
        if kind not in MEDIA_KINDS
    }
    fields.update(
        {column: (_Media, None) for column, kind in schema.items() if kind in MEDIA_KINDS}
    )
    for column in optional:
        fields.setdefault(column, (_Passthrough, None))
    row = create_model(f"{name}Row", __config__=ConfigDict(extra="allow"), **fields)
    return create_model(
        f"{name}Request",
        __config__=ConfigDict(extra="forbid"),
        rows=(list[row], Field(min_length=1, max_length=max_rows)),  # type: ignore[valid-type]
    )


def _category_string(value: Any, *, where: str) -> str:
    """A category sent as a number or boolean, as the string training saw: ``3`` and ``3.0``
    → ``"3"``, ``true`` → ``"true"``; anything else (lists, objects) is an error."""
    if type(value) is bool:
        return "true" if value else "false"
    if type(value) is int:
        return str(value)
    if type(value) is float and math.isfinite(value):
        return str(int(value)) if value.is_integer() else repr(value)
    raise UsageError("must be a string (or a number standing for a category)", where=where)


class RowValidator:
    """Checks a parsed JSON body by the rules of ``rows_model``; errors name the field
    (``rows.3.age``). Returns the rows with only the known fields kept."""

    def __init__(
        self,
        schema: Mapping[str, str],
        optional: Iterable[str],
        *,
        max_rows: int,
        nullable: Iterable[str] = (),
    ):
        self.schema = dict(schema)
        self.optional = [c for c in optional if c not in self.schema]
        self.max_rows = max_rows
        # model inputs that had missing values in training: may be left out (= null)
        self.nullable = frozenset(c for c in nullable if c in self.schema)
        self._numbers = [c for c, kind in self.schema.items() if kind == "number"]
        self._strings = [c for c, kind in self.schema.items() if kind in ("string",)]
        # images and clips: base64 text or uploaded bytes; may be left out (= missing)
        self._media = [c for c, kind in self.schema.items() if kind in MEDIA_KINDS]

    def __call__(self, body: Any) -> list[dict[str, Any]]:
        if not isinstance(body, dict):
            raise UsageError('the body must be a JSON object {"rows": [...]}')
        for key in body:
            if key != "rows":
                raise UsageError(f"unknown field {key!r}", where=key, hint='send {"rows": [...]}')
        rows = body.get("rows")
        if rows is None:
            raise UsageError("field required", where="rows")
        if not isinstance(rows, list):
            raise UsageError("rows must be a list of objects", where="rows")
        if not rows:
            raise UsageError("rows must hold at least 1 row", where="rows")
        if len(rows) > self.max_rows:
            raise UsageError(
                f"at most {self.max_rows} rows per request, got {len(rows)}",
                where="rows",
                hint="split the rows over several requests",
            )
        return [self._row(i, row) for i, row in enumerate(rows)]

    def _row(self, i: int, row: Any) -> dict[str, Any]:
        if not isinstance(row, dict):
            raise UsageError("each row must be a JSON object", where=f"rows.{i}")
        out: dict[str, Any] = {}
        if self.nullable:
            row = {**dict.fromkeys(self.nullable), **row}
        try:
            for column in self._numbers:
                value = row[column]
                if value is not None:
                    if type(value) not in (int, float):
                        raise UsageError("must be a number", where=f"rows.{i}.{column}")
                    if not -NUMBER_LIMIT <= value <= NUMBER_LIMIT or math.isnan(value):
                        raise UsageError(
                            f"must be between -{NUMBER_LIMIT:g} and {NUMBER_LIMIT:g}",
                            where=f"rows.{i}.{column}",
                        )
                out[column] = value
            for column in self._strings:
                value = row[column]
                if value is not None and type(value) is not str:
                    value = _category_string(value, where=f"rows.{i}.{column}")
                out[column] = value
            for column in self._media:
                value = row.get(column)
                if value is not None and type(value) not in (str, bytes):
                    raise UsageError(
                        "must be base64 text (or a file part in multipart/form-data)",
                        where=f"rows.{i}.{column}",
                    )
                out[column] = value
        except KeyError:
            missing = [c for c in self.schema if c not in row and c not in self._media]
            raise UsageError(
                f"missing required field(s): {', '.join(missing)}",
                where=f"rows.{i}.{missing[0]}",
            ) from None
        for column in self.optional:
            value = row.get(column)
            if value is not None:
                if type(value) not in (str, int, float):
                    raise UsageError("must be a string or a number", where=f"rows.{i}.{column}")
                out[column] = value
        return out
