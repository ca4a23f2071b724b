"""Classification metrics, calibration error and bootstrap intervals for a model's predictions."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from datawheel.errors import DataError, UsageError

__all__ = [
    "BOOTSTRAP_METRICS",
    "bootstrap_ci",
    "classification_metrics",
    "expected_calibration_error",
]

#: Metrics ``bootstrap_ci`` can resample; each is computed from confusion matrices alone.
BOOTSTRAP_METRICS = ("accuracy", "balanced_accuracy", "f1", "macro_f1", "precision", "recall")

_CHUNK_CELLS = 4_000_000  # resampled indices held at once by bootstrap_ci (~32 MB of int64)


def classification_metrics(
    y_true: Sequence[str],
    proba: np.ndarray,
    classes: Sequence[str],
    *,
    positive: str | None = None,
) -> dict[str, Any]:
    """Score predicted probabilities against true labels; every value is a plain JSON type.

    The predicted label is the argmax of ``proba`` (columns in ``classes`` order).

    Binary problems: ``f1``, ``precision``, ``recall``, ``roc_auc`` and ``brier`` are for the
    ``positive`` class, which defaults to ``classes[-1]`` (the usual "1"/"yes"/">50K" last
    convention, and stable across datasets, unlike "the minority class").
    Multiclass: ``f1``, ``precision``, ``recall`` are macro averages, ``roc_auc`` is one-vs-rest
    macro over the classes present in ``y_true``, and ``brier`` is ``None``.
    ``roc_auc`` is ``None`` when ``y_true`` holds a single class.
    """
    y, p, classes = _validate(y_true, proba, classes)
    k = len(classes)
    binary = k == 2
    pos = _positive_index(classes, positive) if binary else None
    pred = p.argmax(axis=1)
    # numpy, not scikit-learn: importing sklearn.metrics costs a second, a fifth of what
    # `evaluate --report` may take; tests check every value against scikit-learn
    cm = np.bincount(y * k + pred, minlength=k * k).reshape(k, k)  # rows true, columns predicted
    tp, sup_c, predicted = np.diagonal(cm).astype(float), cm.sum(axis=1), cm.sum(axis=0)
    prec_c, rec_c = _safe_div(tp, predicted), _safe_div(tp, sup_c)
    f1_c = _safe_div(2 * tp, sup_c + predicted)
    if binary:
        precision, recall, f1 = float(prec_c[pos]), float(rec_c[pos]), float(f1_c[pos])
    else:
        precision, recall, f1 = float(prec_c.mean()), float(rec_c.mean()), float(f1_c.mean())
    eps = np.finfo(p.dtype).eps  # scikit-learn's clipping
    truth = np.clip(p[np.arange(len(y)), y], eps, 1 - eps)
    return {
        "n": len(y),
        "accuracy": float(np.mean(pred == y)),
        "balanced_accuracy": float(rec_c[sup_c > 0].mean()),  # over classes present in y
        "f1": f1,
        "precision": precision,
        "recall": recall,
        "macro_f1": float(f1_c.mean()),
        "roc_auc": _roc_auc(y, p, pos),
        "log_loss": float(-np.log(truth).mean()),
        "brier": float(np.mean((p[:, pos] - (y == pos)) ** 2)) if binary else None,
        "ece": expected_calibration_error(y, p),
        "positive": classes[pos] if pos is not None else None,
        "per_class": {
            c: {
                "precision": float(prec_c[i]),
                "recall": float(rec_c[i]),
                "f1": float(f1_c[i]),
                "support": int(sup_c[i]),
            }
            for i, c in enumerate(classes)
        },
        "confusion_matrix": cm.tolist(),
    }


def expected_calibration_error(y: np.ndarray, proba: np.ndarray, *, bins: int = 10) -> float:
    """ECE on the top-label confidence: sum over equal-width bins of |accuracy - confidence|·share.

    ``y`` holds class indices (columns of ``proba``). Bins are right-closed, (0, 0.1], …, so a
    confidence of exactly 1.0 falls in the last bin.
    """
    conf = proba.max(axis=1)
    correct = (proba.argmax(axis=1) == y).astype(float)
    idx = np.clip(np.ceil(conf * bins).astype(int) - 1, 0, bins - 1)
    count = np.bincount(idx, minlength=bins)
    gap = np.abs(
        np.bincount(idx, weights=correct, minlength=bins)
        - np.bincount(idx, weights=conf, minlength=bins)
    )
    return float(gap.sum() / count.sum())


def bootstrap_ci(
    y_true: Sequence[str],
    proba: np.ndarray,
    classes: Sequence[str],
    metric: str,
    *,
    n_boot: int = 200,
    seed: int = 0,
    alpha: float = 0.05,
    positive: str | None = None,
) -> tuple[float, float]:
    """Percentile bootstrap interval ``(low, high)`` for one metric of ``BOOTSTRAP_METRICS``.

    Rows are resampled with replacement; each resample's confusion matrix is built with one
    ``bincount``, so the cost is a few array passes rather than ``n_boot`` scikit-learn calls.
    ``f1``/``precision``/``recall`` follow ``classification_metrics`` (positive class when binary,
    macro otherwise).
    """
    if metric not in BOOTSTRAP_METRICS:
        raise UsageError(
            f"unknown bootstrap metric {metric!r}",
            hint=f"use one of {', '.join(BOOTSTRAP_METRICS)}",
        )
    if n_boot < 1:
        raise UsageError(f"n_boot must be >= 1, got {n_boot}")
    if not 0 < alpha < 1:
        raise UsageError(f"alpha must be in (0, 1), got {alpha}")
    y, p, classes = _validate(y_true, proba, classes)
    k, n = len(classes), len(y)
    pos = _positive_index(classes, positive) if k == 2 else None
    cell = y * k + p.argmax(axis=1)  # confusion-matrix cell of each row, [n]
    rng = np.random.default_rng(seed)
    values = []
    step = max(1, _CHUNK_CELLS // n)
    for start in range(0, n_boot, step):
        b = min(step, n_boot - start)
        idx = rng.integers(0, n, size=(b, n))  # [b, n]
        flat = cell[idx] + (np.arange(b) * k * k)[:, None]  # [b, n], offset per resample
        cm = np.bincount(flat.ravel(), minlength=b * k * k).reshape(b, k, k)
        values.append(_metric_from_confusion(cm, metric, pos))
    lo, hi = np.quantile(np.concatenate(values), [alpha / 2, 1 - alpha / 2])
    return float(lo), float(hi)


def _metric_from_confusion(cm: np.ndarray, metric: str, pos: int | None) -> np.ndarray:
    """One metric per confusion matrix in ``cm`` [b, k, k] (rows true, columns predicted)."""
    tp = np.diagonal(cm, axis1=1, axis2=2).astype(float)  # [b, k]
    support = cm.sum(axis=2)  # [b, k] true counts
    predicted = cm.sum(axis=1)  # [b, k] predicted counts
    if metric == "accuracy":
        return tp.sum(axis=1) / cm.sum(axis=(1, 2))
    recall = _safe_div(tp, support)
    if metric == "balanced_accuracy":  # mean recall over classes present, as scikit-learn
        present = support > 0
        return (recall * present).sum(axis=1) / present.sum(axis=1)
    precision = _safe_div(tp, predicted)
    f1 = _safe_div(2 * tp, support + predicted)
    by_name = {"precision": precision, "recall": recall, "f1": f1, "macro_f1": f1}
    per_class = by_name[metric]
    if pos is not None and metric != "macro_f1":
        return per_class[:, pos]
    return per_class.mean(axis=1)


def _safe_div(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """num / den with 0 where den is 0 (scikit-learn's ``zero_division=0``)."""
    return np.divide(num, den, out=np.zeros_like(num, dtype=float), where=den > 0)


def _roc_auc(y: np.ndarray, p: np.ndarray, pos: int | None) -> float | None:
    """Binary AUC on the positive column, or one-vs-rest macro over classes present in ``y``."""
    present = np.unique(y)
    if len(present) < 2:
        return None
    if pos is not None:
        return _binary_auc(y == pos, p[:, pos])
    return float(np.mean([_binary_auc(y == c, p[:, c]) for c in present]))


def _binary_auc(positive: np.ndarray, score: np.ndarray) -> float:
    """Mann-Whitney U / (n⁺·n⁻) with tied scores sharing their mean rank: the area under the
    ROC curve as scikit-learn's trapezoids give it."""
    order = np.argsort(score, kind="mergesort")
    sorted_score = score[order]
    first = np.r_[True, sorted_score[1:] != sorted_score[:-1]]  # start of each run of ties
    group = np.cumsum(first) - 1
    starts = np.flatnonzero(first)
    ends = np.r_[starts[1:], len(score)]
    ranks = np.empty(len(score))
    ranks[order] = ((starts + 1 + ends) / 2)[group]  # 1-based mean rank of each run
    n_pos = int(positive.sum())
    n_neg = len(score) - n_pos
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def _positive_index(classes: list[str], positive: str | None) -> int:
    if positive is None:
        return len(classes) - 1
    if positive not in classes:
        raise UsageError(
            f"positive class {positive!r} is not one of the classes {classes}",
            hint="pass one of the model's classes",
        )
    return classes.index(positive)


def _validate(
    y_true: Sequence[str], proba: np.ndarray, classes: Sequence[str]
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Check shapes and labels; return y as class indices, proba as float, classes as a list."""
    classes = [str(c) for c in classes]
    if len(classes) < 2 or len(set(classes)) != len(classes):
        raise UsageError(f"classes must be >= 2 distinct labels, got {classes}")
    p = np.asarray(proba, dtype=float)
    labels = [str(v) for v in y_true]
    if p.ndim != 2 or p.shape != (len(labels), len(classes)):
        raise DataError(
            f"proba must have shape [n, n_classes] = [{len(labels)}, {len(classes)}], "
            f"got {list(p.shape)}",
            hint="pass one probability column per class, in classes order",
        )
    if not labels:
        raise DataError("no rows to evaluate", hint="pass at least one labelled row")
    if not np.isfinite(p).all():
        raise DataError("proba holds NaN or infinite values", hint="check the model's outputs")
    # float32 softmax rows sum to 1 only within ~1e-7; renormalize so log loss and AUC agree.
    p = p / p.sum(axis=1, keepdims=True)
    index = {c: i for i, c in enumerate(classes)}
    unknown = sorted({v for v in labels if v not in index})
    if unknown:
        raise DataError(
            f"labels {unknown[:5]} in y_true are not among the classes {classes}",
            hint="evaluate on data labelled with the model's classes",
        )
    return np.fromiter((index[v] for v in labels), dtype=np.int64, count=len(labels)), p, classes
