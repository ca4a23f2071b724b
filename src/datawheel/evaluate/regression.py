"""Regression metrics: RMSE, MAE, R² with bootstrap intervals, against a mean baseline."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from datawheel.errors import DataError, UsageError

#: labels or predictions: a sequence or a numpy array
Values = Sequence[Any] | np.ndarray

__all__ = [
    "REGRESSION_METRICS",
    "conformal_halfwidth",
    "regression_bootstrap_ci",
    "regression_fairness",
    "regression_metrics",
    "squared_errors",
]

REGRESSION_METRICS = ("rmse", "mae", "r2")
_LOWER_IS_BETTER = {"rmse": True, "mae": True, "r2": False}


def _arrays(y_true: Values, y_pred: Values) -> tuple[np.ndarray, np.ndarray]:
    try:
        y = np.asarray([float(v) for v in y_true], dtype=np.float64)
    except (TypeError, ValueError):
        raise DataError(
            "regression labels must be numbers", hint="evaluate on rows with a numeric target"
        ) from None
    p = np.asarray(y_pred, dtype=np.float64).reshape(-1)
    if len(y) != len(p):
        raise DataError(f"{len(y)} labels for {len(p)} predictions")
    if not len(y):
        raise DataError("no rows to evaluate", hint="pass at least one labelled row")
    if not (np.isfinite(y).all() and np.isfinite(p).all()):
        raise DataError("labels or predictions hold NaN or infinite values")
    return y, p


def _scores(y: np.ndarray, p: np.ndarray) -> dict[str, float]:
    err = p - y
    ss_tot = float(((y - y.mean()) ** 2).sum())
    return {
        "rmse": float(np.sqrt(np.mean(err**2))),
        "mae": float(np.mean(np.abs(err))),
        "r2": 1.0 - float((err**2).sum()) / ss_tot if ss_tot > 0 else 0.0,
    }


def regression_metrics(
    y_true: Values, y_pred: Values, *, baseline: float | None = None
) -> dict[str, Any]:
    """RMSE, MAE, R², and the same for always predicting ``baseline`` (the training mean;
    the evaluation rows' own mean when None) — a model should beat it."""
    y, p = _arrays(y_true, y_pred)
    base = float(np.mean(y)) if baseline is None else float(baseline)
    scores = _scores(y, p)
    baseline_scores = _scores(y, np.full_like(y, base))
    residuals = p - y
    return {
        "n": len(y),
        **scores,
        "baseline": {"value": base, **baseline_scores},
        "mean_residual": float(residuals.mean()),
        "target_mean": float(y.mean()),
        "target_std": float(y.std()),
    }


def squared_errors(y_true: Values, y_pred: Values) -> np.ndarray:
    """Per-row squared errors: the paired scores a gate or a model selection compares."""
    y, p = _arrays(y_true, y_pred)
    return (p - y) ** 2


def regression_bootstrap_ci(
    y_true: Values,
    y_pred: Values,
    metric: str,
    *,
    n_boot: int = 200,
    seed: int = 0,
    alpha: float = 0.05,
) -> tuple[float, float]:
    """Percentile bootstrap interval of one of ``REGRESSION_METRICS``."""
    if metric not in REGRESSION_METRICS:
        raise UsageError(
            f"unknown regression metric {metric!r}", hint=f"use one of {REGRESSION_METRICS}"
        )
    if n_boot < 1:
        raise UsageError(f"n_boot must be >= 1, got {n_boot}")
    y, p = _arrays(y_true, y_pred)
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(y), size=(n_boot, len(y)))  # [b, n]
    yb, pb = y[idx], p[idx]
    err = pb - yb
    if metric == "rmse":
        values = np.sqrt((err**2).mean(axis=1))
    elif metric == "mae":
        values = np.abs(err).mean(axis=1)
    else:
        ss_tot = ((yb - yb.mean(axis=1, keepdims=True)) ** 2).sum(axis=1)
        values = 1.0 - (err**2).sum(axis=1) / np.where(ss_tot > 0, ss_tot, np.nan)
        values = values[np.isfinite(values)]
    lo, hi = np.quantile(values, [alpha / 2, 1 - alpha / 2])
    return float(lo), float(hi)


def conformal_halfwidth(y_true: Values, y_pred: Values, *, coverage: float = 0.9) -> float:
    """Split-conformal half-width: the ⌈(n+1)·coverage⌉-th smallest |residual| on held-out
    rows, so ``value ± halfwidth`` covers a new row's target with probability >= coverage
    (exchangeable rows)."""
    if not 0 < coverage < 1:
        raise UsageError(f"coverage must be in (0, 1), got {coverage}")
    y, p = _arrays(y_true, y_pred)
    residuals = np.sort(np.abs(p - y))
    rank = int(np.ceil((len(y) + 1) * coverage))
    return float(residuals[min(rank, len(y)) - 1])


def lower_is_better(metric: str) -> bool:
    return _LOWER_IS_BETTER.get(metric, False)


def regression_fairness(
    y_true: Values,
    y_pred: Values,
    groups: Mapping[str, Sequence[Any]],
    *,
    min_group: int = 30,
) -> dict[str, Any]:
    """Per sensitive column: each group's n, MAE, RMSE and mean residual (over- or
    under-prediction), and ``gap``: the largest MAE difference between groups of at least
    ``min_group`` rows, divided by the target's std (so the gate's limit is unit-free)."""
    y, p = _arrays(y_true, y_pred)
    scale = float(y.std()) or 1.0
    out: dict[str, Any] = {}
    for column, values in groups.items():
        labels = np.asarray(["(missing)" if v is None else str(v) for v in values])
        entry: dict[str, Any] = {}
        for group in sorted(set(labels.tolist())):
            mask = labels == group
            err = p[mask] - y[mask]
            entry[group] = {
                "n": int(mask.sum()),
                "mae": float(np.abs(err).mean()),
                "rmse": float(np.sqrt((err**2).mean())),
                "mean_residual": float(err.mean()),
            }
        judged = [g["mae"] for g in entry.values() if g["n"] >= min_group]
        gap = (max(judged) - min(judged)) / scale if len(judged) > 1 else 0.0
        out[column] = {"groups": entry, "gap": float(gap), "kind": "regression"}
    return out
