"""Synthetic tabular data for the training tests: the label depends on numerics and categories."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl

from datawheel.config import ModelConfig, TrainConfig
from datawheel.train import FeatureColumns, TrainResult, train_classifier
from datawheel.train.trainer import EpochCallback

FEATURES = FeatureColumns(numeric=["age", "income"], categorical=["color", "size"])


def make_frame(n: int, *, seed: int, flip: float = 0.0, missing: float = 0.0) -> pl.DataFrame:
    """``n`` rows; ``flip`` = fraction of labels flipped, ``missing`` = fraction of nulls."""
    rng = np.random.default_rng(seed)
    age = rng.normal(40.0, 10.0, n)
    income = rng.normal(50.0, 20.0, n)
    color = rng.choice(["red", "green", "blue"], n)
    size = rng.choice(["S", "M", "L", "XL"], n)
    score = (
        (age - 40.0) / 10.0
        + (income - 50.0) / 20.0
        + np.select([color == "red", color == "blue"], [1.5, -1.5], 0.0)
        + np.where(size == "XL", 1.5, 0.0)
        - 0.4
    )
    label = score > 0
    label ^= rng.random(n) < flip
    frame = pl.DataFrame(
        {
            "age": age,
            "income": income,
            "color": color,
            "size": size,
            "label": np.where(label, "yes", "no"),
        }
    )
    if missing:
        holes = pl.Series(rng.random(n) < missing)
        frame = frame.with_columns(
            pl.when(holes).then(None).otherwise(pl.col("age")).alias("age"),
            pl.when(holes.shift(1, fill_value=False)).then(None).otherwise(pl.col("color")),
        )
    return frame


def fit(
    train: pl.DataFrame,
    val: pl.DataFrame,
    *,
    progress: bool = False,
    dropout: float = 0.1,
    checkpoint_path: Path | None = None,
    resume: bool = False,
    fingerprint: str = "",
    on_epoch: EpochCallback | None = None,
    **train_options: object,
) -> TrainResult:
    """Train on the synthetic features with small defaults that keep the suite fast."""
    options = {"epochs": 10, "batch_size": 128, "lr": 3e-3, **train_options}
    return train_classifier(
        train,
        val,
        features=FEATURES,
        target="label",
        model_config=ModelConfig(hidden=[32, 16], dropout=dropout),
        train_config=TrainConfig(**options),
        progress=progress,
        checkpoint_path=checkpoint_path,
        resume=resume,
        fingerprint=fingerprint,
        on_epoch=on_epoch,
    )
