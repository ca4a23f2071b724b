"""``datawheel dedup --engine ray``: near-duplicate removal of a table on a Ray cluster.

The cluster does the work (``ray_dedup``); this module reads the input as a dataset, removes
the rows found (a ``join``), restores row order (a ``sort``) and writes the kept rows
(``ray_io``). A file output streams through this process; a folder output is written by the
cluster, one part per block.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import polars as pl
import pyarrow as pa

from datawheel.data.dedup import check_dedup_args
from datawheel.data.ray_dedup import NearDuplicates, near_duplicates
from datawheel.data.ray_io import (
    ROW,
    Table,
    connect,
    open_table,
    require_ray,
    shuffle_partitions,
    surface_errors,
)
from datawheel.data.ray_read import Rows, polars_schema, read_rows, rows_of_frame
from datawheel.data.ray_rows import RowFilter, row_set
from datawheel.data.ray_write import check_output, write_lines, write_rows

__all__ = [
    "RayDedupStats",
    "collect",
    "connect",
    "dedup_file_on_ray",
    "dedup_on_ray",
    "kept_in_order",
    "require_ray",
]

Progress = Callable[[str, int, int | None], None]


@dataclass(frozen=True)
class RayDedupStats:
    rows_in: int
    kept: int
    exact_duplicates: int
    near_duplicates: int
    candidate_pairs: int
    rounds: int  # large-star / small-star rounds of the connected components
    seconds: float = 0.0
    shuffle_bytes: dict[str, int] = field(default_factory=dict)  # stage → bytes shuffled
    stage_seconds: dict[str, float] = field(default_factory=dict)  # stage → wall seconds


def dedup_file_on_ray(
    path: str | os.PathLike[str],
    output: str | os.PathLike[str],
    *,
    text: str,
    threshold: float = 0.8,
    address: str | None = None,
    encoding: str = "auto",
    clusters: str | os.PathLike[str] | None = None,
    progress: Progress | None = None,
) -> RayDedupStats:
    """``datawheel dedup --engine ray``: the kept rows of ``path`` (a file or a folder of
    Parquet parts, local or s3://) written to ``output`` (likewise), in input order. With
    ``clusters``, one JSON line per input row: ``{"index": i, "cluster": c}`` (``c`` the
    kept row of its cluster), as the local engine writes it."""
    started = time.perf_counter()
    source, target = open_table(path), open_table(output, output=True)
    check_output(target, source)
    lines = open_table(clusters, output=True) if clusters is not None else None
    ray = connect(address)

    def run() -> RayDedupStats:
        began = time.perf_counter()
        rows = read_rows(ray, source, encoding=encoding)
        check_dedup_args(rows.schema.names, polars_schema(rows.schema).get(text), text, threshold)
        reading = time.perf_counter() - began
        kept, stats, found = _dedup(
            ray, rows, text=text, threshold=threshold, progress=progress, labels=bool(lines)
        )
        began = time.perf_counter()
        write_rows(kept, target, progress=progress, total=stats.kept)
        if lines is not None:
            _write_clusters(rows, found.labels, lines, shuffle_partitions(ray, rows.nbytes))
        writing = time.perf_counter() - began  # the removal join and the sort run here
        stats.stage_seconds.update({"reading footers": reading, "removing and writing": writing})
        return stats

    stats = surface_errors(run)
    return RayDedupStats(**{**stats.__dict__, "seconds": time.perf_counter() - started})


def dedup_on_ray(
    frame: pl.DataFrame,
    *,
    text: str,
    threshold: float = 0.8,
    num_perm: int = 128,
    ngram: int | None = None,
    seed: int = 1,
    address: str | None = None,
    batch_rows: int = 50_000,
) -> tuple[pl.DataFrame, RayDedupStats]:
    """Keep the first row of each duplicate cluster of ``frame`` (input order), on Ray."""
    check_dedup_args(frame.columns, frame.schema.get(text), text, threshold, num_perm, ngram)
    ray = connect(address)

    def run() -> tuple[pl.DataFrame, RayDedupStats]:
        rows = rows_of_frame(ray, frame, batch_rows)
        kept, stats, _ = _dedup(
            ray, rows, text=text, threshold=threshold, num_perm=num_perm, ngram=ngram, seed=seed
        )
        return collect(kept, rows.schema), stats

    return surface_errors(run)


def _dedup(
    ray: Any,
    rows: Rows,
    *,
    text: str,
    threshold: float,
    num_perm: int = 128,
    ngram: int | None = None,
    seed: int = 1,
    progress: Progress | None = None,
    labels: bool = False,
) -> tuple[Any, RayDedupStats, NearDuplicates]:
    partitions = shuffle_partitions(ray, rows.nbytes)
    found = near_duplicates(
        rows.dataset.select_columns([ROW, text]),
        text=text,
        threshold=threshold,
        partitions=partitions,
        num_perm=num_perm,
        ngram=ngram,
        seed=seed,
        note=progress,
        labels=labels,
    )
    kept = kept_in_order(rows.dataset, found.removed)
    removed = found.exact_duplicates + found.near_duplicates
    stats = RayDedupStats(
        rows_in=found.rows,
        kept=found.rows - removed,
        exact_duplicates=found.exact_duplicates,
        near_duplicates=found.near_duplicates,
        candidate_pairs=found.candidate_pairs,
        rounds=found.rounds,
        shuffle_bytes=found.shuffle_bytes,
        stage_seconds=dict(found.seconds),
    )
    return kept, stats, found


def _write_clusters(rows: Rows, labels: Any, output: Table, partitions: int) -> None:
    """``{"index": i, "cluster": c}`` for every input row, in row order (the local engine's
    bytes: polars' compact JSON lines)."""
    every = rows.dataset.select_columns([ROW])
    joined = every.join(labels, "left_outer", partitions, on=(ROW,)).sort(ROW)
    write_lines(joined.map_batches(_cluster_lines, batch_format="pyarrow"), output)


def _cluster_lines(batch: pa.Table) -> pa.Table:
    rows = batch[ROW].to_pylist()
    labels = pa.compute.coalesce(batch["label"], batch[ROW]).to_pylist()
    lines = [f'{{"index":{i},"cluster":{c}}}' for i, c in zip(rows, labels, strict=True)]
    return pa.table({ROW: batch[ROW], "line": pa.array(lines, pa.string())})


def kept_in_order(data: Any, removed: Any) -> Any:
    """``data`` (blocks in row order) without the rows of ``removed`` (``_dw_row``), still in
    row order: each block drops its own removed rows (``RowSet``), the data never shuffles."""
    import ray

    if removed.count() == 0:
        return data
    return data.map_batches(RowFilter(row_set(ray, removed), keep=False), batch_format="pyarrow")


def collect(dataset: Any, schema: pa.Schema) -> pl.DataFrame:
    """A (small) dataset as one frame in row order, without ``_dw_row`` — for callers that
    handed the cluster a frame and want one back."""
    parts = list(dataset.iter_batches(batch_format="pyarrow", batch_size=None))
    out = pl.from_arrow(
        pa.concat_tables(parts).drop_columns([ROW]) if parts else schema.empty_table()
    )
    assert isinstance(out, pl.DataFrame)
    return out
