"""Which columns of a table hold images or audio: for ``datawheel init --from``."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import polars as pl

from datawheel.data.media.decode import (
    AUDIO_FORMATS,
    IMAGE_FORMATS,
    MediaError,
    media_bytes,
    sniff_format,
)

__all__ = ["detect_media_columns"]

SAMPLE = 20  # values looked at per column (their first bytes only matter)
SHARE = 0.8  # of the looked-at values that must be files of one kind


def detect_media_columns(
    frame: pl.DataFrame, *, base_dir: Path | None, sample: int = SAMPLE
) -> dict[str, Literal["image", "audio"]]:
    """Columns whose values are mostly image files, or mostly audio files (paths relative to
    ``base_dir``, bytes, base64 or data: URIs), judged by the files' first bytes."""
    found: dict[str, Literal["image", "audio"]] = {}
    for series in frame.iter_columns():
        if series.dtype not in (pl.String, pl.Binary):
            continue
        values = series.drop_nulls().head(sample).to_list()
        if not values:
            continue
        kinds = [_kind(value, base_dir) for value in values]
        for kind in ("image", "audio"):
            if kinds.count(kind) >= SHARE * len(values):
                found[series.name] = kind
    return found


def _kind(value: object, base_dir: Path | None) -> str | None:
    if isinstance(value, str) and (not value.strip() or len(value) < 8):
        return None
    try:
        fmt = sniff_format(media_bytes(value, base_dir)[:64])
    except MediaError:
        return None
    if fmt in IMAGE_FORMATS:
        return "image"
    return "audio" if fmt in AUDIO_FORMATS else None
