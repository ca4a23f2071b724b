"""Strata for splitting a regression target: quantile bins, so every split spans its range."""

from __future__ import annotations

import numpy as np
import polars as pl

__all__ = ["STRATA_COLUMN", "with_value_strata"]

STRATA_COLUMN = "__strata__"
BINS = 10


def with_value_strata(frame: pl.DataFrame, target: str, *, bins: int = BINS) -> pl.DataFrame:
    """``frame`` plus ``STRATA_COLUMN``: the decile of each row's numeric target (as a string
    label, which the class-stratified splitter accepts); drop it after splitting."""
    values = frame.get_column(target).cast(pl.Float64, strict=False).to_numpy()
    finite = values[np.isfinite(values)]
    edges: np.ndarray = (
        np.unique(np.quantile(finite, np.linspace(0, 1, bins + 1)[1:-1]))
        if finite.size
        else np.zeros(0)
    )
    strata = np.searchsorted(edges, np.nan_to_num(values), side="right")
    return frame.with_columns(pl.Series(STRATA_COLUMN, strata.astype(str)))
