"""Profile a table's columns for a new project: the role each column should play.

Roles: ``numeric``, ``categorical``, ``text``, ``id`` (unique per row, no signal),
``constant`` (one value), ``date`` (ignored as a feature), and ``leak`` (a near-copy of the
target: it would score perfectly in training and be missing at prediction time).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from datawheel.data.schema import TEXT_MEDIAN_CHARS

__all__ = ["ColumnProfile", "profile_columns"]

ID_UNIQUE_SHARE = 0.95  # a string or integer column this distinct is an identifier
LEAK_CORRELATION = 0.98  # |Pearson r| with a numeric target above this is a near-copy
LEAK_PURITY = 0.99  # a category that predicts a class target this purely is a near-copy


@dataclass(frozen=True)
class ColumnProfile:
    name: str
    dtype: str
    role: str  # numeric categorical text id constant date leak
    missing: int
    distinct: int
    reason: str  # why this role, in a few words (the comment in datawheel.yaml)


def _is_text(values: pl.Series) -> bool:
    lengths = values.str.len_chars().to_numpy()
    spaced = float(values.str.contains(" ").to_numpy().mean()) if values.len() else 0.0
    median = float(np.median(lengths)) if lengths.size else 0.0
    return median > TEXT_MEDIAN_CHARS or (
        values.n_unique() / max(values.len(), 1) > 0.5 and spaced > 0.5
    )


def _leaks(series: pl.Series, target: pl.Series, regression: bool) -> str | None:
    both = pl.DataFrame({"x": series, "y": target}).drop_nulls()
    if both.height < 10:
        return None
    x, y = both["x"], both["y"]
    if regression and x.dtype.is_numeric():
        xs, ys = x.cast(pl.Float64).to_numpy(), y.cast(pl.Float64).to_numpy()
        if xs.std() > 0 and ys.std() > 0:
            r = float(np.corrcoef(xs, ys)[0, 1])
            if abs(r) > LEAK_CORRELATION:
                return f"correlation {r:+.3f} with the target"
        return None
    if regression or x.n_unique() > both.height / 2:
        return None
    # how well each value of x alone predicts the class: the share of its majority class
    counts = both.with_columns(pl.col("x").cast(pl.String), pl.col("y").cast(pl.String))
    grouped = counts.group_by(["x", "y"]).len().group_by("x").agg(pl.col("len").max())
    purity = float(grouped["len"].to_numpy().sum()) / both.height
    majority = float(counts["y"].value_counts()["count"].to_numpy().max()) / both.height
    if purity > LEAK_PURITY and purity > majority + 0.05:
        return f"determines the target in {purity:.1%} of rows"
    return None


def profile_columns(
    frame: pl.DataFrame, *, target: str, regression: bool, skip: tuple[str, ...] = ()
) -> dict[str, ColumnProfile]:
    """A profile per column but the target and ``skip`` (id, time given by the user)."""
    out: dict[str, ColumnProfile] = {}
    target_series = frame[target]
    for series in frame.iter_columns():
        name = series.name
        if name == target or name in skip:
            continue
        values = series.drop_nulls()
        distinct = values.n_unique()
        role, reason = _role(series, values, distinct, frame.height)
        if role in ("numeric", "categorical"):
            leak = _leaks(series, target_series, regression)
            if leak:
                role, reason = "leak", leak
        out[name] = ColumnProfile(
            name, str(series.dtype), role, series.null_count(), distinct, reason
        )
    return out


def _role(series: pl.Series, values: pl.Series, distinct: int, rows: int) -> tuple[str, str]:
    dtype = series.dtype
    if distinct <= 1:
        return "constant", "a single value"
    if dtype.is_temporal():
        return "date", "a date or time"
    if dtype.is_float():
        return "numeric", "numbers"
    if dtype.is_integer():
        if distinct >= ID_UNIQUE_SHARE * rows and _consecutive(values):
            return "id", "a distinct integer per row"
        return "numeric", "integers"
    if dtype == pl.Boolean:
        return "categorical", "true/false"
    if dtype == pl.String:
        if values.len() and _is_text(values):
            return "text", "free text"
        if distinct >= ID_UNIQUE_SHARE * max(values.len(), 1):
            return "id", "a distinct value per row"
        parsed = values.str.strip_chars().cast(pl.Float64, strict=False)
        if parsed.null_count() == 0 and values.len():
            return "numeric", "numbers written as text"
        return "categorical", f"{distinct} categories"
    return "date", f"type {dtype}"


def _consecutive(values: pl.Series) -> bool:
    """Row numbers or keys: increasing by a fixed step once sorted."""
    ordered = values.sort().to_numpy()
    steps = np.diff(ordered)
    return bool(steps.size and (steps == steps[0]).all())
