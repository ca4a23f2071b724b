"""Assess a model on held-out rows: the primary metric with its interval and the trivial
baseline, every other metric, fairness with the gated gap, and latency.

The assessment keeps the per-row truth and predictions, so two assessments of the same rows
can be compared pair by pair (``loop.gate``), whatever the metric.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import polars as pl

from datawheel.errors import DataError
from datawheel.evaluate.fairness import MIN_GROUP_SIZE, GatedGap, fairness_report, gated_gap
from datawheel.evaluate.metrics import (
    METRICS,
    Metric,
    baseline_prediction,
    class_prior,
    classification_metrics,
    encode_labels,
    positive_index,
    resolve_metric,
    task_of,
)
from datawheel.evaluate.regression import regression_fairness, regression_metrics
from datawheel.evaluate.statistics import metric_interval, paired_bootstrap

__all__ = [
    "MIN_GROUP_SIZE",
    "Assessment",
    "assess",
    "latency_p99_ms",
    "positive_label",
    "training_prior",
]


class ProbabilisticModel(Protocol):
    classes: list[str]

    def predict_proba(self, rows: Any) -> np.ndarray: ...


@dataclass
class Assessment:
    """What one model scored on one table, and the rows behind it."""

    metrics: dict[str, Any]
    fairness: dict[str, Any]
    gap: float | None  # the gated fairness gap; None when not measurable (see ``gated``)
    gap_column: str | None
    gated: GatedGap | None = None
    # {"metric", "value", "low", "high", "interval", "baseline", "beats_baseline", "test"}
    primary: dict[str, Any] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)
    # per-row truth and predictions (class indices and probabilities, or numbers): the pairing
    y: np.ndarray | None = field(default=None, repr=False)
    pred: np.ndarray | None = field(default=None, repr=False)
    pos: int | None = None
    classes: list[str] = field(default_factory=list)

    @property
    def metric(self) -> Metric:
        return METRICS[self.primary["metric"]]

    @property
    def beats_baseline(self) -> bool:
        return bool(self.primary.get("beats_baseline"))


def positive_label(classes: list[str], positive: str | None = None) -> str:
    """The class precision, recall, F1 and fairness are about: ``data.positive_class``, else
    the last class in sorted order."""
    return classes[positive_index(classes, positive)]


def training_prior(model: Any) -> list[float] | None:
    """The class shares of the model's training split, when the model carries them."""
    extras = getattr(model, "extras", None) or {}
    prior = extras.get("class_prior")
    return list(prior) if prior is not None else None


def assess(
    model: ProbabilisticModel,
    frame: pl.DataFrame,
    *,
    target: str,
    sensitive: list[str],
    intersections: bool = False,
    metric: str | None = None,
    positive: str | None = None,
    confidence: float = 0.95,
    min_group_size: int = MIN_GROUP_SIZE,
) -> Assessment:
    """Score ``model`` on ``frame`` (which holds the true ``target``).

    ``metric`` is the primary metric (``evaluate.metric``; default by task). The baseline is
    the trivial model — the training class shares for every row (``extras["class_prior"]``,
    else this table's own shares, which flatters it) — and the model beats it only when the
    paired bootstrap's lower bound of the improvement is above 0 at ``confidence``.
    ``intersections`` adds each pair of sensitive columns to the fairness report (reported
    only; the gated gap stays per column, over groups of >= ``min_group_size``).
    """
    if frame.height == 0:
        raise DataError("no rows to assess", hint="evaluate on at least one labelled row")
    if getattr(model, "task", "classification") == "regression":
        return _assess_regression(
            model, frame, target=target, sensitive=sensitive, metric=metric,
            confidence=confidence, min_group_size=min_group_size,
        )  # fmt: skip
    classes = list(model.classes)
    proba = model.predict_proba(frame)
    y_true = frame[target].cast(pl.String).to_list()
    y, p, classes = encode_labels(y_true, proba, classes)
    pos = positive_index(classes, positive) if len(classes) == 2 else None
    chosen = resolve_metric(metric, task_of(len(classes)))
    pos_label = classes[positive_index(classes, positive)]
    metrics = classification_metrics(y_true, p, classes, positive=pos_label)
    y_pred = [classes[i] for i in p.argmax(axis=1)]
    groups = {c: frame[c].to_list() for c in sensitive if c in frame.columns}
    fairness = (
        fairness_report(y_true, y_pred, groups, positive=pos_label, intersections=intersections)
        if groups
        else {}
    )
    gated = gated_gap(
        fairness,
        min_group_size=min_group_size,
        sensitive=sensitive,
        predicted_classes=len(set(y_pred)),
    )
    prior = training_prior(model) or class_prior(y, len(classes)).tolist()
    primary = primary_summary(chosen, y, p, pos, prior=prior, confidence=confidence)
    metrics["primary_metric"] = chosen.name
    metrics["baseline"] = primary["baseline"]
    return Assessment(
        metrics=metrics,
        fairness=fairness,
        gap=gated.value,
        gap_column=gated.column,
        gated=gated,
        primary=primary,
        y=y,
        pred=p,
        pos=pos,
        classes=classes,
    )


def primary_summary(
    metric: Metric,
    y: np.ndarray,
    pred: np.ndarray,
    pos: int | None,
    *,
    prior: list[float] | None = None,
    mean: float | None = None,
    confidence: float = 0.95,
) -> dict[str, Any]:
    """The primary metric with its interval, the baseline's value, and the paired test of the
    model against the baseline on the same rows (plain JSON values)."""
    interval = metric_interval(metric, y, pred, pos, confidence=confidence)
    baseline = baseline_prediction(len(y), prior=prior, mean=mean)
    test = paired_bootstrap(metric, y, baseline, pred, pos, confidence=confidence)
    return {
        "metric": metric.name,
        "higher_is_better": metric.higher_is_better,
        "value": interval.value,
        "low": interval.low,
        "high": interval.high,
        "interval": interval.method if interval.ok else interval.reason,
        "confidence": confidence,
        "n": len(y),
        "baseline": test.reference,
        "baseline_kind": "class shares of training" if prior is not None else "training mean",
        "beats_baseline": test.significant,
        "vs_baseline": test.to_dict(),
    }


def _assess_regression(
    model: Any,
    frame: pl.DataFrame,
    *,
    target: str,
    sensitive: list[str],
    metric: str | None,
    confidence: float,
    min_group_size: int,
) -> Assessment:
    """RMSE / MAE / R² against the training-mean baseline (``extras["target_mean"]``, else
    this table's mean); the primary metric (``rmse`` by default) with its interval and the
    paired test against that baseline; per-group errors as fairness."""
    values = np.asarray(model.predict_values(frame), dtype=float).reshape(-1)
    y_true = frame[target].cast(pl.Float64).to_list()
    extras = getattr(model, "extras", None) or {}
    metrics = regression_metrics(y_true, values, baseline=extras.get("target_mean"))
    y = np.asarray(y_true, dtype=float)
    chosen = resolve_metric(metric, "regression")
    mean = float(metrics["baseline"]["value"])
    primary = primary_summary(chosen, y, values, None, mean=mean, confidence=confidence)
    metrics["primary_metric"] = chosen.name
    groups = {c: frame[c].to_list() for c in sensitive if c in frame.columns}
    fairness = regression_fairness(y_true, values, groups, min_group=min_group_size)
    gap, column = None, None
    for name, entry in fairness.items():
        judged = [g for g in entry["groups"].values() if g["n"] >= min_group_size]
        if len(judged) > 1 and (gap is None or entry["gap"] > gap):  # else: not measurable
            gap, column = float(entry["gap"]), name
    reason = "" if gap is not None else (
        "no sensitive column is set (data.sensitive)" if not sensitive
        else f"no two groups of a sensitive column have >= {min_group_size} rows"
    )  # fmt: skip
    gated = GatedGap(gap, column, min_group_size, reason)
    return Assessment(
        metrics=metrics,
        fairness=fairness,
        gap=gap,
        gap_column=column,
        gated=gated,
        primary=primary,
        y=y,
        pred=values,
    )


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
