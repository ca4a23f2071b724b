"""``datawheel dedup --images/--audio``: rows of a table file deduplicated by their files.

Passes: decode (every file judged and keyed — content hash, pHash for images — the bytes are
not kept), match (exact, then near images within ``max_distance`` bits), write (the kept rows as
they were, in input order; clusters as JSON lines). A file that does not decode is never a
duplicate: its row is kept and the file listed in ``OUTPUT.media-rejects.csv``.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

from datawheel.config import MediaCleanConfig, MediaDedupConfig
from datawheel.data.dedup_file import write_clusters
from datawheel.data.media.check import MEDIA_BATCH_ROWS
from datawheel.data.media.dedup import MediaKeys, find_duplicates
from datawheel.data.media.stage import MediaScan, MediaStage, Progress
from datawheel.data.media.table import rejects_path, write_rejects
from datawheel.data.schema import require_columns
from datawheel.data.stream import ReadStats, TableReader, TableWriter
from datawheel.errors import DataError, UsageError
from datawheel.io import OnBadLines

__all__ = ["MediaDedupResult", "dedup_media_file"]


@dataclass(frozen=True)
class MediaDedupResult:
    rows_in: int
    kept: int
    dropped: dict[str, int]  # duplicate_image | near_duplicate_image | duplicate_audio -> rows
    scan: MediaScan
    read: ReadStats
    output: Path
    clusters: Path | None
    rejects_file: Path | None
    seconds: float


def dedup_media_file(
    path: str | os.PathLike[str],
    output: str | os.PathLike[str],
    *,
    images: Sequence[str] = (),
    audio: Sequence[str] = (),
    max_distance: int = 6,
    exact_only: bool = False,
    clusters: str | os.PathLike[str] | None = None,
    config: MediaCleanConfig | None = None,
    batch_rows: int = MEDIA_BATCH_ROWS,
    encoding: str = "auto",
    on_bad_lines: OnBadLines = "error",
    bad_lines_path: str | os.PathLike[str] | None = None,
    progress: Progress | None = None,
) -> MediaDedupResult:
    """Write the first row of each cluster of rows sharing an image or clip (the same content,
    or images within ``max_distance`` bits of pHash) to ``output``, in input order."""
    started = time.perf_counter()
    path, output = Path(path), Path(output)
    if not images and not audio:
        raise UsageError("name an image or audio column", hint="--images photo or --audio voice")
    if path.resolve() == output.resolve():
        raise DataError("the output would overwrite the input", where=str(output))
    if clusters is not None and not str(clusters).endswith(".jsonl"):
        raise DataError("the clusters file must end in .jsonl", where=str(clusters))
    dedup = MediaDedupConfig(exact=True, near=not exact_only, max_distance=max_distance)
    stage = MediaStage(images=images, audio=audio, base_dir=path.parent.resolve(), config=config)
    note = progress or (lambda stage, done, total: None)
    with TableReader(path, batch_rows=batch_rows, encoding=encoding, on_bad_lines=on_bad_lines,
                     bad_lines_path=bad_lines_path) as reader:  # fmt: skip
        parts: list[MediaKeys] = []
        rows = 0
        for batch in reader.batches(typed=False):
            if not parts:
                named = [("--images", c) for c in images] + [("--audio", c) for c in audio]
                require_columns(batch.columns, named, source=str(path))
            parts.append(stage.normalize(batch, start=rows)[2])
            rows += batch.height
            note("decoding", rows, None)
        found = find_duplicates(MediaKeys.concat(parts), dedup)
        done = 0
        with TableWriter(output) as writer:
            for batch in reader.batches(typed=False):
                writer.write(batch.filter(pl.Series(found.keep[done : done + batch.height])))
                done += batch.height
                note("writing", done, rows)
        read = reader.stats
    cluster = np.asarray(found.cluster, dtype=np.int64)
    written = write_clusters(cluster, Path(clusters)) if clusters is not None else None
    side = write_rejects(stage.scan.rejects, rejects_path(output)) if stage.scan.rejects else None
    return MediaDedupResult(
        rows_in=rows, kept=int(found.keep.sum()), dropped=found.dropped, scan=stage.scan,
        read=read, output=output, clusters=written, rejects_file=side,
        seconds=time.perf_counter() - started,
    )  # fmt: skip
