"""Deduplicate a table file of any size by one text column: streamed sketches, then the kept rows.

Passes: schema (dtypes, malformed lines), sketch (exact keys 8 B/row + MinHash signatures
num_perm x 4 B/row; the texts are not kept), verify (re-reads only the texts of LSH candidate
rows; skipped with ``verify=False``, which trusts the sketch estimate), write (the kept rows, in
input order, to a temporary file renamed at the end; clusters as JSON lines likewise).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

from datawheel.data.dedup import DedupStats, Sketcher, check_dedup_args, resolve_clusters
from datawheel.data.stream import DEFAULT_BATCH_ROWS, Progress, ReadStats, TableReader, TableWriter
from datawheel.errors import DataError
from datawheel.io import OnBadLines

__all__ = ["DedupFileResult", "dedup_file", "write_clusters"]


@dataclass(frozen=True)
class DedupFileResult:
    """Counts of a dedup run (``stats``), what reading skipped, and the files written."""

    stats: DedupStats
    read: ReadStats
    output: Path
    clusters: Path | None


def dedup_file(
    path: str | os.PathLike[str],
    output: str | os.PathLike[str],
    *,
    text: str,
    threshold: float = 0.8,
    exact_only: bool = False,
    clusters: str | os.PathLike[str] | None = None,
    num_perm: int = 128,
    ngram: int | None = None,
    seed: int = 1,
    verify: bool = True,
    batch_rows: int = DEFAULT_BATCH_ROWS,
    encoding: str = "auto",  # detected: UTF-8, UTF-16, GB18030/GBK, Big5, Windows-1252
    on_bad_lines: OnBadLines = "error",
    bad_lines_path: str | os.PathLike[str] | None = None,
    progress: Progress | None = None,
) -> DedupFileResult:
    """Write the first row of each duplicate cluster of ``path`` to ``output``, in input order.

    Duplicates are judged on the ``text`` column exactly as ``dedup_with_stats`` judges them; the
    result equals it for any ``batch_rows``. ``clusters`` gets one JSON line per input row,
    ``{"index": i, "cluster": c}`` with c the index of the kept row of row i's cluster.
    """
    started = time.perf_counter()
    path, output = Path(path), Path(output)
    if path.resolve() == output.resolve():
        raise DataError("the output would overwrite the input", where=str(output))
    if clusters is not None and not str(clusters).endswith(".jsonl"):
        raise DataError(
            "the clusters file must end in .jsonl", where=str(clusters), hint="e.g. clusters.jsonl"
        )
    note = progress or (lambda stage, done, total: None)
    with TableReader(
        path,
        batch_rows=batch_rows,
        encoding=encoding,
        on_bad_lines=on_bad_lines,
        bad_lines_path=bad_lines_path,
    ) as reader:
        note("reading", 0, None)
        schema = reader.schema
        total = reader.stats.rows
        check_dedup_args(list(schema), schema.get(text), text, threshold, num_perm, ngram)
        sketcher = Sketcher(num_perm=num_perm, ngram=ngram, seed=seed, exact_only=exact_only)
        done = 0
        for batch in reader.batches():
            sketcher.add(batch.get_column(text))
            done += batch.height
            note("sketching", done, total)
        note("matching", 0, None)
        found = resolve_clusters(
            *sketcher.finish(),
            threshold=threshold,
            fetch_texts=(lambda rows: reader.gather(text, rows)) if verify else None,
            ngram=ngram,
            seed=seed,
        )
        keep = found.keep
        done = 0
        with TableWriter(output) as writer:
            for batch in reader.batches():
                writer.write(batch.filter(pl.Series(keep[done : done + batch.height])))
                done += batch.height
                note("writing", done, total)
        read = reader.stats
    written = write_clusters(found.cluster, Path(clusters)) if clusters is not None else None
    kept = int(keep.sum())
    stats = DedupStats(
        rows_in=total,
        kept=kept,
        exact_duplicates=found.exact_duplicates,
        near_duplicates=total - kept - found.exact_duplicates,
        clusters=found.clusters,
        candidate_pairs=found.candidate_pairs,
        seconds=time.perf_counter() - started,
    )
    return DedupFileResult(stats=stats, read=read, output=output, clusters=written)


def write_clusters(cluster: np.ndarray, path: Path, chunk: int = 1_000_000) -> Path:
    """One ``{"index": i, "cluster": c}`` line per row, written atomically, a chunk at a time."""
    with TableWriter(path) as w:
        for s in range(0, len(cluster), chunk):
            index = np.arange(s, min(s + chunk, len(cluster)), dtype=np.int64)
            w.write(pl.DataFrame({"index": index, "cluster": cluster[s : s + chunk]}))
        if len(cluster) == 0:
            w.write(pl.DataFrame(schema={"index": pl.Int64, "cluster": pl.Int64}))
    return path
