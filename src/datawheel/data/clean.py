"""Cleaning steps (exact and near dedup, missing values, outliers, rules, text normalization),
each a small counted class."""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, cast

import numpy as np
import polars as pl

from datawheel.config import (
    CleanConfig,
    DedupConfig,
    MediaDedupConfig,
    MissingConfig,
    NearDedupConfig,
    OutliersConfig,
    RuleConfig,
)
from datawheel.data.dedup import Sketcher, check_dedup_args, resolve_clusters
from datawheel.data.media.dedup import MediaKeys, find_duplicates
from datawheel.data.normalize import normalize_text
from datawheel.data.rules import apply_rules
from datawheel.errors import DataError

__all__ = [
    "CleanStats",
    "ExactDedup",
    "MediaDedup",
    "MissingValues",
    "NearDedup",
    "NormalizeText",
    "Outliers",
    "Rules",
    "Step",
    "clean_frame",
    "clean_rows",
    "dedup_frame",
    "duplicate_labels",
    "mode_of_counts",
    "numeric_fill",
    "row_keys",
]


@dataclass
class CleanStats:
    """What cleaning did, by reason and column; steps fill their part, ``merge`` adds them up."""

    rows_in: int = 0
    rows_out: int = 0
    dropped: dict[str, int] = field(default_factory=dict)  # reason -> rows removed
    imputed: dict[str, int] = field(default_factory=dict)  # column -> cells filled
    fill_values: dict[str, Any] = field(default_factory=dict)  # column -> value used to fill
    outliers: dict[str, int] = field(default_factory=dict)  # column -> values beyond the bounds
    outlier_bounds: dict[str, tuple[float, float]] = field(default_factory=dict)
    outlier_action: str = ""  # clip | drop | flag, when any column was checked
    rules: dict[str, int] = field(default_factory=dict)  # rule text -> rows matched
    skipped: dict[str, str] = field(default_factory=dict)  # column -> why a step left it alone

    def merge(self, other: CleanStats) -> None:
        """Add another step's counts into this record (rows_in/rows_out are set by the caller)."""
        for name in ("dropped", "imputed", "outliers", "rules"):
            mine: dict[str, int] = getattr(self, name)
            for key, count in getattr(other, name).items():
                mine[key] = mine.get(key, 0) + count
        self.fill_values.update(other.fill_values)
        self.outlier_bounds.update(other.outlier_bounds)
        self.outlier_action = other.outlier_action or self.outlier_action
        for column, why in other.skipped.items():
            self.skipped[column] = (
                f"{self.skipped[column]}; {why}" if column in self.skipped else why
            )


class Step(Protocol):
    """One cleaning step: a frame in, a frame and its statistics out."""

    def apply(self, frame: pl.DataFrame) -> tuple[pl.DataFrame, CleanStats]: ...


def _drop(frame: pl.DataFrame, keep: pl.Series, reason: str, stats: CleanStats) -> pl.DataFrame:
    removed = frame.height - int(keep.sum())
    if removed:
        stats.dropped[reason] = stats.dropped.get(reason, 0) + removed
    return frame.filter(keep)


class ExactDedup:
    """Drop rows equal to an earlier row once text is normalized (NFKC, spaces, case).

    ``ignore`` columns (the subject id) are left out of the comparison, so the same record
    filed under two ids counts as a duplicate. The first occurrence is kept.
    """

    def __init__(self, ignore: Sequence[str] = ()):
        self.ignore = set(ignore)

    def apply(self, frame: pl.DataFrame) -> tuple[pl.DataFrame, CleanStats]:
        stats = CleanStats()
        keys = row_keys(frame.schema, self.ignore)
        if not keys or frame.is_empty():
            return frame, stats
        keep = frame.select(pl.struct(keys).is_first_distinct()).to_series()
        return _drop(frame, keep, "exact_duplicate", stats), stats


def row_keys(schema: Mapping[str, pl.DataType], ignore: Collection[str] = ()) -> list[pl.Expr]:
    """What exact dedup compares: every column but ``ignore``, text normalized."""
    keys = []
    for name, dtype in schema.items():
        if name in ignore:
            continue
        if dtype == pl.String or dtype == pl.Categorical or isinstance(dtype, pl.Enum):
            keys.append(normalize_text(pl.col(name).cast(pl.String)))
        else:
            keys.append(pl.col(name))
    return keys


class MediaDedup:
    """Drop rows whose image or clip duplicates an earlier row's (``datawheel.data.media.dedup``):
    the same content, or (images) a perceptual hash within ``max_distance`` bits.

    ``keys`` are those of the frame this step is applied to, row for row.
    """

    def __init__(self, config: MediaDedupConfig, keys: MediaKeys):
        self.config, self.keys = config, keys

    def apply(self, frame: pl.DataFrame) -> tuple[pl.DataFrame, CleanStats]:
        assert self.keys.rows == frame.height, "media keys must match the frame's rows"
        found = find_duplicates(self.keys, self.config)
        stats = CleanStats(dropped=found.dropped)
        return frame.filter(pl.Series(found.keep)), stats


class NearDedup:
    """Drop rows whose text in a ``fields`` column is a near duplicate of an earlier row's.

    Fields are taken in turn. Rows with a missing or blank text are never compared; texts equal
    after normalization count as near duplicates here (whole-row duplicates are ExactDedup's).
    """

    def __init__(self, config: NearDedupConfig):
        self.config = config

    def apply(self, frame: pl.DataFrame) -> tuple[pl.DataFrame, CleanStats]:
        stats = CleanStats()
        for name in self.config.fields:
            check_dedup_args(frame.columns, frame.schema.get(name), name, self.config.threshold)
            column = frame.get_column(name).cast(pl.String)
            sketcher = Sketcher(ngram=self.config.ngram, exact_only=False)
            sketcher.add(column)
            found = resolve_clusters(
                *sketcher.finish(),
                threshold=self.config.threshold,
                fetch_texts=column.gather,
                ngram=self.config.ngram,
                active=comparable_text(column).to_numpy(),
            )
            frame = _drop(frame, pl.Series(found.keep), "near_duplicate", stats)
        return frame, stats


def comparable_text(column: pl.Series) -> pl.Series:
    """Texts near-dedup compares: present and not blank."""
    return column.str.strip_chars().str.len_chars().fill_null(0) > 0


class NormalizeText:
    """NFKC, trimmed, whitespace-collapsed (and optionally lower-cased) text columns."""

    def __init__(self, columns: Sequence[str], *, lowercase: bool = False):
        self.columns, self.lowercase = list(columns), lowercase

    def apply(self, frame: pl.DataFrame) -> tuple[pl.DataFrame, CleanStats]:
        present = [c for c in self.columns if frame.schema.get(c) == pl.String]
        exprs = [normalize_text(pl.col(c), lowercase=self.lowercase) for c in present]
        return (frame.with_columns(exprs) if exprs else frame), CleanStats()


def numeric_fill(series: pl.Series, strategy: str, fill_value: Any) -> Any:
    """The value that fills a numeric column, or None when there is nothing to learn from."""
    if strategy == "constant":
        return fill_value
    values = series.drop_nulls()
    if values.is_empty():
        return None
    if strategy == "median":
        value = values.median()
    elif strategy == "mean":
        value = values.mean()
    else:
        value = _most_frequent(values)
    if series.dtype.is_integer() and value is not None:
        value = round(float(cast(float, value)))  # keep the column's integer dtype
    return value


def _most_frequent(values: pl.Series) -> Any:
    """The mode; ties go to the smallest value so the result does not depend on row order."""
    return mode_of_counts(values.value_counts(name="_n"), values.name)


def mode_of_counts(counts: pl.DataFrame, name: str) -> Any:
    """The most frequent value of a (value ``name``, count ``_n``) frame; ties to the smallest."""
    return counts.sort(["_n", name], descending=[True, False])[name][0]


class MissingValues:
    """Fill or drop missing cells per MissingConfig; rows without a target are always dropped.

    Text columns are filled with "" (an empty text is a valid input to a text model). Fill
    values are learned from the frame given, and recorded in ``fill_values`` for serving —
    unless ``fill_values`` is passed (learned over a whole file streamed in batches); a column
    absent from it is left alone. ``ffill`` carries the last value from one call to the next.
    """

    def __init__(
        self,
        config: MissingConfig,
        *,
        numeric: Sequence[str] = (),
        categorical: Sequence[str] = (),
        text: Sequence[str] = (),
        target: str | None = None,
        fill_values: Mapping[str, Any] | None = None,
    ):
        self.config = config
        self.numeric, self.categorical, self.text = list(numeric), list(categorical), list(text)
        self.target = target
        self.fill_values = fill_values
        self._carry: dict[str, Any] = {}  # ffill: the last value seen, for the next batch

    def apply(self, frame: pl.DataFrame) -> tuple[pl.DataFrame, CleanStats]:
        stats = CleanStats()
        if self.target is not None and self.target in frame.columns:
            frame = _drop(frame, frame[self.target].is_not_null(), "missing_target", stats)
        frame = self._fill(frame, self.numeric, self.config.numeric, stats, numeric=True)
        frame = self._fill(frame, self.categorical, self.config.categorical, stats, numeric=False)
        for name in self.text:
            if name in frame.columns and frame[name].null_count():
                stats.imputed[name] = frame[name].null_count()
                stats.fill_values[name] = ""
                frame = frame.with_columns(pl.col(name).cast(pl.String).fill_null(""))
        return frame, stats

    def _fill(
        self,
        frame: pl.DataFrame,
        columns: list[str],
        strategy: str,
        stats: CleanStats,
        *,
        numeric: bool,
    ) -> pl.DataFrame:
        if strategy == "none":
            return frame
        present = [c for c in columns if c in frame.columns]
        if numeric:
            for name in present:
                if not frame.schema[name].is_numeric():
                    stats.skipped[name] = f"missing: not a number column ({frame.schema[name]})"
                elif frame.schema[name].is_float():  # NaN is missing too
                    frame = frame.with_columns(pl.col(name).fill_nan(None))
            present = [c for c in present if frame.schema[c].is_numeric()]
        if strategy == "drop":
            if not present:
                return frame
            keep = frame.select(pl.all_horizontal(pl.col(present).is_not_null())).to_series()
            return _drop(frame, keep, "missing_value", stats)
        if strategy == "constant" and self.config.fill_value is None:
            raise DataError(
                "missing-value strategy 'constant' needs a fill value",
                where="clean.missing.fill_value",
                hint="set clean.missing.fill_value, e.g. 0 or 'unknown'",
            )
        for name in present:
            nulls = frame[name].null_count()
            if not nulls:
                continue
            if strategy == "ffill":
                frame = self._forward_fill(frame, name)
            else:
                frame = self._fill_constant(frame, name, strategy, stats)
            filled = nulls - frame[name].null_count()
            if filled:
                stats.imputed[name] = filled
        if strategy == "ffill":  # remember the last value even in batches without nulls
            for name in present:
                last = frame[name].drop_nulls()
                if last.len():
                    self._carry[name] = last[-1]
        return frame

    def _forward_fill(self, frame: pl.DataFrame, name: str) -> pl.DataFrame:
        filled = pl.col(name).forward_fill()
        if self._carry.get(name) is not None:
            filled = filled.fill_null(pl.lit(self._carry[name], dtype=frame.schema[name]))
        return frame.with_columns(filled)

    def _fill_constant(
        self, frame: pl.DataFrame, name: str, strategy: str, stats: CleanStats
    ) -> pl.DataFrame:
        series = frame[name]
        if self.fill_values is not None:
            value = self.fill_values.get(name)
            if value is None:
                return frame  # nothing was learned (the reason is recorded where it was learned)
        elif series.dtype.is_numeric():
            value = numeric_fill(series, strategy, self.config.fill_value)
        elif strategy == "constant":
            value = self.config.fill_value
        else:
            value = _most_frequent(series.drop_nulls()) if series.drop_nulls().len() else None
        if value is None:
            stats.skipped[name] = "missing: the column has no values to learn a fill from"
            return frame
        try:
            filled = series.fill_null(pl.lit(value).cast(series.dtype, strict=True))
        except pl.exceptions.PolarsError:
            raise DataError(
                f"cannot fill column {name!r} ({series.dtype}) with {value!r}",
                where="clean.missing.fill_value",
                hint="use a fill value of the column's type",
            ) from None
        stats.fill_values[name] = value
        return frame.with_columns(filled.alias(name))


class Outliers:
    """Clip, drop or flag numeric values beyond IQR fences or a z-score cut-off.

    A column whose IQR (or standard deviation) is 0 is skipped and the reason recorded: in a
    zero-inflated column such as capital_gain (q1 = q3 = 0) every non-zero value would fall
    outside the fences, and clipping would flatten the feature to a constant. Likewise a
    column with more than ``max_share`` of its values beyond the bounds is skipped: a spiky
    distribution (hours_per_week: 40 for half the rows) is its shape, not its outliers.
    Bounds are computed on the frame given, all columns at once, before anything changes —
    unless ``bounds`` is passed (column -> (low, high), or why it is skipped), as learned over a
    whole file streamed in batches with :meth:`column_bounds`.
    """

    def __init__(
        self,
        config: OutliersConfig,
        *,
        numeric: Sequence[str] = (),
        max_share: float | None = None,
        bounds: Mapping[str, tuple[float, float] | str] | None = None,
    ):
        self.config = config
        self.numeric = list(numeric)
        self.max_share = config.max_share if max_share is None else max_share
        self.bounds = bounds

    def column_bounds(self, series: pl.Series) -> tuple[float, float] | str:
        """(low, high) for a column's values, or why the column is left alone."""
        bounds = self._bounds(series)
        if isinstance(bounds, str):
            return bounds
        low, high = bounds
        values = series.cast(pl.Float64)
        count = int(((values < low) | (values > high)).fill_null(False).sum())
        return self.judge_share(low, high, count, series.count())

    def judge_share(
        self, low: float, high: float, beyond: int, count: int
    ) -> tuple[float, float] | str:
        """The bounds, unless more than ``max_share`` of the ``count`` values lie beyond them."""
        share = beyond / max(count, 1)
        if share > self.max_share:
            return (
                f"{share:.1%} of values lie beyond [{low:g}, {high:g}], more than "
                f"{self.max_share:.0%}; that is the distribution's shape, not outliers"
            )
        return low, high

    def fences(self, q1: float, q3: float) -> tuple[float, float] | str:
        """IQR fences from the quartiles, or why there are none."""
        factor = self.config.factor
        if q3 - q1 == 0:
            return f"IQR is 0 (q1 = q3 = {q1:g}); fences would flatten the column"
        return q1 - factor * (q3 - q1), q3 + factor * (q3 - q1)

    def z_fences(self, mean: float, std: float) -> tuple[float, float] | str:
        """z-score cut-offs from the mean and standard deviation, or why there are none."""
        if std == 0:
            return "standard deviation is 0; z-scores are undefined"
        return mean - self.config.factor * std, mean + self.config.factor * std

    def _bounds(self, series: pl.Series) -> tuple[float, float] | str:
        """(low, high), or why the column is skipped."""
        if not series.dtype.is_numeric():
            return f"not a number column ({series.dtype})"
        values = series.cast(pl.Float64).drop_nulls().drop_nans()
        if values.is_empty():
            return "no values"
        if self.config.method == "iqr":
            q1 = float(values.quantile(0.25, "linear"))  # type: ignore[arg-type]
            q3 = float(values.quantile(0.75, "linear"))  # type: ignore[arg-type]
            return self.fences(q1, q3)
        mean, std = float(values.mean()), float(values.std() or 0.0)  # type: ignore[arg-type]
        return self.z_fences(mean, std)

    def apply(self, frame: pl.DataFrame) -> tuple[pl.DataFrame, CleanStats]:
        stats = CleanStats()
        if self.config.method == "none":
            return frame, stats
        action = self.config.action
        outside: dict[str, pl.Expr] = {}
        updates: list[pl.Expr] = []
        for name in (c for c in self.numeric if c in frame.columns):
            if self.bounds is not None:
                bounds = self.bounds.get(name, "no bounds learned")
            else:
                bounds = self.column_bounds(frame[name])
            if isinstance(bounds, str):
                stats.skipped[name] = f"outliers: {bounds}"
                continue
            low, high = bounds
            column = pl.col(name)
            beyond = ((column < low) | (column > high)).fill_null(False)
            count = int(frame.select(beyond.sum()).item())
            stats.outlier_bounds[name] = (low, high)
            stats.outliers[name] = count
            outside[name] = beyond
            if action == "clip":
                if frame.schema[name].is_integer():
                    low, high = math.ceil(low), math.floor(high)  # stay whole numbers
                updates.append(column.clip(low, high).alias(name))
            elif action == "flag":
                updates.append(beyond.alias(f"{name}_outlier"))
        if outside:
            stats.outlier_action = action
        if action == "drop" and outside:
            keep = frame.select(~pl.any_horizontal(list(outside.values()))).to_series()
            return _drop(frame, keep, "outlier", stats), stats
        return (frame.with_columns(updates) if updates else frame), stats


class Rules:
    """Label rules from the config: set constants where a safe boolean expression holds."""

    def __init__(self, rules: Sequence[RuleConfig]):
        self.rules = list(rules)

    def apply(self, frame: pl.DataFrame) -> tuple[pl.DataFrame, CleanStats]:
        stats = CleanStats()
        frame, stats.rules = apply_rules(frame, self.rules)
        return frame, stats


def clean_frame(
    frame: pl.DataFrame,
    config: CleanConfig,
    *,
    numeric: Sequence[str],
    categorical: Sequence[str],
    ignore_for_dedup: Sequence[str] = (),
    text: Sequence[str] = (),
    target: str | None = None,
) -> tuple[pl.DataFrame, CleanStats]:
    """Run exact dedup -> near dedup -> missing values -> outliers -> rules -> text
    normalization, counting every removed row by reason.

    Near-duplicate removal runs when ``config.dedup.near.fields`` is not empty; text
    normalization when ``config.normalize.text``. Augmentation is separate
    (``datawheel.data.augment``, training split only): the caller runs it.
    """
    steps: list[Step] = []
    if config.dedup.exact:
        steps.append(ExactDedup(ignore_for_dedup))
    if config.dedup.near.fields:
        steps.append(NearDedup(config.dedup.near))
    steps.append(
        MissingValues(
            config.missing, numeric=numeric, categorical=categorical, text=text, target=target
        )
    )
    steps.append(Outliers(config.outliers, numeric=numeric))
    if config.rules:
        steps.append(Rules(config.rules))
    if config.normalize.text:
        steps.append(NormalizeText(text, lowercase=config.normalize.lowercase))
    return _run_steps(frame, steps)


# -- the pipeline's two halves: what may run before the split, and what is learned after -----

_ROW_LOCAL = ("drop", "ffill")  # missing-value strategies that learn nothing from other rows


def clean_rows(
    frame: pl.DataFrame,
    config: CleanConfig,
    *,
    numeric: Sequence[str],
    categorical: Sequence[str],
    text: Sequence[str] = (),
    target: str | None = None,
) -> tuple[pl.DataFrame, CleanStats]:
    """The cleaning that learns nothing from other rows, so it may run before the split:
    rows without a target dropped, ``missing: drop`` / ``ffill`` (the file's own order), a
    missing text as "", rules, text normalization.

    Everything learned from data — fill values, outlier fences — belongs to the model's
    preprocessing, fitted on the training split (``train.features.Preprocessor``); duplicates
    bind rows into split groups (``duplicate_labels``) and are removed within each part
    (``dedup_frame``). ``clean_frame`` stays the all-in-one cleaning of ``datawheel clean``.
    """
    missing = config.missing
    row_local = MissingConfig(
        numeric=missing.numeric if missing.numeric in _ROW_LOCAL else "none",
        categorical=missing.categorical if missing.categorical in _ROW_LOCAL else "none",
        fill_value=missing.fill_value,
    )
    steps: list[Step] = [
        MissingValues(row_local, numeric=numeric, categorical=categorical, text=text, target=target)
    ]
    if config.rules:
        steps.append(Rules(config.rules))
    if config.normalize.text:
        steps.append(NormalizeText(text, lowercase=config.normalize.lowercase))
    return _run_steps(frame, steps)


def duplicate_labels(
    frame: pl.DataFrame,
    config: DedupConfig,
    *,
    ignore: Sequence[str] = (),
    media: MediaKeys | None = None,
) -> list[Any]:
    """Per-row labels that tie copies together — the exact duplicate key (``ignore`` columns
    left out), each near-duplicate cluster, and (with ``media``, the keys of the frame's image
    and audio columns) each cluster of duplicate files — for the split to keep them in one part.

    Finding which rows are copies of each other looks across rows by nature; it decides only
    where rows go, never a value the model sees.
    """
    labels: list[Any] = []
    if config.exact:
        keys = row_keys(frame.schema, ignore)
        if keys and frame.height:
            labels.append(frame.select(pl.struct(keys).rank("dense")).to_series().to_numpy())
    for name in config.near.fields:
        check_dedup_args(frame.columns, frame.schema.get(name), name, config.near.threshold)
        column = frame.get_column(name).cast(pl.String)
        sketcher = Sketcher(ngram=config.near.ngram, exact_only=False)
        sketcher.add(column)
        found = resolve_clusters(
            *sketcher.finish(),
            threshold=config.near.threshold,
            fetch_texts=column.gather,
            ngram=config.near.ngram,
            active=comparable_text(column).to_numpy(),
        )
        labels.append(np.asarray(found.cluster))
    if media is not None and (config.media.exact or config.media.near):
        labels.append(find_duplicates(media, config.media).cluster)
    return labels


def dedup_frame(
    frame: pl.DataFrame,
    config: DedupConfig,
    *,
    ignore: Sequence[str] = (),
    media: MediaKeys | None = None,
) -> tuple[pl.DataFrame, CleanStats]:
    """Duplicate images and clips (with ``media``, the keys of ``frame``'s rows), then exact and
    near-duplicate rows, removed within ``frame`` (one part of the split)."""
    steps: list[Step] = []
    if media is not None and (config.media.exact or config.media.near):
        steps.append(MediaDedup(config.media, media))
    if config.exact:
        steps.append(ExactDedup(ignore))
    if config.near.fields:
        steps.append(NearDedup(config.near))
    return _run_steps(frame, steps)


def _run_steps(frame: pl.DataFrame, steps: Sequence[Step]) -> tuple[pl.DataFrame, CleanStats]:
    stats = CleanStats(rows_in=frame.height)
    for step in steps:
        frame, step_stats = step.apply(frame)
        stats.merge(step_stats)
    stats.rows_out = frame.height
    return frame, stats
