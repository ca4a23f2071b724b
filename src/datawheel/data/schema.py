"""Column roles (target, id, text, numeric, ...), config validation and mixed-type checks."""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import cast

import polars as pl

from datawheel.config import DataConfig
from datawheel.errors import DataError
from datawheel.i18n.identifiers import looks_like_identifier

__all__ = [
    "ROLES",
    "ColumnInfo",
    "feature_columns",
    "infer_schema",
    "is_numeric_dtype",
    "require_columns",
    "type_issues",
    "validate",
]

ROLES = (
    "target", "id", "text", "image", "audio", "numeric", "categorical", "sensitive", "pii",
    "ignore",
)  # fmt: skip
TEXT_MEDIAN_CHARS = 40  # a string column whose median value is longer than this is free text
TEXT_UNIQUE_SHARE = 0.5  # ... or whose values are mostly distinct and hold spaces


@dataclass(frozen=True)
class ColumnInfo:
    """One column's dtype (polars name), role, and counts of missing and distinct values."""

    name: str
    dtype: str
    role: str
    missing: int
    unique: int


def is_numeric_dtype(dtype: str | pl.DataType) -> bool:
    """True for integer, float and decimal dtypes, given a polars dtype or its name."""
    if isinstance(dtype, pl.DataType) or (
        isinstance(dtype, type) and issubclass(dtype, pl.DataType)
    ):
        return dtype.is_numeric()
    return str(dtype).startswith(("Int", "UInt", "Float", "Decimal"))


def _looks_like_text(series: pl.Series) -> bool:
    values = series.drop_nulls()
    if values.is_empty():
        return False
    median_chars = cast(float, values.str.len_chars().median())  # not empty: a number
    if median_chars > TEXT_MEDIAN_CHARS:
        return True
    distinct_share = values.n_unique() / values.len()
    with_space = cast(float, values.str.contains(" ").mean())
    return distinct_share > TEXT_UNIQUE_SHARE and with_space > 0.5


def _inferred_role(series: pl.Series, *, infer_text: bool) -> str:
    dtype = series.dtype
    if dtype.is_numeric():
        return "numeric"
    if dtype == pl.String:
        return "text" if infer_text and _looks_like_text(series) else "categorical"
    if dtype in (pl.Boolean, pl.Categorical) or isinstance(dtype, pl.Enum):
        return "categorical"
    return "ignore"  # dates, nested and all-null columns: not a feature until someone asks


def infer_schema(
    frame: pl.DataFrame, data: DataConfig, *, pii_columns: Iterable[str] = ()
) -> dict[str, ColumnInfo]:
    """Give every column one role: the config decides first, then the dtype.

    Precedence when the config names a column twice: target, id, pii, ignore, audio, image,
    text, sensitive.
    Long free-text string columns are inferred as ``text`` only when ``data.text`` is empty;
    once the user lists text columns, the list is taken as complete. Dates and nested
    columns get ``ignore``, as does ``data.time`` (it orders the split, it is no feature).
    """
    named: dict[str, str] = {}
    for role, columns in (
        ("sensitive", data.sensitive),
        ("text", data.text),
        ("image", data.images),
        ("audio", data.audio),
        ("ignore", data.ignore),
        # the split's time column: a raw timestamp would make the model extrapolate
        ("ignore", [data.time] if data.time else []),
        ("pii", list(pii_columns)),
        ("id", [data.id] if data.id else []),
        ("target", [data.target]),
    ):  # later entries win: lowest precedence first
        named.update(dict.fromkeys(columns, role))
    schema: dict[str, ColumnInfo] = {}
    for series in frame.iter_columns():
        role = named.get(series.name) or _inferred_role(series, infer_text=not data.text)
        schema[series.name] = ColumnInfo(
            name=series.name,
            dtype=str(series.dtype),
            role=role,
            missing=series.null_count(),
            unique=series.n_unique(),
        )
    return schema


def feature_columns(schema: Mapping[str, ColumnInfo]) -> tuple[list[str], list[str]]:
    """(numeric, categorical) model inputs; sensitive columns count as features by dtype."""
    numeric: list[str] = []
    categorical: list[str] = []
    for info in schema.values():
        if info.role == "numeric" or (info.role == "sensitive" and is_numeric_dtype(info.dtype)):
            numeric.append(info.name)
        elif info.role in ("categorical", "sensitive"):
            categorical.append(info.name)
    return numeric, categorical


def _missing_column(key: str, column: str, available: list[str], source: str) -> DataError:
    close = difflib.get_close_matches(column, available, n=1)
    listed = ", ".join(available)
    guess = f"did you mean {close[0]!r}? " if close else ""
    return DataError(
        f"column {column!r} named in {key} is not in the table",
        where=f"{source}: {key}",
        hint=f"{guess}available columns: {listed}",
    )


def require_columns(available: list[str], named: Iterable[tuple[str, str]], *, source: str) -> None:
    """Raise for the first (config key, column) whose column is not in ``available``; the error
    lists the available columns and suggests the closest name."""
    for key, column in named:
        if column not in available:
            raise _missing_column(key, column, available, source)


def validate(frame: pl.DataFrame, data: DataConfig, *, source: str) -> None:
    """Check the table against the data config; raise on the first problem.

    Every named column must exist, and the target must hold at least two classes.
    Duplicate id values are allowed (a subject may have several rows).
    """
    available = frame.columns
    named: list[tuple[str, str]] = [("data.target", data.target)]
    if data.id:
        named.append(("data.id", data.id))
    if data.time:
        named.append(("data.time", data.time))
    for key in ("text", "images", "audio", "sensitive", "ignore"):
        named.extend((f"data.{key}", column) for column in getattr(data, key))
    named.extend(("data.dtypes", column) for column in data.dtypes)
    require_columns(available, named, source=source)
    target = frame[data.target]
    if target.null_count() == target.len():
        raise DataError(
            f"target column {data.target!r} has no values (all {target.len()} rows are empty)",
            where=f"{source}: data.target",
            hint="point data.target at the label column",
        )
    classes = target.drop_nulls().n_unique()
    if classes < 2:
        only = target.drop_nulls()[0]
        raise DataError(
            f"target column {data.target!r} has a single class ({only!r}); need at least 2",
            where=f"{source}: data.target",
            hint="check the target column, or add rows of the other classes",
        )


def type_issues(frame: pl.DataFrame, *, examples: int = 3) -> dict[str, str]:
    """Columns read as text although most values are numbers: column -> one-line description.

    Such a column usually holds a few stray entries ('forty', 'n/a') that made the reader
    fall back to strings; they become missing values once fixed or cast. Code columns (ID-card
    numbers ending in X, phone numbers, leading zeros) are text on purpose, not an issue.
    """
    issues: dict[str, str] = {}
    for series in frame.iter_columns():
        if series.dtype != pl.String or looks_like_identifier(series):
            continue
        values = series.drop_nulls().str.strip_chars()
        values = values.filter(values != "")
        if values.is_empty():
            continue
        parsed = values.cast(pl.Float64, strict=False)
        bad = values.filter(parsed.is_null())
        if bad.is_empty() or bad.len() * 2 >= values.len():
            continue  # all numbers (cannot happen for a String column), or mostly words
        shown = ", ".join(repr(v) for v in bad.unique(maintain_order=True).head(examples))
        issues[series.name] = (
            f"{series.name}: {bad.len()} of {series.len()} values are not numbers (e.g. {shown})"
        )
    return issues
