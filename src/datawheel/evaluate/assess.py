"""Assess a model on a held-out table: metrics, fairness, the gated fairness gap, latency."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import polars as pl

from datawheel.evaluate.fairness import fairness_report
from datawheel.evaluate.metrics import classification_metrics
from datawheel.evaluate.regression import regression_fairness, regression_metrics

__all__ = ["MIN_GROUP_SIZE", "Assessment", "assess", "fairness_gap", "latency_p99_ms"]

MIN_GROUP_SIZE = 30  # smaller groups are reported but do not decide the gate: too noisy


class ProbabilisticModel(Protocol):
    classes: list[str]

    def predict_proba(self, rows: Any) -> np.ndarray: ...


@dataclass
class Assessment:
    metrics: dict[str, Any]
    fairness: dict[str, Any]
    gap: float  # the gated fairness gap (equalized-odds difference, groups >= MIN_GROUP_SIZE)
    gap_column: str | None
    details: dict[str, Any] = field(default_factory=dict)


def positive_label(classes: list[str]) -> str:
    """The class fairness treats as the favourable outcome: the last one in sorted order."""
    return classes[-1]


def fairness_gap(
    fairness: dict[str, Any], *, min_group: int = MIN_GROUP_SIZE
) -> tuple[float, str | None]:
    """Max over sensitive columns of the equalized-odds difference, from well-measured groups.

    A group's TPR counts only when it has >= ``min_group`` positives, its FPR only with >=
    ``min_group`` negatives: a rate from 15 people swings by 0.2 by chance alone. Equalized odds
    (not demographic parity) is gated because parity also penalizes true differences in base
    rates; both are reported.
    """
    worst, worst_column = 0.0, None
    for column, report in fairness.items():
        if "×" in column:
            continue
        groups = report["groups"].values()
        tpr = [g["tpr"] for g in groups if g.get("n_positive", 0) >= min_group]
        fpr = [g["fpr"] for g in groups if g.get("n_negative", 0) >= min_group]
        gap = max(
            (max(tpr) - min(tpr)) if len(tpr) > 1 else 0.0,
            (max(fpr) - min(fpr)) if len(fpr) > 1 else 0.0,
        )
        if gap > worst:
            worst, worst_column = float(gap), column
    return worst, worst_column


def assess(
    model: ProbabilisticModel,
    frame: pl.DataFrame,
    *,
    target: str,
    sensitive: list[str],
    intersections: bool = False,
) -> Assessment:
    """Score ``model`` on ``frame`` (which holds the true ``target``).

    ``intersections`` adds each pair of sensitive columns to the fairness report; they are
    reported only, the gated gap stays per column.
    """
    if getattr(model, "task", "classification") == "regression":
        return _assess_regression(model, frame, target=target, sensitive=sensitive)
    classes = list(model.classes)
    proba = model.predict_proba(frame)
    y_true = frame[target].cast(pl.String).to_list()
    positive = positive_label(classes)
    metrics = classification_metrics(y_true, proba, classes, positive=positive)
    y_pred = [classes[i] for i in proba.argmax(axis=1)]
    groups = {c: frame[c].to_list() for c in sensitive if c in frame.columns}
    fairness = (
        fairness_report(y_true, y_pred, groups, positive=positive, intersections=intersections)
        if groups
        else {}
    )
    gap, column = fairness_gap(fairness)
    return Assessment(metrics=metrics, fairness=fairness, gap=gap, gap_column=column)


def _assess_regression(
    model: Any, frame: pl.DataFrame, *, target: str, sensitive: list[str]
) -> Assessment:
    """RMSE / MAE / R² against the training-mean baseline; per-group errors as fairness."""
    values = model.predict_values(frame)
    y_true = frame[target].cast(pl.Float64).to_list()
    baseline = getattr(model, "extras", {}).get("target_mean")
    metrics = regression_metrics(y_true, values, baseline=baseline)
    groups = {c: frame[c].to_list() for c in sensitive if c in frame.columns}
    fairness = regression_fairness(y_true, values, groups, min_group=MIN_GROUP_SIZE)
    gap, column = 0.0, None
    for name, entry in fairness.items():
        if entry["gap"] > gap:
            gap, column = float(entry["gap"]), name
    return Assessment(metrics=metrics, fairness=fairness, gap=gap, gap_column=column)


def latency_p99_ms(model: ProbabilisticModel, frame: pl.DataFrame, *, samples: int = 200) -> float:
    """p99 of a single-row prediction on dict rows, as a served request pays it."""
    rows = frame.head(samples).to_dicts()
    if not rows:
        return 0.0
    predict = getattr(model, "predict_output", model.predict_proba)
    predict(rows[:1])  # warm-up
    times = []
    for row in rows:
        started = time.perf_counter()
        predict([row])
        times.append((time.perf_counter() - started) * 1000)
    return float(np.percentile(times, 99))
