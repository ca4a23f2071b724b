"""``datawheel media check``: every image and clip of a table decoded and judged, none stored."""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from datawheel.config import MediaCleanConfig
from datawheel.data.media.stage import MediaScan, MediaStage, Progress
from datawheel.data.media.table import rejects_path, write_rejects
from datawheel.data.schema import require_columns
from datawheel.data.stream import TableReader
from datawheel.errors import UsageError

__all__ = ["MEDIA_BATCH_ROWS", "MediaCheckResult", "check_media_file"]

MEDIA_BATCH_ROWS = 2_000  # rows per batch when files are decoded: bounds the bytes in memory


@dataclass
class MediaCheckResult:
    """What the check found; ``rejects_file`` lists each bad file (None when all are fine)."""

    path: Path
    rows: int
    scan: MediaScan
    rejects_file: Path | None
    seconds: float

    @property
    def ok(self) -> bool:
        return self.scan.rejected_total == 0


def check_media_file(
    path: str | os.PathLike[str],
    *,
    images: Sequence[str] = (),
    audio: Sequence[str] = (),
    config: MediaCleanConfig | None = None,
    rejects: str | os.PathLike[str] | None = None,
    encoding: str = "auto",
    batch_rows: int = MEDIA_BATCH_ROWS,
    progress: Progress | None = None,
) -> MediaCheckResult:
    """Decode every value of the ``images`` and ``audio`` columns of the table at ``path``
    (paths relative to its folder, bytes, base64 or data: URIs), count the bad ones by reason
    and list them in ``rejects`` (default: ``PATH.media-rejects.csv``; ``.jsonl`` for JSON
    lines). An earlier default side file is replaced, or removed when nothing is wrong."""
    started = time.perf_counter()
    path = Path(path)
    if not images and not audio:
        raise UsageError(
            "name at least one media column",
            hint="datawheel media check FILE --images photo --audio voice",
        )
    stage = MediaStage(images=images, audio=audio, base_dir=path.parent.resolve(), config=config)
    rows = 0
    with TableReader(path, batch_rows=batch_rows, encoding=encoding) as reader:
        first = True
        for batch in reader.batches(typed=False):
            if first:
                named = [("--images", c) for c in images] + [("--audio", c) for c in audio]
                require_columns(batch.columns, named, source=str(path))
                first = False
            stage.normalize(batch, start=rows)
            rows += batch.height
            if progress is not None:
                progress("checking media", rows, None)
    side = Path(rejects) if rejects is not None else rejects_path(path)
    written = None
    if stage.scan.rejects:
        written = write_rejects(stage.scan.rejects, side)
    elif rejects is None and side.is_file():
        side.unlink()  # an old list of files that are fine now would mislead
    return MediaCheckResult(path, rows, stage.scan, written, time.perf_counter() - started)
