"""What ``clean --engine ray`` learns from the kept rows — fill values and outlier bounds —
computed on the cluster as the local engine's learning pass computes them: after the row-local
missing-value steps, medians and quartiles exact (``ray_stats``), most frequent values exact,
means and standard deviations as sums (two passes for the deviations)."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl
import pyarrow as pa

from datawheel.data.clean import Outliers, Step
from datawheel.data.clean_file import CleaningPlan
from datawheel.data.ray_io import ROW
from datawheel.data.ray_stats import (
    ColumnCounts,
    column_counts,
    interpolate,
    most_frequent,
    order_statistics,
    quantile_ranks,
)

__all__ = ["Learned", "block_frame", "learn"]

Progress = Callable[[str, int, int | None], None]


@dataclass
class Learned:
    fill_values: dict[str, Any]
    bounds: dict[str, tuple[float, float] | str]
    skipped: dict[str, str]


def learn(kept: Any, plan: CleaningPlan, note: Progress) -> Learned:
    """Fill values and outlier bounds over the kept rows, as the local engine's pass 2."""
    missing = plan.config.missing
    numeric = [c for c in plan.numeric if plan.schema[c].is_numeric()]
    note("learning fill values and bounds", 0, None)
    first, second = plan.learning_steps()
    columns = [ROW, *dict.fromkeys([*plan.numeric, *plan.categorical])]
    after_first = kept.map_batches(_Steps(plan, [first], columns), batch_format="pyarrow")
    after_first = after_first.materialize()
    after_both = after_first
    if missing.categorical in ("drop", "constant"):  # otherwise the second step changes nothing
        after_both = after_first.map_batches(
            _Steps(plan, [second], columns), batch_format="pyarrow"
        ).materialize()
    counts = column_counts(after_both, numeric)
    separate = missing.numeric in ("median", "mean", "most_frequent")
    separate = separate and missing.categorical == "drop"  # rows drop between fill and bounds
    source, source_counts = after_both, counts
    if separate:
        source, source_counts = after_first, column_counts(after_first, numeric)
    fills, skipped = _fill_values(source, source_counts, after_both, plan, numeric)
    bounds = _bounds(after_both, counts, plan, numeric, fills)
    note("learning fill values and bounds", 1, 1)
    return Learned({k: v for k, v in fills.items() if v is not None}, bounds, skipped)


class _Steps:
    """Cleaning steps on each block, keeping ``columns``."""

    def __init__(self, plan: CleaningPlan, steps: list[Step], columns: list[str]):
        self.schema, self.steps, self.columns = plan.schema, steps, columns

    def __call__(self, batch: pa.Table) -> pa.Table:
        frame = block_frame(batch, self.schema)
        for step in self.steps:
            frame, _ = step.apply(frame)
        return frame.select(self.columns).to_arrow()


def _fill_values(
    source: Any,
    counts: dict[str, ColumnCounts],
    after: Any,
    plan: CleaningPlan,
    numeric: list[str],
) -> tuple[dict[str, Any], dict[str, str]]:
    """Per column, the value that fills its nulls (None: nothing to learn), and why not:
    numeric fills from ``source`` (with its ``counts``), categorical ones from ``after``."""
    missing = plan.config.missing
    fills: dict[str, Any] = {}
    skipped: dict[str, str] = {}
    medians = {c: quantile_ranks(n.values, 0.5) for c, n in counts.items() if n.values}
    found = {}
    if missing.numeric == "median" and medians:
        found = order_statistics(source, {c: r[:2] for c, r in medians.items()})
    for c in plan.numeric:
        if c not in numeric:
            if missing.numeric != "none":
                skipped[c] = f"missing: not a number column ({plan.schema[c]})"
            continue
        value: Any = None
        if missing.numeric == "constant":
            value = missing.fill_value
        elif missing.numeric in ("median", "mean", "most_frequent") and counts[c].values:
            value = _numeric_fill(source, c, missing.numeric, counts, medians, found)
            if plan.schema[c].is_integer():
                value = round(float(value))
        learns = missing.numeric in ("median", "mean", "most_frequent")
        if learns and value is None and counts[c].nulls:
            skipped[c] = "missing: the column has no values to learn a fill from"
        fills[c] = value
    for c in plan.categorical:
        if missing.categorical == "constant":
            fills[c] = missing.fill_value
        elif missing.categorical == "most_frequent":
            fills[c] = most_frequent(after, c)
            if fills[c] is None and _has_nulls(after, c):
                skipped[c] = "missing: the column has no values to learn a fill from"
    return fills, skipped


def _numeric_fill(
    source: Any,
    column: str,
    strategy: str,
    counts: dict[str, Any],
    medians: dict[str, tuple[int, int, float]],
    found: dict[tuple[str, int], float],
) -> Any:
    if strategy == "median":
        low, high, fraction = medians[column]
        return interpolate(found[(column, low)], found[(column, high)], fraction)
    if strategy == "mean":
        return counts[column].total / counts[column].values
    return most_frequent(source, column)


def _has_nulls(dataset: Any, column: str) -> bool:
    return bool(dataset.map_batches(_Nulls(column), batch_format="pyarrow").count())


class _Nulls:
    def __init__(self, column: str):
        self.column = column

    def __call__(self, batch: pa.Table) -> pa.Table:
        return batch.select([ROW]).filter(pa.compute.is_null(batch[self.column]))


def _bounds(
    after: Any,
    counts: dict[str, ColumnCounts],
    plan: CleaningPlan,
    numeric: list[str],
    fills: dict[str, Any],
) -> dict[str, tuple[float, float] | str]:
    """Outlier bounds per numeric column over its values plus its fill value once per null it
    will replace (as the local engine counts them), or why a column is left alone."""
    outliers = plan.config.outliers
    if outliers.method == "none":
        return {}
    judge = Outliers(outliers)
    extra = {
        c: (float(fills[c]), counts[c].nulls)
        for c in numeric
        if fills.get(c) is not None and counts[c].nulls
    }
    sizes = {c: counts[c].values + (extra[c][1] if c in extra else 0) for c in numeric}
    found: dict[str, tuple[float, float] | str] = {}
    if outliers.method == "iqr":
        quartiles = {c: [quantile_ranks(n, q) for q in (0.25, 0.75)] for c, n in sizes.items() if n}
        ranks = {c: [r for q in qs for r in q[:2]] for c, qs in quartiles.items()}
        values = order_statistics(after, ranks, extra=extra) if ranks else {}
        for c, ((l1, h1, f1), (l3, h3, f3)) in quartiles.items():
            q1 = interpolate(values[(c, l1)], values[(c, h1)], f1)
            q3 = interpolate(values[(c, l3)], values[(c, h3)], f3)
            found[c] = judge.fences(q1, q3)
    else:
        found = _z_bounds(after, judge, counts, extra, sizes)
    bounds: dict[str, tuple[float, float] | str] = {}
    for c in plan.numeric:
        if c not in numeric:
            bounds[c] = f"not a number column ({plan.schema[c]})"
        elif not sizes[c]:
            bounds[c] = "no values"
        else:
            bounds[c] = found[c]
    fenced = {c: b for c, b in bounds.items() if isinstance(b, tuple)}
    beyond = _beyond(after, fenced, extra)
    for c, (low, high) in fenced.items():
        bounds[c] = judge.judge_share(low, high, beyond[c], sizes[c])
    return bounds


def _z_bounds(
    after: Any,
    judge: Outliers,
    counts: dict[str, Any],
    extra: dict[str, tuple[float, int]],
    sizes: dict[str, int],
) -> dict[str, tuple[float, float] | str]:
    """Mean ± factor · standard deviation (two passes: the mean, then squared deviations)."""
    means = {}
    for c, n in sizes.items():
        if n:
            value, copies = extra.get(c, (0.0, 0))
            means[c] = (counts[c].total + value * copies) / n
    deviations = after.map_batches(_SquaredDeviations(means), batch_format="pyarrow")
    sums = deviations.sum(list(means)) if means else {}
    if not isinstance(sums, dict):
        sums = {f"sum({next(iter(means))})": sums}
    out: dict[str, tuple[float, float] | str] = {}
    for c, mean in means.items():
        value, copies = extra.get(c, (0.0, 0))
        squares = float(sums.get(f"sum({c})") or 0.0) + copies * (value - mean) ** 2
        std = math.sqrt(squares / (sizes[c] - 1)) if sizes[c] > 1 else 0.0
        out[c] = judge.z_fences(mean, std)
    return out


class _SquaredDeviations:
    def __init__(self, means: dict[str, float]):
        self.means = means

    def __call__(self, batch: pa.Table) -> pa.Table:
        out = {}
        for c, mean in self.means.items():
            values = pl.from_arrow(batch[c]).cast(pl.Float64).to_numpy()
            values = values[~np.isnan(values)]
            out[c] = [float(((values - mean) ** 2).sum())]
        return pa.table(out)


def _beyond(
    after: Any, fenced: dict[str, tuple[float, float]], extra: dict[str, tuple[float, int]]
) -> dict[str, int]:
    """How many values of each column (its fill copies included) lie beyond its bounds."""
    if not fenced:
        return {}
    sums = after.map_batches(_Beyond(fenced), batch_format="pyarrow").sum(list(fenced))
    if not isinstance(sums, dict):
        sums = {f"sum({next(iter(fenced))})": sums}
    out = {}
    for c, (low, high) in fenced.items():
        value, copies = extra.get(c, (0.0, 0))
        outside = copies if copies and not low <= value <= high else 0
        out[c] = int(sums.get(f"sum({c})") or 0) + outside
    return out


class _Beyond:
    def __init__(self, fenced: dict[str, tuple[float, float]]):
        self.fenced = fenced

    def __call__(self, batch: pa.Table) -> pa.Table:
        out = {}
        for c, (low, high) in self.fenced.items():
            values = pl.from_arrow(batch[c]).cast(pl.Float64)
            assert isinstance(values, pl.Series)
            out[c] = [int(((values < low) | (values > high)).fill_null(False).sum())]
        return pa.table(out)


def block_frame(table: pa.Table, schema: dict[str, pl.DataType]) -> pl.DataFrame:
    """A block as the local engine's batch: the file-wide dtypes."""
    frame = pl.from_arrow(table)
    assert isinstance(frame, pl.DataFrame)
    wanted = {c: t for c, t in schema.items() if c in frame.columns and frame.schema[c] != t}
    return frame.cast(wanted) if wanted else frame  # type: ignore[arg-type]
