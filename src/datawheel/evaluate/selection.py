"""Choosing among candidate models on the validation split: the primary metric with paired
bootstrap intervals, preferring the simpler model when the best is not clearly better."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from datawheel.errors import UsageError
from datawheel.evaluate.metrics import METRICS, Metric, resolve_metric, task_of

__all__ = ["CandidateScore", "Selection", "metric_value", "primary_metric", "select_model"]


def primary_metric(task: str, n_classes: int = 2, configured: str | None = None) -> str:
    """The metric candidates are chosen by: the project's primary metric (``evaluate.metric``,
    else the task's default: ROC AUC for binary, balanced accuracy for multiclass, RMSE for
    regression) — the one the evaluation and the gate judge the chosen model by."""
    if task == "regression":
        kind = "regression"
    else:
        kind = task_of(n_classes) if task == "classification" else task
    return resolve_metric(configured, kind).name


def higher_is_better(metric: str) -> bool:
    return _metric(metric).higher_is_better


def _metric(name: str) -> Metric:
    if name not in METRICS:
        raise UsageError(f"unknown selection metric {name!r}", hint=f"use one of {list(METRICS)}")
    return METRICS[name]


def _scored(metric: Metric, output: np.ndarray, pos: int | None) -> tuple[np.ndarray, int | None]:
    """A model's output as the metric reads it: values [n] for a regression metric,
    probabilities [n, K] otherwise; a binary metric's positive class defaults to column 1."""
    output = np.asarray(output, dtype=np.float64)
    if "regression" in metric.tasks:
        return output.reshape(-1), None
    if pos is None and output.shape[1] == 2:
        pos = 1
    return output, pos


def metric_value(
    metric: str, y: np.ndarray, output: np.ndarray, *, pos: int | None = None
) -> float:
    """``y``: class indices or values; ``output``: probabilities [n, K] or values [n(, 1)].
    Any metric of ``evaluate.metrics.METRICS``; ``pos``: the positive class of a binary one."""
    chosen = _metric(metric)
    pred, pos = _scored(chosen, output, pos)
    return chosen.score(np.asarray(y), pred, pos)


@dataclass
class CandidateScore:
    family: str
    value: float  # the primary metric on the validation split
    low: float  # its 95% bootstrap interval
    high: float
    gap_to_best: float  # how much worse than the best (0 for the best), in the metric's units
    gap_low: float  # paired 95% interval of that gap
    gap_high: float
    seconds: float = 0.0  # training time
    chosen: bool = False


@dataclass
class Selection:
    metric: str
    chosen: str
    best: str
    reason: str
    candidates: list[CandidateScore] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def select_model(
    y: np.ndarray,
    outputs: Mapping[str, np.ndarray],
    *,
    metric: str,
    order: Sequence[str],
    seconds: Mapping[str, float] | None = None,
    n_boot: int = 200,
    seed: int = 0,
    pos: int | None = None,
) -> Selection:
    """Pick the simplest candidate (earliest in ``order``) whose paired bootstrap interval of
    the gap to the best candidate contains 0; the best one when every other is clearly worse.

    Every candidate is scored on the same resamples of the validation rows, so the gap's
    interval reflects the models' difference, not the sampling noise they share.
    """
    names = [name for name in order if name in outputs]
    if not names:
        raise UsageError("no candidate models to choose from")
    scorer = _metric(metric)
    sign = 1.0 if scorer.higher_is_better else -1.0
    y = np.asarray(y)
    preds = {name: _scored(scorer, outputs[name], pos) for name in names}
    point = {name: scorer.score(y, *preds[name]) for name in names}
    best = max(names, key=lambda name: sign * np.nan_to_num(point[name], nan=-np.inf * sign))
    rng = np.random.default_rng(seed)
    # resample counts as row weights: every replicate of every candidate in one pass each
    weights = np.stack(
        [np.bincount(rng.integers(0, len(y), size=len(y)), minlength=len(y)) for _ in range(n_boot)]
    ).astype(np.float64)  # [n_boot, n]
    boot = {name: scorer.weighted(y, preds[name][0], weights, preds[name][1]) for name in names}
    scores, chosen = [], None
    for name in names:
        gap = sign * (boot[best] - boot[name])  # > 0: the best is better on that resample
        finite = gap[np.isfinite(gap)]
        gap_low, gap_high = np.quantile(finite, [0.025, 0.975]) if finite.size else (0.0, 0.0)
        values = boot[name][np.isfinite(boot[name])]
        low, high = np.quantile(values, [0.025, 0.975]) if values.size else (np.nan, np.nan)
        if chosen is None and gap_low <= 0.0:
            chosen = name
        scores.append(
            CandidateScore(
                family=name, value=float(point[name]), low=float(low), high=float(high),
                gap_to_best=float(sign * (point[best] - point[name])),
                gap_low=float(gap_low), gap_high=float(gap_high),
                seconds=float((seconds or {}).get(name, 0.0)),
            )
        )  # fmt: skip
    chosen = chosen or best
    for score in scores:
        score.chosen = score.family == chosen
    if chosen == best:
        reason = f"{best} has the best validation {metric} ({point[best]:.4f})"
    else:
        reason = (
            f"{chosen} ({point[chosen]:.4f}) is within noise of the best, {best} "
            f"({point[best]:.4f}): the gap's 95% interval includes 0, so the simpler model wins"
        )
    return Selection(metric=metric, chosen=chosen, best=best, reason=reason, candidates=scores)
