"""Media columns of a whole table: normalized in one go, bad files listed in a side file."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import polars as pl

from datawheel.atomic import atomic_write
from datawheel.config import DataConfig, MediaCleanConfig
from datawheel.data.media.stage import MediaScan, MediaStage, Progress, Reject

__all__ = ["REJECT_FIELDS", "normalize_media", "rejects_path", "write_rejects"]

REJECT_FIELDS = ("row", "column", "reason", "detail")


def normalize_media(
    frame: pl.DataFrame,
    data: DataConfig,
    config: MediaCleanConfig,
    *,
    base_dir: Path | None,
    progress: Progress | None = None,
) -> tuple[pl.DataFrame, MediaScan]:
    """``frame`` with its ``data.images`` / ``data.audio`` columns as stored bytes (null where
    a file is absent or bad), and what was found. With ``on_error: drop`` a row with a bad
    file is removed (``scan.rows_dropped``); rows in ``scan.rejects`` count from 0 either way.
    """
    stage = MediaStage(images=data.images, audio=data.audio, base_dir=base_dir, config=config)
    out, bad, _ = stage.normalize(frame, progress=progress)
    if config.on_error == "drop" and bad.any():
        out = out.filter(pl.Series(~bad))
        stage.scan.rows_dropped = int(np.count_nonzero(bad))
    return out, stage.scan


def rejects_path(output: Path) -> Path:
    """The side file beside an output: ``OUTPUT.media-rejects.csv``."""
    return output.with_name(output.name + ".media-rejects.csv")


def write_rejects(rejects: Sequence[Reject], path: str | Path, *, private: bool = False) -> Path:
    """One line per rejected file — row (0-based, as in the input), column, reason, detail — as
    CSV, or JSON lines for a ``.jsonl`` path. ``private`` makes it readable by its owner only
    (a detail may name a file)."""
    path = Path(path)
    if path.suffix == ".jsonl":
        text = "".join(
            json.dumps(dict(zip(REJECT_FIELDS, _fields(r), strict=True)), ensure_ascii=False) + "\n"
            for r in rejects
        )
    else:
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(REJECT_FIELDS)
        writer.writerows(_fields(r) for r in rejects)
        text = buffer.getvalue()
    atomic_write(path, text.encode("utf-8"), mode=0o600 if private else None)
    return path


def _fields(reject: Reject) -> tuple[int, str, str, str]:
    return reject.row, reject.column, reject.reason, reject.detail
