"""``datawheel clean --engine ray``: the local ``clean_file`` steps, with every statistic they
learn computed on the cluster — and equal to the local engine's.

1. Roles from the first rows (as the local engine takes them from its first batch).
2. Duplicates: exact by a hash of the row's normalized values (``groupby(hash)``), near per
   ``clean.dedup.near.fields`` among the rows still kept (``ray_dedup``); the rest is a
   ``join`` that removes them.
3. Learning (``ray_learn``), over the kept rows after the row-local missing-value steps:
   counts, exact medians and quartiles (``ray_stats``: radix selection, not a sample), most
   frequent values, means; then the IQR (or z-score) fences and the share beyond them.
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
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict
from typing import Any, cast

import polars as pl
import pyarrow as pa

from datawheel.config import CleanConfig, DataConfig
from datawheel.data.accumulate import TypeIssues
from datawheel.data.clean import (
    CleanStats,
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
    Table,
    connect,
    open_table,
    shuffle_partitions,
    surface_errors,
)
from datawheel.data.ray_learn import Learned, block_frame, learn
from datawheel.data.ray_read import Rows, polars_schema, read_rows, rows_of_batches
from datawheel.data.ray_write import check_output, write_rows
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
    _check_supported(config, data)
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
        learned = learn(kept, plan, note)
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


def _check_supported(config: CleanConfig, data: DataConfig | None) -> None:
    """What the local engine alone does: ``ffill`` (one pass in file order) and image and
    audio columns (their files are read beside the data file)."""
    if "ffill" in (config.missing.numeric, config.missing.categorical):
        raise UsageError(
            "missing: ffill carries values down the file in order; it runs on the local engine",
            where="clean.missing",
            hint="use --engine local, or median / most_frequent / constant",
        )
    if data is not None and (data.images or data.audio):
        raise UsageError(
            "image and audio columns are cleaned by the local engine (their files are read "
            "beside the data file)",
            where="data.images / data.audio",
            hint="use --engine local",
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
        frame = block_frame(batch.drop_columns([ROW]), self.schema)
        hashes = frame.select(pl.struct(row_keys(self.schema, self.ignore)).hash(seed=0))
        return pa.table({ROW: batch[ROW], "_dw_hash": hashes.to_series().to_arrow()})


# -- 3. applying -------------------------------------------------------------------------------


class _Apply:
    """The local engine's write pass on one block: the steps with the learned values; the
    block's counts ride on its first row (or on a row numbered -1 when every row dropped)."""

    def __init__(self, plan: CleaningPlan, learned: Learned):
        self.schema = plan.schema
        self.steps = plan.write_steps(learned.fill_values, learned.bounds)

    def __call__(self, batch: pa.Table) -> pa.Table:
        frame = block_frame(batch, {ROW: pl.Int64(), **self.schema})
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
    dropped: dict[str, int], notes: list[str], learned: Learned, config: CleanConfig
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
