"""``model.kind: auto``: fit every family, choose on the validation split (see
``evaluate.selection.select_model``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import polars as pl

from datawheel.config import ModelConfig, TrainConfig
from datawheel.evaluate.metrics import positive_index
from datawheel.evaluate.selection import Selection, primary_metric, select_model
from datawheel.train.families import FAMILIES, fit_family, refit, target_values
from datawheel.train.features import FeatureColumns
from datawheel.train.trainer import TrainResult

__all__ = ["choose", "fit_auto"]


def choose(
    results: dict[str, TrainResult],
    val: pl.DataFrame,
    target: str,
    task: str,
    *,
    metric: str | None = None,
    positive: str | None = None,
) -> Selection:
    """Score each fitted candidate on ``val`` by the primary metric (``metric``, else the
    task's default) and pick one; ``positive`` is the positive class of a binary metric."""
    any_model = next(iter(results.values())).model
    kind = "regression" if task == "regression" else "classification"
    classes = any_model.classes or None
    y = target_values(val, target, task=kind, classes=classes)
    keep = np.ones(len(y), bool) if kind == "regression" else y >= 0
    outputs = {
        family: np.asarray(r.model.predict_output(val), dtype=np.float64)[keep]
        for family, r in results.items()
    }
    pos = positive_index(classes, positive) if classes and len(classes) == 2 else None
    return select_model(
        y[keep], outputs, metric=primary_metric(task, len(classes or []), metric),
        order=list(FAMILIES), seconds={family: r.seconds for family, r in results.items()},
        pos=pos,
    )  # fmt: skip


def fit_auto(
    train: pl.DataFrame,
    val: pl.DataFrame,
    *,
    features: FeatureColumns,
    target: str,
    task: str,
    model_config: ModelConfig,
    train_config: TrainConfig,
    families: Sequence[str] = FAMILIES,
    progress: bool = False,
    **mlp_options: Any,
) -> tuple[TrainResult, Selection, dict[str, TrainResult]]:
    """Fit ``families`` and return (the chosen result, the selection, every result)."""
    results = {
        family: fit_family(
            family, train, val, features=features, target=target, task=task,
            model_config=model_config, train_config=train_config, progress=progress,
            **(mlp_options if family == "mlp" else {}),
        )
        for family in families
    }  # fmt: skip
    selection = choose(results, val, target, task)
    chosen = refit(
        results[selection.chosen], train, val, features=features, target=target, task=task,
        model_config=model_config, train_config=train_config,
    )  # fmt: skip
    return chosen, selection, results
