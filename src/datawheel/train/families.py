"""Fit one model family — ``mlp``, ``gbm`` or ``linear`` — on train, early-stopped on val.

The tree and linear families share the Preprocessor (standardized numerics, missing
indicators, category codes) with the MLP, then read a design matrix with TF-IDF text.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np
import polars as pl

from datawheel.config import CleanConfig, ModelConfig, TrainConfig
from datawheel.errors import DataError, UsageError
from datawheel.train.bundle import TrainedModel
from datawheel.train.design import Design
from datawheel.train.features import FeatureColumns, Preprocessor
from datawheel.train.trainer import TrainResult, class_weights_for, train_classifier

__all__ = ["FAMILIES", "REFITTED", "fit_family", "refit", "target_values"]

REFITTED = ("gbm", "linear")  # families refitted on train + validation once chosen

FAMILIES = ("linear", "gbm", "mlp")  # simplest first: ``auto`` prefers earlier within noise


def target_values(
    frame: pl.DataFrame, target: str, *, task: str, classes: list[str] | None = None
) -> np.ndarray:
    """The target as class indices (-1 for a class not in ``classes``) or float values."""
    column = frame.get_column(target)
    if task == "regression":
        values = column.cast(pl.Float64, strict=False)
        if values.null_count():
            raise DataError(
                f"{values.null_count()} rows have no numeric {target!r}",
                where=target,
                hint="drop unlabeled rows; a regression target must be a number",
            )
        return values.to_numpy().astype(np.float64)
    assert classes is not None
    return (
        column.cast(pl.String)
        .replace_strict(classes, range(len(classes)), default=-1, return_dtype=pl.Int64)
        .to_numpy()
    )


def fit_family(
    family: str,
    train: pl.DataFrame,
    val: pl.DataFrame,
    *,
    features: FeatureColumns,
    target: str,
    task: str,
    model_config: ModelConfig,
    train_config: TrainConfig,
    progress: bool = False,
    clean_config: CleanConfig | None = None,
    **mlp_options: Any,
) -> TrainResult:
    """Train ``family`` and return its TrainResult (the MLP keeps its per-epoch history).

    ``clean_config`` (the project's ``clean:``) puts the fill values and outlier fences in
    every family's Preprocessor, fitted on ``train``: one transform for all serving paths."""
    if family == "mlp":
        return train_classifier(
            train, val, features=features, target=target, model_config=model_config,
            train_config=train_config, progress=progress, task=task,
            clean_config=clean_config, **mlp_options,
        )  # fmt: skip
    if family not in ("gbm", "linear"):
        raise UsageError(f"unknown model family {family!r}", hint=f"use one of {FAMILIES}")
    return _fit_design(family, train, val, features, target, task, model_config, train_config,
                       clean_config=clean_config)  # fmt: skip


def refit(
    result: TrainResult,
    train: pl.DataFrame,
    val: pl.DataFrame,
    *,
    features: FeatureColumns,
    target: str,
    task: str,
    model_config: ModelConfig,
    train_config: TrainConfig,
    clean_config: CleanConfig | None = None,
) -> TrainResult:
    """The chosen tree or linear model again, on train + validation with the settings the
    validation split picked (rounds, penalty) — as scikit-learn's ``refit=True``. The MLP is
    returned as it is: its epochs are too costly to run twice. ``extras`` carry over."""
    model = result.model
    if model.family not in REFITTED:
        return result
    network: Any = model.network
    both = pl.concat([train, val], how="vertical_relaxed")
    settings = (
        {"rounds": network.rounds} if model.family == "gbm" else {"penalties": (network.penalty,)}
    )
    again = _fit_design(model.family, both, val, features, target, task, model_config,
                        train_config, clean_config=clean_config, **settings)  # fmt: skip
    again.model.extras.update(model.extras)
    again.model.extras["refit_rows"] = both.height
    again.seconds += result.seconds
    return again


def _fit_design(
    family: str,
    train: pl.DataFrame,
    val: pl.DataFrame,
    features: FeatureColumns,
    target: str,
    task: str,
    model_config: ModelConfig,
    train_config: TrainConfig,
    *,
    clean_config: CleanConfig | None = None,
    **settings: Any,
) -> TrainResult:
    from datawheel.train.gbm import fit_gbm
    from datawheel.train.linear import fit_linear

    started = time.perf_counter()
    if not features.all:
        raise UsageError("no feature columns", hint="declare at least one numeric or categorical")
    kind = "regression" if task == "regression" else "classification"
    classes = (
        [] if kind == "regression"
        else sorted(train.get_column(target).cast(pl.String).drop_nulls().unique().to_list())
    )  # fmt: skip
    if kind == "classification" and len(classes) < 2:
        raise UsageError(
            f"the target {target!r} needs at least 2 classes in the training set, got {classes}"
        )
    pre = Preprocessor(
        features,
        text_encoder="tfidf",
        missing=clean_config.missing if clean_config else None,
        outliers=clean_config.outliers if clean_config else None,
    ).fit(train)
    texts = pre.texts(train) if features.text else None
    val_texts = pre.texts(val) if features.text else None
    design, x = Design.fit(pre, *pre.transform(train), texts, one_hot=family == "linear")
    x_val = design.matrix(*pre.transform(val), val_texts or [[]] * val.height)
    y = target_values(train, target, task=kind, classes=classes)
    y_val = target_values(val, target, task=kind, classes=classes)
    fit: Callable[..., Any] = fit_gbm if family == "gbm" else fit_linear
    options: dict[str, Any] = {"loss": _loss(train_config, task)} if family == "gbm" else {}
    if kind == "classification":  # imbalanced classes weigh the same in total, as in the MLP
        options["class_weight"] = class_weights_for(train_config, y, len(classes))
    options.update(settings)
    network = fit(
        design, x, y, x_val, y_val, task=kind, n_classes=max(len(classes), 1),
        seed=train_config.seed, **options,
    )  # fmt: skip
    model = TrainedModel(
        pre, network, classes, target=target, task=kind,
        model_config={**model_config.model_dump(), "kind": family},
    )  # fmt: skip
    seconds = time.perf_counter() - started
    return TrainResult(model=model, history=[], best_epoch=0, seconds=seconds)


def _loss(train_config: TrainConfig, task: str) -> str:
    loss = getattr(train_config, "loss", "auto")
    return "mse" if loss == "auto" else loss
