"""The media columns in ``clean_file``'s streamed passes: decoded and judged in the selection
pass (with the dedup keys), written as stored bytes in the write pass.

Normalized columns are kept in memory between the two passes up to ``cache_bytes``; batches
beyond it are decoded a second time (the result is the same: normalization is deterministic).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import polars as pl

from datawheel.config import CleanConfig, DataConfig
from datawheel.data.media.dedup import MediaKeys, find_duplicates
from datawheel.data.media.stage import MediaScan, MediaStage, Progress

__all__ = ["CACHE_BYTES", "MediaExample", "MediaPasses"]

CACHE_BYTES = 1 << 30  # stored media held between the passes (1 GiB)


@dataclass(frozen=True)
class MediaExample:
    """A removed duplicate file and the kept one (stored bytes, for thumbnails)."""

    reason: str  # duplicate_image | near_duplicate_image | duplicate_audio
    column: str
    kept_index: int
    duplicate_index: int
    kept: bytes | None = None
    duplicate: bytes | None = None


@dataclass
class MediaPasses:
    """What ``clean_file`` does to media columns, pass by pass."""

    stage: MediaStage
    config: CleanConfig
    cache_bytes: int = CACHE_BYTES
    _keys: list[MediaKeys] = field(default_factory=list)
    _cache: dict[int, pl.DataFrame] = field(default_factory=dict)  # batch number -> columns
    _cached: int = 0
    examples: list[MediaExample] = field(default_factory=list)

    @classmethod
    def create(cls, data: DataConfig | None, config: CleanConfig, path: Path) -> MediaPasses | None:
        """None when the data config names no media column."""
        if data is None or not (data.images or data.audio):
            return None
        stage = MediaStage(
            images=data.images, audio=data.audio, base_dir=path.parent.resolve(),
            config=config.media,
        )  # fmt: skip
        return cls(stage, config, cache_bytes=CACHE_BYTES)

    @property
    def scan(self) -> MediaScan:
        return self.stage.scan

    def select(
        self, batch: pl.DataFrame, number: int, start: int, note: Progress | None = None
    ) -> tuple[pl.DataFrame, np.ndarray]:
        """Pass 1: the batch with stored media, and the rows to drop for a bad file (with
        ``clean.media.on_error: drop``; else none)."""
        out, bad, keys = self.stage.normalize(batch, start=start, progress=note)
        self._keys.append(keys)
        columns = out.select(self.stage.columns)
        size = int(columns.estimated_size())
        if self._cached + size <= self.cache_bytes:
            self._cache[number] = columns
            self._cached += size
        drop = bad if self.config.media.on_error == "drop" else np.zeros_like(bad)
        return out, drop

    def duplicates(self, keep: np.ndarray, *, examples: int) -> tuple[np.ndarray, dict[str, int]]:
        """After pass 1: the keep mask without duplicate files, and the rows removed by reason."""
        dedup = self.config.dedup.media
        if not (dedup.exact or dedup.near):
            return keep, {}
        found = find_duplicates(MediaKeys.concat(self._keys), dedup, active=keep, examples=examples)
        self.examples = [MediaExample(*e) for e in found.examples]
        return found.keep, found.dropped

    def write(self, batch: pl.DataFrame, number: int, start: int) -> pl.DataFrame:
        """Pass 3: the batch with its media columns as stored in pass 1."""
        columns = self._cache.pop(number, None)
        if columns is None:
            out = self.stage.normalize(batch, start=start, record=False)[0]
        else:
            out = batch.with_columns(columns.get_columns())
        self._pick_examples(out, start)
        return out

    def _pick_examples(self, batch: pl.DataFrame, start: int) -> None:
        """The stored bytes of the duplicate examples whose rows are in this batch."""

        def value(index: int, column: str, known: bytes | None) -> bytes | None:
            inside = start <= index < start + batch.height
            return batch[column][index - start] if known is None and inside else known

        self.examples = [
            MediaExample(
                e.reason, e.column, e.kept_index, e.duplicate_index,
                value(e.kept_index, e.column, e.kept),
                value(e.duplicate_index, e.column, e.duplicate),
            )
            for e in self.examples
        ]  # fmt: skip
