"""The data stage for media columns: every image and clip decoded, checked, normalized, counted.

A batch goes in with whatever its media columns hold (paths, bytes, base64); it comes out with
those columns as stored bytes (``media.normalize``) and null where a row has no usable file.
Nothing raises for a bad file: it is counted by reason and listed (``MediaScan.rejects``).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from datawheel.config import MediaCleanConfig
from datawheel.data.media.decode import MediaError, Reason, media_bytes
from datawheel.data.media.dedup import MediaKeys, content_key, perceptual_hash
from datawheel.data.media.normalize import normalize_clip, normalize_image

__all__ = ["MediaScan", "MediaStage", "Reject", "Sample"]

MAX_REJECTS_KEPT = 100_000  # rejects listed in memory (the side file); all are counted
MAX_SAMPLES = 12  # rejected files kept for the report's thumbnails
Progress = Callable[[str, int, int | None], None]


@dataclass(frozen=True)
class Reject:
    """A media value that could not be used: where it is (0-based input row), and why."""

    row: int
    column: str
    reason: Reason
    detail: str


@dataclass(frozen=True)
class Sample:
    """A rejected file kept for the quality report (its first bytes only)."""

    row: int
    column: str
    reason: str
    data: bytes


@dataclass
class MediaScan:
    """What the media stage saw, per column: counts by reason, sizes, durations, cuts."""

    images: list[str] = field(default_factory=list)
    audio: list[str] = field(default_factory=list)
    checked: dict[str, int] = field(default_factory=dict)  # column -> values decoded fine
    absent: dict[str, int] = field(default_factory=dict)  # column -> rows with no value
    rejected: dict[str, dict[str, int]] = field(default_factory=dict)  # column -> reason -> n
    rejects: list[Reject] = field(default_factory=list)  # the first MAX_REJECTS_KEPT
    samples: list[Sample] = field(default_factory=list)  # the first MAX_SAMPLES rejects
    sizes: dict[str, list[tuple[int, int]]] = field(default_factory=dict)  # image: (w, h)
    seconds: dict[str, list[float]] = field(default_factory=dict)  # audio: stored durations
    cut: dict[str, int] = field(default_factory=dict)  # audio column -> clips cut
    trimmed_seconds: dict[str, float] = field(default_factory=dict)  # silence removed
    formats: dict[str, dict[str, int]] = field(default_factory=dict)  # column -> format -> n
    rows_dropped: int = 0  # on_error: drop — rows removed for a bad file

    def summary(self) -> dict[str, Any]:
        """Counts only (no rows, no sizes): what run reports and dataset stats keep."""
        out: dict[str, Any] = {}
        for column in [*self.images, *self.audio]:
            entry: dict[str, Any] = {
                "kind": "image" if column in self.images else "audio",
                "checked": self.checked.get(column, 0),
                "absent": self.absent.get(column, 0),
                "rejected": dict(self.rejected.get(column, {})),
                "formats": dict(self.formats.get(column, {})),
            }
            if column in self.audio:
                entry["cut"] = self.cut.get(column, 0)
                entry["trimmed_seconds"] = round(self.trimmed_seconds.get(column, 0.0), 3)
            out[column] = entry
        if self.rows_dropped:
            out["rows_dropped"] = self.rows_dropped
        return out

    @property
    def rejected_total(self) -> int:
        return sum(n for per in self.rejected.values() for n in per.values())


@dataclass(frozen=True)
class _Outcome:
    stored: bytes | None = None
    error: MediaError | None = None
    size: tuple[int, int] | None = None
    seconds: float = 0.0
    trimmed: float = 0.0
    cut: bool = False
    phash: int = 0
    format: str = ""


class MediaStage:
    """Normalizes the media columns of batches; ``scan`` accumulates what it saw.

    ``base_dir`` is where relative paths start (the data file's folder); None reads no paths.
    ``workers`` threads decode in parallel (Pillow, libsndfile and soxr release the GIL).
    """

    def __init__(
        self,
        *,
        images: Sequence[str] = (),
        audio: Sequence[str] = (),
        base_dir: Path | None,
        config: MediaCleanConfig | None = None,
        workers: int | None = None,
    ):
        self.images, self.audio = list(images), list(audio)
        self.base_dir = base_dir
        self.config = config or MediaCleanConfig()
        self.workers = workers or min(8, os.cpu_count() or 1)
        self.scan = MediaScan(images=self.images, audio=self.audio)

    @property
    def columns(self) -> list[str]:
        return [*self.images, *self.audio]

    def normalize(
        self,
        frame: pl.DataFrame,
        *,
        start: int = 0,
        record: bool = True,
        progress: Progress | None = None,
    ) -> tuple[pl.DataFrame, np.ndarray, MediaKeys]:
        """The frame with its media columns as stored bytes (null where unusable), a bool mask
        of the rows with a rejected file, and the rows' dedup keys.

        ``start`` is the frame's first input row (for the side file); ``record=False`` skips
        the counting (a second pass over rows already counted).
        """
        bad = np.zeros(frame.height, dtype=bool)
        keys = MediaKeys(rows=frame.height)
        replaced = []
        for done, column in enumerate(self.columns, start=1):
            values = frame.get_column(column).to_list()
            outcomes = self._map(column, values)
            stored = [o.stored for o in outcomes]
            replaced.append(pl.Series(column, stored, dtype=pl.Binary))
            keys.present[column] = np.array([s is not None for s in stored], dtype=bool)
            keys.content[column] = np.array(
                [content_key(s) if s is not None else 0 for s in stored], dtype=np.uint64
            )
            if column in self.images:
                keys.perceptual[column] = np.array([o.phash for o in outcomes], dtype=np.uint64)
            bad |= np.array([o.error is not None for o in outcomes], dtype=bool)
            if record:
                self._record(column, values, outcomes, start)
            if progress is not None:
                progress("checking media", start + frame.height * done // len(self.columns), None)
        return frame.with_columns(replaced), bad, keys

    def _map(self, column: str, values: list[Any]) -> list[_Outcome]:
        work = self._image if column in self.images else self._clip
        if self.workers <= 1 or len(values) < 2:
            return [work(v) for v in values]
        with ThreadPoolExecutor(self.workers) as pool:
            return list(pool.map(work, values, chunksize=16))

    def _bytes(self, value: Any) -> bytes:
        return media_bytes(value, self.base_dir, max_bytes=self.config.max_bytes)

    def _image(self, value: Any) -> _Outcome:
        if _absent(value):
            return _Outcome()
        try:
            stored, image = normalize_image(self._bytes(value), max_pixels=self.config.max_pixels)
        except MediaError as exc:
            return _Outcome(error=exc)
        return _Outcome(
            stored.data,
            size=(stored.width, stored.height),
            phash=perceptual_hash(image),
            format=stored.source_format,
        )

    def _clip(self, value: Any) -> _Outcome:
        if _absent(value):
            return _Outcome()
        config = self.config
        try:
            stored, _ = normalize_clip(
                self._bytes(value),
                max_seconds=config.max_seconds,
                trim=config.trim_silence,
                silence_db=config.silence_db,
            )
        except MediaError as exc:
            return _Outcome(error=exc)
        return _Outcome(
            stored.data,
            seconds=stored.seconds,
            trimmed=stored.trimmed,
            cut=stored.cut,
            format=stored.source_format,
        )

    def _record(self, column: str, values: list[Any], outcomes: list[_Outcome], start: int) -> None:
        scan = self.scan
        rejected = scan.rejected.setdefault(column, {})
        formats = scan.formats.setdefault(column, {})
        for i, outcome in enumerate(outcomes):
            if outcome.error is not None:
                error = outcome.error
                rejected[error.reason] = rejected.get(error.reason, 0) + 1
                if len(scan.rejects) < MAX_REJECTS_KEPT:
                    scan.rejects.append(Reject(start + i, column, error.reason, error.detail))
                if len(scan.samples) < MAX_SAMPLES and column in self.images:
                    scan.samples.append(_sample(self, start + i, column, error, values[i]))
            elif outcome.stored is None:
                scan.absent[column] = scan.absent.get(column, 0) + 1
            else:
                scan.checked[column] = scan.checked.get(column, 0) + 1
                formats[outcome.format] = formats.get(outcome.format, 0) + 1
                if outcome.size is not None:
                    scan.sizes.setdefault(column, []).append(outcome.size)
                if column in self.audio:
                    scan.seconds.setdefault(column, []).append(outcome.seconds)
                    scan.cut[column] = scan.cut.get(column, 0) + int(outcome.cut)
                    scan.trimmed_seconds[column] = (
                        scan.trimmed_seconds.get(column, 0.0) + outcome.trimmed
                    )


def _absent(value: Any) -> bool:
    """A null (or blank) cell: the row has no file here, which is not an error."""
    return value is None or (isinstance(value, str) and not value.strip())


def _sample(stage: MediaStage, row: int, column: str, error: MediaError, value: Any) -> Sample:
    """The bytes of a rejected file when they can be had (for a partial thumbnail)."""
    try:
        data = stage._bytes(value)[: 4 * 1024 * 1024]
    except MediaError:
        data = b""
    return Sample(row, column, error.reason, data)
