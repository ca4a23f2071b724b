"""Stratified, seeded train / validation / test splits that keep the input order within each."""

from __future__ import annotations

import numpy as np
import polars as pl

from datawheel.errors import DataError

__all__ = ["split_frame"]


def split_frame(
    frame: pl.DataFrame, *, target: str, val_fraction: float, test_fraction: float, seed: int
) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """Split per class so each part has the class balance of the whole; rows keep their order."""
    if frame.height < 10:
        raise DataError(f"need at least 10 rows to split, got {frame.height}", where=target)
    rng = np.random.default_rng(seed)
    labels = frame[target].cast(pl.String).to_numpy()
    part = np.zeros(frame.height, dtype=np.int8)  # 0 train, 1 val, 2 test
    for label in np.unique(labels):
        idx = np.flatnonzero(labels == label)
        rng.shuffle(idx)
        n_test = round(len(idx) * test_fraction)
        n_val = round(len(idx) * val_fraction)
        part[idx[:n_test]] = 2
        part[idx[n_test : n_test + n_val]] = 1
    marks = pl.Series("_part", part)
    return (
        frame.filter(marks == 0),
        frame.filter(marks == 1),
        frame.filter(marks == 2),
    )
