"""Column statistics computed on a Ray cluster, equal to what the local engine computes.

- Counts, sums: ``map_batches`` partials summed by one global aggregate.
- Exact order statistics (medians, IQR fences) by radix selection: each value becomes an
  order-preserving 64-bit key; a round counts, per wanted rank, the keys in each of 65,536
  buckets of the next 16 bits (``map_batches`` + ``groupby(target, bucket).aggregate(Sum,
  Min, Max)``), and the bucket holding the rank narrows the search. At most four rounds; one
  when the bucket holds a single distinct value. Only bucket counts reach the driver — never
  the values. Quantiles then interpolate as polars does (``linear``), so they match exactly.
- Most frequent values: ``groupby(value).count()``, then the highest count (ties to the
  smallest value, as locally).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl
import pyarrow as pa

__all__ = [
    "ColumnCounts",
    "column_counts",
    "interpolate",
    "most_frequent",
    "order_statistics",
    "quantile_ranks",
    "small_frame",
]

_BITS = 16
_SIGN = np.uint64(1 << 63)


@dataclass(frozen=True)
class ColumnCounts:
    values: int  # non-null, non-NaN
    nulls: int  # null or NaN
    total: float  # sum of the values
    squares: float  # sum of their squares (for a standard deviation)


def column_counts(dataset: Any, columns: Sequence[str]) -> dict[str, ColumnCounts]:
    """Count, nulls, sum and sum of squares of each numeric column."""
    if not columns:
        return {}
    partial = dataset.map_batches(_Counts(list(columns)), batch_format="pyarrow")
    parts = partial.sum([f"{c}:{k}" for c in columns for k in _COUNT_KINDS])
    if not isinstance(parts, dict):  # one column: Ray returns the bare value
        parts = {f"sum({columns[0]}:values)": parts}
    out = {}
    for c in columns:
        got = {k: parts.get(f"sum({c}:{k})") or 0 for k in _COUNT_KINDS}
        out[c] = ColumnCounts(
            int(got["values"]), int(got["nulls"]), float(got["total"]), float(got["squares"])
        )
    return out


_COUNT_KINDS = ("values", "nulls", "total", "squares")


class _Counts:
    def __init__(self, columns: list[str]):
        self.columns = columns

    def __call__(self, batch: pa.Table) -> pa.Table:
        row: dict[str, list[Any]] = {}
        for c in self.columns:
            values = _floats(batch[c])
            kept = values[~np.isnan(values)]
            row[f"{c}:values"] = [len(kept)]
            row[f"{c}:nulls"] = [len(values) - len(kept)]
            row[f"{c}:total"] = [float(kept.sum())]
            row[f"{c}:squares"] = [float((kept * kept).sum())]
        return pa.table(row)


def _floats(column: Any) -> np.ndarray:
    """A numeric column as float64 with NaN for nulls."""
    return pl.from_arrow(column).cast(pl.Float64).fill_null(float("nan")).to_numpy()


def _keys(values: np.ndarray) -> np.ndarray:
    """Order-preserving uint64 keys of float64 values (NaN excluded by the caller)."""
    bits = values.astype(np.float64).view(np.uint64)
    negative = (bits & _SIGN) != 0
    return np.where(negative, ~bits, bits | _SIGN)


def _value(key: int) -> float:
    bits = np.uint64(key)
    raw = bits & ~_SIGN if bits & _SIGN else ~bits
    return float(np.array([raw], dtype=np.uint64).view(np.float64)[0])


@dataclass
class _Target:
    column: str
    wanted: int  # 0-based rank among the column's values plus the extra copies
    rank: int  # the rank within the bucket narrowed to so far
    prefix: int = 0  # the key's top bits found so far
    depth: int = 0  # how many bits of the key are known
    key: int | None = None  # the whole key, once found


def order_statistics(
    dataset: Any,
    wanted: Mapping[str, Sequence[int]],
    *,
    extra: dict[str, tuple[float, int]] | None = None,
) -> dict[tuple[str, int], float]:
    """The values at the given 0-based ranks of each column (nulls and NaN left out), exact.

    ``extra``: column → (value, copies) counted as if present (a fill value for the nulls it
    replaces, as the local engine counts it)."""
    from ray.data.aggregate import Max, Min, Sum

    extra = extra or {}
    targets = [_Target(c, r, r) for c, ranks in wanted.items() for r in sorted(set(ranks))]
    while any(t.key is None for t in targets):
        open_targets = [t for t in targets if t.key is None]
        histogram = (
            dataset.map_batches(_Histogram(open_targets), batch_format="pyarrow")
            .groupby(["target", "bucket"])
            .aggregate(
                Sum("count", alias_name="count"),
                Min("low", alias_name="low"),
                Max("high", alias_name="high"),
            )
        )
        rows = small_frame(histogram, _HISTOGRAM)
        for index, target in enumerate(open_targets):
            mine = rows.filter(pl.col("target") == index)
            if target.column in extra:
                mine = _with_extra(mine, target, *extra[target.column])
            _narrow(target, mine.sort("bucket"))
    return {(t.column, t.wanted): _value(t.key) for t in targets if t.key is not None}


def _with_extra(buckets: pl.DataFrame, target: _Target, value: float, copies: int) -> pl.DataFrame:
    """``copies`` more keys of ``value`` in the bucket they fall in, if they share the prefix."""
    key = int(_keys(np.array([value]))[0])
    if copies <= 0 or (target.depth and key >> (64 - target.depth) != target.prefix):
        return buckets
    bucket = ((key << target.depth) & ((1 << 64) - 1)) >> (64 - _BITS)
    one = pl.DataFrame(
        {"target": [0], "bucket": [bucket], "count": [copies], "low": [key], "high": [key]},
        schema=buckets.schema,
    )
    return (
        pl.concat([buckets, one])
        .group_by("bucket")
        .agg(pl.col("count").sum(), pl.col("low").min(), pl.col("high").max())
    )


def _narrow(target: _Target, buckets: pl.DataFrame) -> None:
    """Move ``target`` into the bucket that holds its rank (the rank counted within it)."""
    counts = buckets["count"].to_numpy()
    ends = np.cumsum(counts)
    at = int(np.searchsorted(ends, target.rank, side="right"))
    if at >= len(counts):
        raise RuntimeError(f"rank {target.rank} beyond the values of {target.column}")
    target.rank -= int(ends[at] - counts[at])
    target.depth += _BITS
    target.prefix = (target.prefix << _BITS) | int(buckets["bucket"][at])
    low, high = int(buckets["low"][at]), int(buckets["high"][at])
    if low == high or target.depth >= 64:
        target.key = low


class _Histogram:
    """Per open target: the count, smallest and largest key in each bucket of the next 16
    bits, among the keys that share the target's prefix."""

    def __init__(self, targets: list[_Target]):
        self.targets = [(t.column, t.prefix, t.depth) for t in targets]

    def __call__(self, batch: pa.Table) -> pa.Table:
        parts: list[pa.Table] = []
        keys_of: dict[str, np.ndarray] = {}
        for index, (column, prefix, depth) in enumerate(self.targets):
            if column not in keys_of:
                values = _floats(batch[column])
                keys_of[column] = _keys(values[~np.isnan(values)])
            keys = keys_of[column]
            if depth:
                keys = keys[(keys >> np.uint64(64 - depth)) == np.uint64(prefix)]
            if len(keys):
                parts.append(_buckets(index, keys, depth))
        return pa.concat_tables(parts) if parts else _HISTOGRAM.empty_table()


def _buckets(index: int, keys: np.ndarray, depth: int) -> pa.Table:
    bucket = ((keys << np.uint64(depth)) >> np.uint64(64 - _BITS)).astype(np.int64)
    found, place = np.unique(bucket, return_inverse=True)
    low = np.full(len(found), np.iinfo(np.uint64).max, np.uint64)
    high = np.zeros(len(found), np.uint64)
    np.minimum.at(low, place, keys)
    np.maximum.at(high, place, keys)
    return pa.table(
        {
            "target": np.full(len(found), index, np.int64),
            "bucket": found,
            "count": np.bincount(place, minlength=len(found)).astype(np.int64),
            "low": low,
            "high": high,
        },
        schema=_HISTOGRAM,
    )


_HISTOGRAM = pa.schema(
    [
        ("target", pa.int64()),
        ("bucket", pa.int64()),
        ("count", pa.int64()),
        ("low", pa.uint64()),
        ("high", pa.uint64()),
    ]
)


def small_frame(dataset: Any, schema: pa.Schema | None = None) -> pl.DataFrame:
    """A small dataset (a summary: counts, buckets) as one frame on the driver."""
    import ray

    tables = [t for t in ray.get(dataset.to_arrow_refs()) if t.num_rows]
    if not tables:
        empty = pl.from_arrow(schema.empty_table()) if schema is not None else pl.DataFrame()
        assert isinstance(empty, pl.DataFrame)
        return empty
    frame = pl.from_arrow(pa.concat_tables(tables, promote_options="permissive"))
    assert isinstance(frame, pl.DataFrame)
    return frame


def quantile_ranks(count: int, q: float) -> tuple[int, int, float]:
    """(lower rank, upper rank, fraction) of polars' ``linear`` quantile over ``count`` values:
    the quantile is ``a + fraction * (b - a)`` for the values ``a``, ``b`` at the two ranks."""
    position = q * (count - 1)
    low = math.floor(position)
    return low, min(low + 1, count - 1), position - low


def interpolate(a: float, b: float, fraction: float) -> float:
    return a + fraction * (b - a)


def most_frequent(dataset: Any, column: str) -> Any:
    """The most frequent non-null (non-NaN) value of ``column``; ties go to the smallest, as
    locally. None when the column has no values. Only the tied values reach the driver."""
    present = dataset.select_columns([column]).map_batches(_Present(column), batch_format="pyarrow")
    counts = present.groupby(column).count().materialize()
    top = counts.max("count()")
    if top is None:  # no values at all
        return None
    tied = small_frame(counts.map_batches(_Tied(top), batch_format="pyarrow"))
    return tied.sort(column)[column][0]


class _Present:
    def __init__(self, column: str):
        self.column = column

    def __call__(self, batch: pa.Table) -> pa.Table:
        series = pl.from_arrow(batch[self.column])
        assert isinstance(series, pl.Series)
        keep = series.is_not_null()
        if series.dtype.is_float():
            keep &= ~series.is_nan().fill_null(False)
        return batch.filter(pa.array(keep.to_numpy()))


class _Tied:
    def __init__(self, top: int):
        self.top = top

    def __call__(self, batch: pa.Table) -> pa.Table:
        return batch.filter(pa.compute.equal(batch["count()"], self.top))
