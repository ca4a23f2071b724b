"""Choosing among candidate models on the validation split: the primary metric with paired
bootstrap intervals, preferring the simpler model when the best is not clearly better."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from datawheel.errors import UsageError

__all__ = ["CandidateScore", "Selection", "metric_value", "primary_metric", "select_model"]


def primary_metric(task: str, n_classes: int = 2) -> str:
    """The metric a task is judged by: ROC AUC (one-vs-rest macro for several classes) for
    classification, RMSE for regression."""
    return "rmse" if task == "regression" else "roc_auc"


def higher_is_better(metric: str) -> bool:
    return metric not in ("rmse", "mae", "log_loss", "brier")


def metric_value(metric: str, y: np.ndarray, output: np.ndarray) -> float:
    """``y``: class indices or values; ``output``: probabilities [n, K] or values [n(, 1)]."""
    from sklearn.metrics import roc_auc_score

    if metric == "rmse":
        return float(np.sqrt(np.mean((output.reshape(-1) - y) ** 2)))
    if metric == "mae":
        return float(np.mean(np.abs(output.reshape(-1) - y)))
    if metric == "accuracy":
        return float(np.mean(output.argmax(axis=1) == y))
    if metric == "log_loss":
        picked = output[np.arange(len(y)), y]
        return float(-np.mean(np.log(np.clip(picked, 1e-15, 1.0))))
    if metric == "roc_auc":
        present = np.unique(y)
        if len(present) < 2:
            return float("nan")
        if output.shape[1] == 2:
            return float(roc_auc_score(y == 1, output[:, 1]))
        return float(np.mean([roc_auc_score(y == c, output[:, c]) for c in present]))
    raise UsageError(f"unknown selection metric {metric!r}")


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
) -> Selection:
    """Pick the simplest candidate (earliest in ``order``) whose paired bootstrap interval of
    the gap to the best candidate contains 0; the best one when every other is clearly worse.

    Every candidate is scored on the same resamples of the validation rows, so the gap's
    interval reflects the models' difference, not the sampling noise they share.
    """
    names = [name for name in order if name in outputs]
    if not names:
        raise UsageError("no candidate models to choose from")
    sign = 1.0 if higher_is_better(metric) else -1.0
    point = {name: metric_value(metric, y, outputs[name]) for name in names}
    best = max(names, key=lambda name: sign * np.nan_to_num(point[name], nan=-np.inf * sign))
    rng = np.random.default_rng(seed)
    resamples = [rng.integers(0, len(y), size=len(y)) for _ in range(n_boot)]
    boot = {
        name: np.array([metric_value(metric, y[idx], outputs[name][idx]) for idx in resamples])
        for name in names
    }
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
