"""Statistics gathered batch by batch over a streamed file: row-hash set, values, counts, types.

Memory bounds (documented in docs/data.md):

- ``RowHashSet``: 8 bytes per distinct row (sorted uint64 runs, merged geometrically).
- ``Values``: exact (8 bytes per value) up to ``max_exact`` values, then a uniform random sample
  of ``sample_size`` values; quantiles, means and shares computed from it are then approximate
  (rank error about 1/sqrt(sample_size)), and ``exact`` says so.
- ``ValueCounts``: one entry per distinct value up to ``max_distinct``; beyond, the rarest are
  pruned (counts of the frequent values stay exact or slightly low: the mode stays right).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl

from datawheel.i18n.identifiers import IdentifierEvidence

__all__ = ["RowHashSet", "TypeIssues", "ValueCounts", "Values"]


class RowHashSet:
    """Which 64-bit row hashes were seen before, in 8 bytes per distinct hash."""

    def __init__(self) -> None:
        self._runs: list[np.ndarray] = []  # sorted, unique; sizes shrink geometrically

    def first_seen(self, hashes: np.ndarray) -> np.ndarray:
        """Mask of hashes seen neither earlier in this batch nor in any earlier batch; adds them."""
        hashes = np.asarray(hashes, dtype=np.uint64)
        new = pl.Series(hashes).is_first_distinct().to_numpy()
        for run in self._runs:
            pos = np.minimum(np.searchsorted(run, hashes), len(run) - 1)
            new &= run[pos] != hashes
        if new.any():
            self._runs.append(np.sort(hashes[new]))
            while len(self._runs) > 1 and len(self._runs[-2]) <= 2 * len(self._runs[-1]):
                last = self._runs.pop()
                self._runs[-1] = np.sort(np.concatenate([self._runs[-1], last]))
        return new

    def __len__(self) -> int:
        return sum(len(r) for r in self._runs)


class Values:
    """The non-null values of one numeric column: exact, or a uniform sample past ``max_exact``."""

    def __init__(self, *, max_exact: int = 5_000_000, sample_size: int = 200_000, seed: int = 0):
        self.max_exact, self.sample_size = max_exact, sample_size
        self.count = 0  # non-null values seen
        self.nulls = 0
        self._chunks: list[pl.Series] = []
        self._held = 0
        self._rng = np.random.default_rng(seed)
        self._sample: np.ndarray | None = None  # float64 values once sampling
        self._keys: np.ndarray | None = None  # their random priorities (the smallest are kept)

    @property
    def exact(self) -> bool:
        return self._sample is None

    def add(self, series: pl.Series) -> None:
        values = series.drop_nulls()
        if values.dtype.is_float():
            values = values.drop_nans()
        self.nulls += series.len() - values.len()
        self.count += values.len()
        if self._sample is None:
            self._chunks.append(values)
            self._held += values.len()
            if self._held > self.max_exact:
                self._start_sampling()
        else:
            self._offer(values.cast(pl.Float64).to_numpy())

    def _start_sampling(self) -> None:
        held = pl.concat(self._chunks).cast(pl.Float64).to_numpy() if self._chunks else None
        self._chunks, self._held = [], 0
        self._sample, self._keys = np.zeros(0), np.zeros(0)
        if held is not None:
            self._offer(held)

    def _offer(self, values: np.ndarray) -> None:
        assert self._sample is not None and self._keys is not None
        sample = np.concatenate([self._sample, values])
        keys = np.concatenate([self._keys, self._rng.random(len(values))])
        if len(sample) > self.sample_size:
            keep = np.argpartition(keys, self.sample_size)[: self.sample_size]
            sample, keys = sample[keep], keys[keep]
        self._sample, self._keys = sample, keys

    def series(self, name: str = "value", *, extra: Any = None, extra_count: int = 0) -> pl.Series:
        """The values (exact) or the sample, plus ``extra_count`` copies of ``extra`` (scaled to the
        sample when sampling) — e.g. the fill value for the nulls it will replace."""
        if self._sample is None:
            base = pl.concat(self._chunks, rechunk=True) if self._chunks else pl.Series([])
            copies = extra_count
        else:
            base = pl.Series(self._sample)
            copies = round(extra_count * len(self._sample) / max(self.count, 1))
        base = base.alias(name)
        if extra is None or copies <= 0:
            return base
        filler = pl.Series(name, [extra]).cast(base.dtype, strict=False)
        return pl.concat([base, filler.extend_constant(filler[0], copies - 1)])


class ValueCounts:
    """Counts of the distinct non-null values of one column."""

    def __init__(self, *, max_distinct: int = 1_000_000):
        self.max_distinct = max_distinct
        self.nulls = 0
        self.approximate = False
        self._counts: pl.DataFrame | None = None
        self._pending: list[pl.DataFrame] = []

    def add(self, series: pl.Series) -> None:
        self.nulls += series.null_count()
        values = series.drop_nulls()
        if values.len():
            self._pending.append(values.value_counts(name="_n").rename({values.name: "value"}))
        if sum(p.height for p in self._pending) > 100_000:
            self._merge()

    def _merge(self) -> None:
        parts = ([self._counts] if self._counts is not None else []) + self._pending
        self._pending = []
        if not parts:
            return
        merged = pl.concat(parts).group_by("value").agg(pl.col("_n").sum())
        if merged.height > self.max_distinct:
            self.approximate = True
            merged = merged.sort("_n", descending=True).head(self.max_distinct // 2)
        self._counts = merged

    def frame(self) -> pl.DataFrame:
        """(value, _n), most frequent first, ties by value."""
        self._merge()
        if self._counts is None:
            return pl.DataFrame(
                {"value": [], "_n": []}, schema={"value": pl.String, "_n": pl.UInt32}
            )
        return self._counts.sort(["_n", "value"], descending=[True, False])


class TypeIssues:
    """Text columns whose values are mostly numbers (see ``schema.type_issues``), over batches."""

    def __init__(self, examples: int = 3):
        self.examples = examples
        self._codes: dict[str, IdentifierEvidence] = {}  # code columns are text on purpose
        self._values: dict[str, int] = {}
        self._rows: dict[str, int] = {}
        self._bad: dict[str, int] = {}
        self._shown: dict[str, list[str]] = {}

    def add(self, frame: pl.DataFrame) -> None:
        for series in frame.iter_columns():
            if series.dtype != pl.String:
                continue
            name = series.name
            self._codes.setdefault(name, IdentifierEvidence()).add(series)
            values = series.drop_nulls().str.strip_chars()
            values = values.filter(values != "")
            bad = values.filter(values.cast(pl.Float64, strict=False).is_null())
            self._rows[name] = self._rows.get(name, 0) + series.len()
            self._values[name] = self._values.get(name, 0) + values.len()
            self._bad[name] = self._bad.get(name, 0) + bad.len()
            shown = self._shown.setdefault(name, [])
            for v in bad.unique(maintain_order=True).head(self.examples).to_list():
                if len(shown) < self.examples and v not in shown:
                    shown.append(v)

    def issues(self) -> dict[str, str]:
        out = {}
        for name, values in self._values.items():
            bad = self._bad[name]
            if not values or not bad or bad * 2 >= values or self._codes[name].verdict(name):
                continue
            shown = ", ".join(repr(v) for v in self._shown[name])
            out[name] = f"{name}: {bad} of {self._rows[name]} values are not numbers (e.g. {shown})"
        return out
