"""``datawheel clean --engine ray``: the local ``clean_file`` steps, with every statistic they
learn computed on the cluster — and equal to the local engine's.

1. Roles from the first rows (as the local engine takes them from its first batch).
2. Duplicates: exact by a hash of the row's normalized values (``groupby(hash)``), near per
   ``clean.dedup.near.fields`` among the rows still kept (``ray_dedup``); the rest is a
   ``join`` that removes them.
3. Learning, over the kept rows after the row-local missing-value steps: counts, exact
   medians and quartiles (``ray_stats``: radix selection, not a sample), most frequent
   values, means; then the IQR (or z-score) fences and the share of values beyond them.
4. Applying: ``map_batches`` runs the local engine's steps (``MissingValues``, ``Outliers``,
   ``Rules``, ``NormalizeText``) with the learned values on rows in input order; each block's
   counts by drop reason travel back beside it and are summed.

Exact: medians, quartiles, fences, most frequent values and every count. Means and standard
deviations (``mean`` fills, ``zscore`` fences) are sums in another order: equal to about
1e-12 relative. ``ffill`` needs one pass in file order and stays local, as does ``--report``.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any, cast

import numpy as np
import polars as pl
import pyarrow as pa

from datawheel.config import CleanConfig, DataConfig
from datawheel.data.accumulate import TypeIssues
from datawheel.data.clean import (
    CleanStats,
    MissingValues,
    NormalizeText,
    Outliers,
    Rules,
    Step,
    row_keys,
)
from datawheel.data.clean_file import (
    CleanFileResult,
    CleaningPlan,
    check_clean_config,
    plan_cleaning,
)
from datawheel.data.ray_dedup import comparable_rows, later_copies, near_duplicates
from datawheel.data.ray_engine import kept_in_order
from datawheel.data.ray_io import (
    NOTE,
    ROW,
    Rows,
    Table,
    check_output,
    connect,
    open_table,
    polars_schema,
    read_rows,
    rows_of_batches,
    shuffle_partitions,
    surface_errors,
    write_rows,
)
from datawheel.data.ray_stats import (
    column_counts,
    interpolate,
    most_frequent,
    order_statistics,
    quantile_ranks,
)
from datawheel.data.stream import DEFAULT_BATCH_ROWS, ReadStats, TableReader
from datawheel.errors import UsageError
from datawheel.io import OnBadLines

__all__ = ["clean_file_on_ray"]

Progress = Callable[[str, int, int | None], None]


def clean_file_on_ray(
    path: str | os.PathLike[str],
    output: str | os.PathLike[str],
    *,
    config: CleanConfig | None = None,
    data: DataConfig | None = None,
    pii_columns: Sequence[str] = (),
    batch_rows: int = DEFAULT_BATCH_ROWS,
    encoding: str = "auto",
    on_bad_lines: OnBadLines = "error",
    bad_lines_path: str | os.PathLike[str] | None = None,
    address: str | None = None,
    progress: Progress | None = None,
) -> CleanFileResult:
    """Clean ``path`` (a file or a folder of Parquet parts, local or s3://) into ``output`` on a
    Ray cluster; the same rows, values and counts as ``clean_file``."""
    started = time.perf_counter()
    config = config or CleanConfig()
    check_clean_config(config)
    _check_supported(config)
    source, target = open_table(path), open_table(output, output=True)
    check_output(target, source)
    note = progress or (lambda stage, done, total: None)
    ray = connect(address)

    def run() -> CleanFileResult:
        rows, read = _read(ray, source, data, batch_rows, encoding, on_bad_lines, bad_lines_path)
        sample = _head(rows.dataset, batch_rows)
        plan = plan_cleaning(
            polars_schema(rows.schema), sample, source.location, config, data, pii_columns
        )
        partitions = shuffle_partitions(ray, rows.nbytes)
        removed, dropped = _duplicates(rows, plan, partitions, note)
        kept = kept_in_order(rows.dataset, removed) if removed is not None else rows.dataset
        learned = _learn(kept, plan, note)
        cleaned = kept.map_batches(_Apply(plan, learned), batch_format="pyarrow")
        written = write_rows(cleaned, target, progress=note, total=rows.count)
        stats = _stats(dropped, written.notes, learned, config)
        stats.rows_in, stats.rows_out = rows.count + read.bad_lines, written.rows
        if read.bad_lines:
            stats.dropped["bad_line"] = read.bad_lines
        issues = TypeIssues()
        issues.add(sample)
        return CleanFileResult(
            input=source.location,  # type: ignore[arg-type]
            output=target.location,  # type: ignore[arg-type]
            stats=stats,
            read=read,
            columns=plan.columns,
            type_issues=issues.issues(),
            pii_columns=plan.pii,
            hidden_examples=plan.hidden,
            seconds=time.perf_counter() - started,
        )

    return cast(CleanFileResult, surface_errors(run))


def _check_supported(config: CleanConfig) -> None:
    if "ffill" in (config.missing.numeric, config.missing.categorical):
        raise UsageError(
            "missing: ffill carries values down the file in order; it runs on the local engine",
            where="clean.missing",
            hint="use --engine local, or median / most_frequent / constant",
        )


def _read(
    ray: Any,
    source: Table,
    data: DataConfig | None,
    batch_rows: int,
    encoding: str,
    on_bad_lines: OnBadLines,
    bad_lines_path: str | os.PathLike[str] | None,
) -> tuple[Rows, ReadStats]:
    """Parquet on the cluster; a CSV or JSON-lines file through the local engine's streaming
    reader (its dtypes, its malformed-line handling), one batch at a time."""
    dtypes = data.dtypes if data is not None else None
    if source.folder or source.remote or source.path.lower().endswith(".parquet"):
        rows = read_rows(ray, source, encoding=encoding, dtypes=dtypes, batch_rows=batch_rows)
        return rows, ReadStats(rows=rows.count)
    with TableReader(
        source.path,
        batch_rows=batch_rows,
        encoding=encoding,
        on_bad_lines=on_bad_lines,
        bad_lines_path=bad_lines_path,
        dtypes=dtypes,
    ) as reader:
        rows = rows_of_batches(ray, reader.batches())
        return rows, reader.stats


def _head(dataset: Any, count: int) -> pl.DataFrame:
    """The first ``count`` rows (the local engine's first batch), here."""
    parts = list(dataset.limit(count).iter_batches(batch_format="pyarrow", batch_size=None))
    frame = pl.from_arrow(pa.concat_tables(parts).drop_columns([ROW]))
    assert isinstance(frame, pl.DataFrame)
    return frame


# -- 2. duplicates -----------------------------------------------------------------------------


def _duplicates(
    rows: Rows, plan: CleaningPlan, partitions: int, note: Progress
) -> tuple[Any | None, dict[str, int]]:
    """The removed rows (``_dw_row``, or None when none are), and their count by reason."""
    config, dropped = plan.config, {}
    removed: Any | None = None
    if config.dedup.exact and row_keys(plan.schema, plan.ignore):
        note("deduplicating", 0, rows.count)
        hashed = rows.dataset.map_batches(_RowHash(plan), batch_format="pyarrow")
        copies = later_copies(hashed, "_dw_hash", partitions)
        if n := copies.count():
            dropped["exact_duplicate"] = n
            removed = copies
    near = config.dedup.near
    for name in near.fields:
        note(f"verifying near duplicates ({name})", 0, None)
        texts = rows.dataset.select_columns([ROW, name])
        if removed is not None:
            texts = kept_in_order(texts, removed)
        texts = comparable_rows(texts, name)
        found = near_duplicates(
            texts, text=name, threshold=near.threshold, partitions=partitions, ngram=near.ngram
        )
        if n := found.exact_duplicates + found.near_duplicates:
            dropped["near_duplicate"] = dropped.get("near_duplicate", 0) + n
            removed = found.removed if removed is None else removed.union(found.removed)
            removed = removed.materialize()
    return removed, dropped


class _RowHash:
    """The local engine's exact-duplicate key: a hash of the row's values, text normalized,
    the subject id left out."""

    def __init__(self, plan: CleaningPlan):
        self.schema, self.ignore = plan.schema, plan.ignore

    def __call__(self, batch: pa.Table) -> pa.Table:
        frame = _frame(batch.drop_columns([ROW]), self.schema)
        hashes = frame.select(pl.struct(row_keys(self.schema, self.ignore)).hash(seed=0))
        return pa.table({ROW: batch[ROW], "_dw_hash": hashes.to_series().to_arrow()})


def _frame(table: pa.Table, schema: dict[str, pl.DataType]) -> pl.DataFrame:
    """A block as the local engine's batch: the file-wide dtypes."""
    frame = pl.from_arrow(table)
    assert isinstance(frame, pl.DataFrame)
    wanted = {c: t for c, t in schema.items() if c in frame.columns and frame.schema[c] != t}
    return frame.cast(wanted) if wanted else frame  # type: ignore[arg-type]


# -- 3. learning -------------------------------------------------------------------------------


@dataclass
class _Learned:
    fill_values: dict[str, Any]
    bounds: dict[str, tuple[float, float] | str]
    skipped: dict[str, str]


def _learn(kept: Any, plan: CleaningPlan, note: Progress) -> _Learned:
    """Fill values and outlier bounds over the kept rows, as the local engine's pass 2."""
    missing = plan.config.missing
    numeric = [c for c in plan.numeric if plan.schema[c].is_numeric()]
    note("learning fill values and bounds", 0, None)
    constant: dict[str, dict[str, Any]] = {"numeric": {}, "categorical": {}}
    for kind in constant:
        if getattr(missing, kind) == "constant":
            names = plan.numeric if kind == "numeric" else plan.categorical
            constant[kind] = dict.fromkeys(names, missing.fill_value)
    first = MissingValues(
        missing, numeric=plan.numeric, target=plan.target, fill_values=constant["numeric"]
    )
    second = MissingValues(
        missing, categorical=plan.categorical, fill_values=constant["categorical"]
    )
    columns = [ROW, *dict.fromkeys([*plan.numeric, *plan.categorical])]
    after_first = kept.map_batches(_Steps(plan, [first], columns), batch_format="pyarrow")
    after_first = after_first.materialize()
    after_both = after_first.map_batches(_Steps(plan, [second], columns), batch_format="pyarrow")
    after_both = after_both.materialize()
    separate = missing.numeric in ("median", "mean", "most_frequent")
    separate = separate and missing.categorical == "drop"  # rows drop between fill and bounds
    fills, skipped = _fill_values(
        after_first if separate else after_both, after_both, plan, numeric
    )
    bounds = _bounds(after_both, plan, numeric, fills)
    note("learning fill values and bounds", 1, 1)
    return _Learned({k: v for k, v in fills.items() if v is not None}, bounds, skipped)


class _Steps:
    """Cleaning steps on each block, keeping ``columns``."""

    def __init__(self, plan: CleaningPlan, steps: list[Step], columns: list[str]):
        self.schema, self.steps, self.columns = plan.schema, steps, columns

    def __call__(self, batch: pa.Table) -> pa.Table:
        frame = _frame(batch, self.schema)
        for step in self.steps:
            frame, _ = step.apply(frame)
        return frame.select(self.columns).to_arrow()


def _fill_values(
    source: Any, after: Any, plan: CleaningPlan, numeric: list[str]
) -> tuple[dict[str, Any], dict[str, str]]:
    """Per column, the value that fills its nulls (None: nothing to learn), and why not."""
    missing = plan.config.missing
    fills: dict[str, Any] = {}
    skipped: dict[str, str] = {}
    counts = column_counts(source, numeric)
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
    after: Any, plan: CleaningPlan, numeric: list[str], fills: dict[str, Any]
) -> dict[str, tuple[float, float] | str]:
    """Outlier bounds per numeric column over its values plus its fill value once per null it
    will replace (as the local engine counts them), or why a column is left alone."""
    outliers = plan.config.outliers
    if outliers.method == "none":
        return {}
    judge = Outliers(outliers)
    counts = column_counts(after, numeric)
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


# -- 4. applying -------------------------------------------------------------------------------


class _Apply:
    """The local engine's write pass on one block: the steps with the learned values; the
    block's counts ride on its first row (or on a row numbered -1 when every row dropped)."""

    def __init__(self, plan: CleaningPlan, learned: _Learned):
        config = plan.config
        self.schema = plan.schema
        self.steps: list[Step] = [
            MissingValues(
                config.missing,
                numeric=plan.numeric,
                categorical=plan.categorical,
                text=plan.text,
                target=plan.target,
                fill_values=learned.fill_values,
            ),
            Outliers(config.outliers, numeric=plan.numeric, bounds=learned.bounds),
        ]
        if config.rules:
            self.steps.append(Rules(config.rules))
        if config.normalize.text:
            self.steps.append(NormalizeText(plan.text, lowercase=config.normalize.lowercase))

    def __call__(self, batch: pa.Table) -> pa.Table:
        frame = _frame(batch, {ROW: pl.Int64(), **self.schema})
        stats = CleanStats()
        for step in self.steps:
            frame, part = step.apply(frame)
            part.skipped = {}  # the same for every block: set once, from what was learned
            stats.merge(part)
        table = frame.select([ROW, *[c for c in frame.columns if c != ROW]]).to_arrow()
        note = json.dumps(asdict(stats), default=str)
        if table.num_rows == 0:
            placeholder = {c: pa.nulls(1, table.schema.field(c).type) for c in table.column_names}
            table = pa.table({**placeholder, ROW: pa.array([-1], pa.int64())}, schema=table.schema)
        notes = pa.array([note] + [None] * (table.num_rows - 1), pa.string())
        return table.append_column(NOTE, notes)


def _stats(
    dropped: dict[str, int], notes: list[str], learned: _Learned, config: CleanConfig
) -> CleanStats:
    """The dedup counts, every block's counts, and why columns were left alone."""
    stats = CleanStats(dropped=dict(dropped))
    for text in notes:
        part = json.loads(text)
        with contextlib.suppress(KeyError):
            part["outlier_bounds"] = {c: tuple(b) for c, b in part["outlier_bounds"].items()}
        stats.merge(CleanStats(**part))
    skipped = dict(learned.skipped)
    for c, why in learned.bounds.items():
        if isinstance(why, str) and config.outliers.method != "none":
            skipped[c] = f"{skipped[c]}; outliers: {why}" if c in skipped else f"outliers: {why}"
    stats.skipped = skipped
    return stats
