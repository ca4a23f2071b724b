"""Training-data augmentation: seeded noisy copies of rows (numeric jitter, word swap/drop)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import cast

import numpy as np
import polars as pl

from datawheel.config import AugmentConfig

__all__ = ["augment", "perturb_text"]


def perturb_text(text: str | None, rng: np.random.Generator) -> str | None:
    """Swap two random words, then delete one random word (texts of 2+ words only)."""
    if text is None:
        return None
    words = text.split()
    if len(words) < 2:
        return text
    i, j = rng.choice(len(words), size=2, replace=False)
    words[i], words[j] = words[j], words[i]
    del words[int(rng.integers(len(words)))]
    return " ".join(words)


def _jitter(series: pl.Series, scale: float, rng: np.random.Generator) -> pl.Series:
    """Add N(0, scale * std) noise; integer columns are rounded back so the dtype holds."""
    std = cast(float | None, series.cast(pl.Float64).std())  # a Float64 column: float or None
    if not std or scale == 0:
        return series
    values = series.cast(pl.Float64).to_numpy()  # nulls become NaN and stay missing
    noisy = pl.Series(series.name, values + rng.normal(0.0, scale * std, size=len(values)))
    noisy = noisy.fill_nan(None)
    if series.dtype.is_integer():
        noisy = noisy.round(0)
    return noisy.cast(series.dtype, strict=False)


def augment(
    frame: pl.DataFrame,
    config: AugmentConfig,
    *,
    numeric: Sequence[str],
    text: Sequence[str],
    seed: int,
) -> pl.DataFrame:
    """Append ``config.copies`` noisy copies of every row after the originals.

    Apply it to the training split only (the caller does that): noisy copies of validation
    or test rows would leak into evaluation. Numeric columns get Gaussian noise of
    ``numeric_noise`` standard deviations, text columns a word swap and a word deletion,
    every other column (categoricals, target, id) is copied unchanged. The same seed gives
    the same rows.
    """
    if config.copies == 0 or frame.is_empty():
        return frame
    rng = np.random.default_rng(seed)
    copies = [frame]
    for _ in range(config.copies):
        changed: list[pl.Series] = []
        for name in numeric:
            if name in frame.columns and frame.schema[name].is_numeric():
                changed.append(_jitter(frame[name], config.numeric_noise, rng))
        for name in text:
            if name in frame.columns and frame.schema[name] == pl.String:
                texts = [perturb_text(value, rng) for value in frame[name].to_list()]
                changed.append(pl.Series(name, texts, dtype=pl.String))
        copies.append(frame.with_columns(changed))
    return pl.concat(copies, how="vertical")
