"""Train / validation / test splits that cannot leak: grouped by subject, cut by time.

Rows are assigned whole *groups* at a time. A group is every row of one subject (``data.id``)
joined with every copy of a duplicate record, so one person — or one record filed twice —
never sits on both sides of the split. Without a time column, groups are shuffled with the
seed and assigned per class of their first row, so each part keeps the class balance. With
``data.time`` the timeline is cut: the earliest groups train, the next validate and the latest
test (a group counts at its last timestamp, so nothing at or after a cut-off is ever trained
on), which is how the model will be used: on the future. Rows keep their input order.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import polars as pl

from datawheel.errors import DataError

__all__ = [
    "PARTS",
    "SplitInfo",
    "assign_parts",
    "components",
    "duplicate_groups",
    "split_frame",
]

PARTS = ("train", "val", "test")
MIN_ROWS = 10


@dataclass
class SplitInfo:
    """How the rows were split — shown by ``status`` and on the model card."""

    method: str  # "stratified" | "grouped" | "time"
    seed: int
    fractions: dict[str, float]  # requested share of rows per part (train = the rest)
    rows: dict[str, int] = field(default_factory=dict)
    groups: dict[str, int] = field(default_factory=dict)  # distinct groups per part
    group_column: str | None = None
    time_column: str | None = None
    time_ranges: dict[str, list[str]] = field(default_factory=dict)  # part → [first, last]
    # val / test → the timestamp each starts at: every training group ends before "val"
    time_cutoffs: dict[str, str] = field(default_factory=dict)
    duplicate_rows_grouped: int = 0  # rows joined to another row's group as its duplicate
    stratified_by: str | None = None

    def describe(self) -> str:
        """One line: ``grouped by person_id (1,602 groups), stratified by income: 1,400 / …``."""
        sizes = " / ".join(f"{self.rows.get(p, 0):,} {p}" for p in PARTS)
        how = {
            "stratified": "random rows",
            "grouped": f"grouped by {self.group_column or 'duplicate record'}",
            "time": f"by time ({self.time_column})",
        }[self.method]
        if self.method == "time" and self.group_column:
            how += f", grouped by {self.group_column}"
        if self.stratified_by and self.method != "time":
            how += f", stratified by {self.stratified_by}"
        line = f"{how}, seed {self.seed}: {sizes}"
        if self.time_cutoffs:
            line += (
                f"; trained on {self.time_column} < {self.time_cutoffs['val']}, validated "
                f"before {self.time_cutoffs['test']}, tested from {self.time_cutoffs['test']}"
            )
        return line

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "description": self.describe()}


def duplicate_groups(keys: pl.DataFrame) -> np.ndarray:
    """Group index per row ``[n]``: rows equal on every column of ``keys`` share a group."""
    if keys.width == 0:
        return np.arange(keys.height, dtype=np.int64)
    return keys.select(pl.struct(keys.columns).rank("dense")).to_series().to_numpy() - 1


def components(n: int, labelings: Sequence[np.ndarray]) -> np.ndarray:
    """Connected components of rows linked by sharing a label in any of ``labelings``."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    rows, cols = [np.arange(n)], [np.arange(n)]
    for labels in labelings:
        _, first = np.unique(labels, return_index=True)
        _, inverse = np.unique(labels, return_inverse=True)
        rows.append(np.arange(n))
        cols.append(first[inverse])  # each row linked to the first row of its label
    r, c = np.concatenate(rows), np.concatenate(cols)
    graph = coo_matrix((np.ones(r.size, dtype=np.int8), (r, c)), shape=(n, n))
    return connected_components(graph, directed=False)[1]


def _sortable(series: pl.Series) -> np.ndarray:
    """Time values as numbers that sort like time; a missing time is a DataError."""
    if series.null_count():
        raise DataError(
            f"the time column {series.name!r} has {series.null_count()} missing values",
            where=f"data.time: {series.name}",
            hint="fill or drop rows without a time before splitting by time",
        )
    if series.dtype == pl.String:
        parsed = series.str.to_datetime(strict=False)
        if parsed.null_count():
            bad = series.filter(parsed.is_null())[0]
            raise DataError(
                f"the time column {series.name!r} holds {bad!r}, not a date or time",
                where=f"data.time: {series.name}",
                hint="use ISO dates (2024-05-01 or 2024-05-01T12:00:00) or numbers",
            )
        series = parsed
    if not (series.dtype.is_numeric() or series.dtype.is_temporal()):
        raise DataError(
            f"the time column {series.name!r} has type {series.dtype}",
            where=f"data.time: {series.name}",
            hint="use a date, a datetime or an ordered number",
        )
    return series.to_physical().cast(pl.Float64).to_numpy()


def assign_parts(
    frame: pl.DataFrame,
    *,
    target: str,
    val_fraction: float,
    test_fraction: float,
    seed: int,
    group: str | None = None,
    time: str | None = None,
    duplicates: Sequence[np.ndarray] = (),
) -> tuple[np.ndarray, SplitInfo]:
    """Part index per row (0 train, 1 val, 2 test) and how it was decided.

    ``group`` (the subject column) and ``duplicates`` (labelings whose equal labels mark
    copies of one record, see ``data.clean.duplicate_labels``) keep linked rows together;
    ``time`` cuts the timeline. A missing subject id makes a row its own group.
    """
    n = frame.height
    if n < MIN_ROWS:
        raise DataError(f"need at least {MIN_ROWS} rows to split, got {n}", where=target)
    for name in (c for c in (group, time) if c is not None):
        if name not in frame.columns:
            raise DataError(
                f"column {name!r} is not in the data",
                where=f"data.{'id' if name == group else 'time'}: {name}",
                hint=f"columns are: {', '.join(frame.columns)}",
            )
    labelings = []
    if group is not None:
        ids = frame[group].cast(pl.String)
        missing = ids.is_null().to_numpy()
        codes = duplicate_groups(ids.fill_null("").to_frame())
        codes[missing] = -1 - np.flatnonzero(missing)  # each row without an id alone
        labelings.append(codes)
    labelings += [np.asarray(d) for d in duplicates]
    groups = components(n, labelings) if labelings else np.arange(n)
    fractions = {"val": val_fraction, "test": test_fraction}
    method = "time" if time else ("grouped" if group is not None else "stratified")
    info = SplitInfo(method, seed, fractions, group_column=group, time_column=time)
    if len(duplicates):
        copies = components(n, [np.asarray(d) for d in duplicates])
        info.duplicate_rows_grouped = int(n - len(np.unique(copies)))
    if time is not None:
        part, cuts = _by_time(groups, _sortable(frame[time]), val_fraction, test_fraction)
        column = frame[time]
        when = _sortable(column)
        info.time_cutoffs = {  # the first timestamp of each later part, as written in the data
            name: str(column.filter(pl.Series(when == cut))[0]) for name, cut in cuts.items()
        }
        empty = [name for k, name in enumerate(PARTS) if not (part == k).any()]
        if empty:
            raise DataError(
                f"splitting by time left the {' and '.join(empty)} part empty: the time column "
                f"{time!r} has too few distinct values for these fractions",
                where=f"data.time: {time}",
                hint="use a finer time column, or remove data.time for a random split",
            )
    else:
        labels = frame[target].cast(pl.String).fill_null("").to_numpy()
        part = _stratified(groups, labels, val_fraction, test_fraction, seed)
        info.stratified_by = target
    for k, name in enumerate(PARTS):
        mask = part == k
        info.rows[name] = int(mask.sum())
        info.groups[name] = len(np.unique(groups[mask]))
        if time is not None and mask.any():
            column = frame[time].filter(pl.Series(mask))
            info.time_ranges[name] = [str(column.min()), str(column.max())]
    return part, info


def _stratified(
    groups: np.ndarray, labels: np.ndarray, val: float, test: float, seed: int
) -> np.ndarray:
    """Shuffle groups within each class of their first row; fill test, then val, by rows."""
    rng = np.random.default_rng(seed)
    unique, first, inverse, sizes = np.unique(
        groups, return_index=True, return_inverse=True, return_counts=True
    )
    group_part = np.zeros(len(unique), dtype=np.int8)
    for label in np.unique(labels[first]):
        members = np.flatnonzero(labels[first] == label)
        rng.shuffle(members)
        rows = np.cumsum(sizes[members])  # rows assigned once this group is taken
        total = rows[-1]
        # a group goes to test while the rows before it are under the test quota, and so on
        before = rows - sizes[members]
        group_part[members[before < round(total * test)]] = 2
        in_val = (before >= round(total * test)) & (before < round(total * (test + val)))
        group_part[members[in_val]] = 1
    return group_part[inverse]


def _by_time(
    groups: np.ndarray, when: np.ndarray, val: float, test: float
) -> tuple[np.ndarray, dict[str, float]]:
    """Cut the timeline: groups whose last timestamp is at or after the test cut-off test,
    those from the validation cut-off validate, the rest train.

    A group counts at its *last* timestamp, so nothing on or after a cut-off is trained on;
    the cut-offs are timestamps, so rows of one instant never straddle two parts.
    """
    unique, inverse, sizes = np.unique(groups, return_inverse=True, return_counts=True)
    last = np.full(len(unique), -np.inf)
    np.maximum.at(last, inverse, when)
    order = np.argsort(last, kind="stable")  # earliest first
    rows = np.cumsum(sizes[order])
    total = rows[-1]

    def cutoff(share_after: float) -> float:
        """The timestamp from which about ``share_after`` of the rows follow."""
        position = np.searchsorted(rows, total * (1 - share_after), side="right")
        return float(last[order[min(position, len(order) - 1)]])

    cuts = {"val": cutoff(test + val), "test": cutoff(test)}
    group_part = np.zeros(len(unique), dtype=np.int8)
    group_part[last >= cuts["val"]] = 1
    group_part[last >= cuts["test"]] = 2
    return group_part[inverse], cuts


def split_frame(
    frame: pl.DataFrame,
    *,
    target: str,
    val_fraction: float,
    test_fraction: float,
    seed: int,
    group: str | None = None,
    time: str | None = None,
) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """``assign_parts`` applied: (train, validation, test), rows in input order."""
    part, _ = assign_parts(
        frame,
        target=target,
        val_fraction=val_fraction,
        test_fraction=test_fraction,
        seed=seed,
        group=group,
        time=time,
    )
    marks = pl.Series("_part", part)
    return tuple(frame.filter(marks == k) for k in range(3))  # type: ignore[return-value]
