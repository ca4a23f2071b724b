"""Metrics by name for every task, weighted so one function gives point values and bootstraps.

A :class:`Metric` scores predictions against the truth under row weights ``[b, n]``: weights of
1 give the point value, resample counts give ``b`` bootstrap replicates in one pass. The same
function therefore serves the report, the intervals (``evaluate.statistics``) and the paired
promotion gate, for any metric registered here — a new model kind or task plugs in with
:func:`register_metric`.

Conventions. Classification: ``y`` holds class indices ``[n]``, ``pred`` the probabilities
``[n, k]`` (columns in the model's class order), ``pos`` the index of the positive class for
binary problems (``None`` for multiclass: macro averages). Regression: ``y`` and ``pred`` are
floats ``[n]`` and ``pos`` is ``None``.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from datawheel.errors import DataError, UsageError

__all__ = [
    "DEFAULT_METRIC",
    "METRICS",
    "TASKS",
    "Metric",
    "baseline_prediction",
    "class_prior",
    "classification_metrics",
    "encode_labels",
    "expected_calibration_error",
    "is_imbalanced",
    "positive_index",
    "proportion_counts",
    "register_metric",
    "resolve_metric",
    "task_of",
]

Task = Literal["binary", "multiclass", "regression"]
TASKS: tuple[str, ...] = ("binary", "multiclass", "regression")

#: The primary metric when ``evaluate.metric`` is not set: threshold-free for binary, chance-
#: corrected for multiclass (a majority guess scores 1/k), error in the target's unit otherwise.
DEFAULT_METRIC = {"binary": "roc_auc", "multiclass": "balanced_accuracy", "regression": "rmse"}

#: Imbalanced: the smallest class below this share of a *balanced* share (1/k). For two
#: classes that is a minority under 20 %; ten balanced digits (10 % each) are not imbalanced.
IMBALANCE_RATIO = 0.4

WeightedScore = Callable[[np.ndarray, np.ndarray, np.ndarray, int | None], np.ndarray]
Support = Callable[[np.ndarray, np.ndarray, int | None], tuple[int, str]]
Proportion = Callable[[np.ndarray, np.ndarray, int | None], tuple[int, int]]


@dataclass(frozen=True)
class Metric:
    """One metric: how to score, which way is better, and what its precision rests on.

    ``weighted(y, pred, weights [b, n], pos)`` → ``[b]`` values (NaN where a replicate leaves
    the metric undefined, e.g. a resample without positives for AUC). ``support(y, pred, pos)``
    → (count, what it counts): the number of rows the value really rests on — positives for
    recall, predicted positives for precision — compared with the minimum count before an
    interval is printed. ``proportion`` (successes, trials) marks a metric that is a plain
    share, whose interval is Wilson's rather than a bootstrap's.
    """

    name: str
    tasks: tuple[str, ...]
    higher_is_better: bool
    weighted: WeightedScore
    support: Support
    proportion: Proportion | None = None
    description: str = ""

    def score(self, y: np.ndarray, pred: np.ndarray, pos: int | None = None) -> float:
        """The point value on all rows, each weighing 1."""
        return float(self.weighted(y, pred, np.ones((1, len(y))), pos)[0])


METRICS: dict[str, Metric] = {}


def register_metric(metric: Metric) -> Metric:
    """Add (or replace) a metric by name; every report, interval and gate can then use it."""
    unknown = set(metric.tasks) - set(TASKS)
    if unknown:
        raise UsageError(f"metric {metric.name!r}: unknown task(s) {sorted(unknown)}")
    METRICS[metric.name] = metric
    return metric


def task_of(n_classes: int | None) -> str:
    """``binary`` / ``multiclass`` for a classifier with ``n_classes``; ``regression`` for None."""
    if n_classes is None:
        return "regression"
    return "binary" if n_classes == 2 else "multiclass"


def resolve_metric(name: str | None, task: str) -> Metric:
    """The configured primary metric (or the task's default), checked against the task."""
    if task not in TASKS:
        raise UsageError(f"unknown task {task!r}", hint=f"use one of {', '.join(TASKS)}")
    chosen = name or DEFAULT_METRIC[task]
    metric = METRICS.get(chosen)
    if metric is None:
        raise UsageError(
            f"unknown metric {chosen!r}",
            where="evaluate.metric",
            hint=f"use one of {', '.join(sorted(METRICS))}",
        )
    if task not in metric.tasks:
        fits = sorted(m for m, spec in METRICS.items() if task in spec.tasks)
        raise UsageError(
            f"metric {chosen!r} does not apply to a {task} problem",
            where="evaluate.metric",
            hint=f"for {task} use one of {', '.join(fits)}",
        )
    return metric


# -- baselines and class balance ----------------------------------------------------------------


def class_prior(y: np.ndarray, n_classes: int) -> np.ndarray:
    """Class shares ``[k]`` of class indices ``y``."""
    counts = np.bincount(np.asarray(y, dtype=np.int64), minlength=n_classes).astype(float)
    return counts / max(counts.sum(), 1.0)


def is_imbalanced(prior: Sequence[float]) -> bool:
    """The smallest class share is below ``IMBALANCE_RATIO`` of a balanced share (1/k)."""
    shares = np.asarray(prior, dtype=float)
    return bool(shares.size >= 2 and shares.min() < IMBALANCE_RATIO / shares.size)


def baseline_prediction(
    n: int, *, prior: Sequence[float] | None = None, mean: float | None = None
) -> np.ndarray:
    """The trivial model's predictions for ``n`` rows: the training class shares for every row
    (its label is the majority class), or the training mean for regression."""
    if prior is not None:
        return np.tile(np.asarray(prior, dtype=float), (n, 1))  # [n, k]
    if mean is None:
        raise UsageError("a baseline needs the class prior or the target mean")
    return np.full(n, float(mean))  # [n]


# -- the weighted building blocks -----------------------------------------------------------


def _confusion(y: np.ndarray, proba: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Weighted confusion matrices ``[b, k, k]`` (rows true, columns predicted)."""
    k = proba.shape[1]
    cell = y * k + proba.argmax(axis=1)  # [n]
    out = np.zeros((weights.shape[0], k * k))
    for c in np.unique(cell):
        out[:, c] = weights[:, cell == c].sum(axis=1)
    return out.reshape(-1, k, k)


def _div(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """num / den, 0 where den is 0 (scikit-learn's ``zero_division=0``)."""
    return np.divide(num, den, out=np.zeros(np.broadcast(num, den).shape), where=den > 0)


def _rates(y: np.ndarray, proba: np.ndarray, weights: np.ndarray) -> dict[str, np.ndarray]:
    cm = _confusion(y, proba, weights)
    tp = np.diagonal(cm, axis1=1, axis2=2)  # [b, k]
    support, predicted = cm.sum(axis=2), cm.sum(axis=1)  # [b, k] true / predicted totals
    return {
        "tp": tp,
        "support": support,
        "precision": _div(tp, predicted),
        "recall": _div(tp, support),
        "f1": _div(2 * tp, support + predicted),
    }


def _per_class(rate: str) -> WeightedScore:
    """Binary: the rate of the positive class; multiclass: the macro average over classes."""

    def score(y: np.ndarray, p: np.ndarray, w: np.ndarray, pos: int | None) -> np.ndarray:
        values = _rates(y, p, w)[rate]
        return values[:, pos] if pos is not None else values.mean(axis=1)

    return score


def _macro_f1(y: np.ndarray, p: np.ndarray, w: np.ndarray, pos: int | None) -> np.ndarray:
    return _rates(y, p, w)["f1"].mean(axis=1)


def _accuracy(y: np.ndarray, p: np.ndarray, w: np.ndarray, pos: int | None) -> np.ndarray:
    correct = (p.argmax(axis=1) == y).astype(float)
    return _div(w @ correct, w.sum(axis=1))


def _balanced_accuracy(y: np.ndarray, p: np.ndarray, w: np.ndarray, pos: int | None) -> np.ndarray:
    """Mean recall over the classes present (scikit-learn's definition)."""
    r = _rates(y, p, w)
    present = r["support"] > 0
    return _div((r["recall"] * present).sum(axis=1), present.sum(axis=1).astype(float))


def _auc_one(is_pos: np.ndarray, score: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Weighted Mann–Whitney AUC ``[b]``: P(score of a positive > a negative), ties count 1/2."""
    order = np.argsort(score, kind="stable")
    s, positive, ws = score[order], is_pos[order], w[:, order]
    distinct = s[1:] != s[:-1]
    if distinct.all():  # no ties (continuous scores): no grouping needed
        wp, wn = np.where(positive, ws, 0), np.where(positive, 0, ws)  # [b, n]
    else:
        starts = np.flatnonzero(np.r_[True, distinct])  # one group per distinct score
        wp = np.add.reduceat(ws * positive, starts, axis=1)  # [b, groups]
        wn = np.add.reduceat(ws * ~positive, starts, axis=1)
    below = np.cumsum(wn, axis=1) - wn  # negatives strictly below each group
    pairs = wp.sum(axis=1) * wn.sum(axis=1)
    wins = (wp * (below + 0.5 * wn)).sum(axis=1)
    return np.divide(wins, pairs, out=np.full(len(pairs), np.nan), where=pairs > 0)


def _roc_auc(y: np.ndarray, p: np.ndarray, w: np.ndarray, pos: int | None) -> np.ndarray:
    """Binary AUC of the positive column; multiclass: one-vs-rest macro over classes in ``y``."""
    if pos is not None:
        return _auc_one(y == pos, p[:, pos], w)
    per_class = [_auc_one(y == c, p[:, c], w) for c in np.unique(y)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN replicates stay NaN
        return np.nanmean(np.stack(per_class), axis=0)


def _log_loss(y: np.ndarray, p: np.ndarray, w: np.ndarray, pos: int | None) -> np.ndarray:
    picked = np.clip(p[np.arange(len(y)), y], np.finfo(float).eps, 1.0)  # as scikit-learn
    return _div(w @ -np.log(picked), w.sum(axis=1))


def _brier(y: np.ndarray, p: np.ndarray, w: np.ndarray, pos: int | None) -> np.ndarray:
    assert pos is not None
    return _div(w @ (p[:, pos] - (y == pos)) ** 2, w.sum(axis=1))


def _rmse(y: np.ndarray, p: np.ndarray, w: np.ndarray, pos: int | None) -> np.ndarray:
    return np.sqrt(_div(w @ (np.asarray(p, float) - y) ** 2, w.sum(axis=1)))


def _mae(y: np.ndarray, p: np.ndarray, w: np.ndarray, pos: int | None) -> np.ndarray:
    return _div(w @ np.abs(np.asarray(p, float) - y), w.sum(axis=1))


def _r2(y: np.ndarray, p: np.ndarray, w: np.ndarray, pos: int | None) -> np.ndarray:
    total = w.sum(axis=1)
    mean = _div(w @ y, total)  # [b]
    ss_res = w @ (np.asarray(p, float) - y) ** 2
    ss_tot = (w * (y[None, :] - mean[:, None]) ** 2).sum(axis=1)
    return np.divide(ss_tot - ss_res, ss_tot, out=np.full(len(total), np.nan), where=ss_tot > 0)


# -- what each metric's precision rests on ----------------------------------------------------


def _rows(y: np.ndarray, p: np.ndarray, pos: int | None) -> tuple[int, str]:
    return len(y), "rows"


def _smallest_class(y: np.ndarray, p: np.ndarray, pos: int | None) -> tuple[int, str]:
    counts = np.bincount(y, minlength=p.shape[1])
    present = counts[counts > 0]
    return int(present.min()) if present.size else 0, "rows of the smallest class"


def _positives(y: np.ndarray, p: np.ndarray, pos: int | None) -> tuple[int, str]:
    if pos is None:
        return _smallest_class(y, p, pos)
    return int((y == pos).sum()), "positive rows"


def _predicted_positives(y: np.ndarray, p: np.ndarray, pos: int | None) -> tuple[int, str]:
    predicted = np.bincount(p.argmax(axis=1), minlength=p.shape[1])
    if pos is None:
        return int(predicted.min()), "predictions of the least-predicted class"
    return int(predicted[pos]), "predicted positives"


def _both_classes(y: np.ndarray, p: np.ndarray, pos: int | None) -> tuple[int, str]:
    if pos is None:
        return _smallest_class(y, p, pos)
    n_pos = int((y == pos).sum())
    return min(n_pos, len(y) - n_pos), "rows of the rarer class"


def _correct(y: np.ndarray, p: np.ndarray, pos: int | None) -> tuple[int, int]:
    return int((p.argmax(axis=1) == y).sum()), len(y)


def _precision_counts(y: np.ndarray, p: np.ndarray, pos: int | None) -> tuple[int, int]:
    assert pos is not None
    predicted = p.argmax(axis=1) == pos
    return int((predicted & (y == pos)).sum()), int(predicted.sum())


def _recall_counts(y: np.ndarray, p: np.ndarray, pos: int | None) -> tuple[int, int]:
    assert pos is not None
    actual = y == pos
    return int((actual & (p.argmax(axis=1) == pos)).sum()), int(actual.sum())


_CLS = ("binary", "multiclass")
for _metric in (
    Metric("roc_auc", _CLS, True, _roc_auc, _both_classes,
           description="area under the ROC curve (one-vs-rest macro for multiclass)"),
    Metric("balanced_accuracy", _CLS, True, _balanced_accuracy, _smallest_class,
           description="mean recall over classes; a majority guess scores 1/k"),
    Metric("macro_f1", _CLS, True, _macro_f1, _smallest_class,
           description="unweighted mean of per-class F1"),
    Metric("f1", _CLS, True, _per_class("f1"), _positives,
           description="F1 of the positive class (macro for multiclass)"),
    Metric("precision", _CLS, True, _per_class("precision"), _predicted_positives,
           proportion=None, description="precision of the positive class (macro for multiclass)"),
    Metric("recall", _CLS, True, _per_class("recall"), _positives,
           description="recall of the positive class (macro for multiclass)"),
    Metric("accuracy", _CLS, True, _accuracy, _rows, proportion=_correct,
           description="share of rows predicted right"),
    Metric("log_loss", _CLS, False, _log_loss, _rows, description="cross-entropy"),
    Metric("brier", ("binary",), False, _brier, _rows,
           description="mean squared error of the positive class's probability"),
    Metric("rmse", ("regression",), False, _rmse, _rows, description="root mean squared error"),
    Metric("mae", ("regression",), False, _mae, _rows, description="mean absolute error"),
    Metric("r2", ("regression",), True, _r2, _rows, description="coefficient of determination"),
):  # fmt: skip
    register_metric(_metric)

# Binary precision and recall are plain shares: Wilson intervals (macro averages are not).
_BINARY_PROPORTIONS: dict[str, Proportion] = {
    "precision": _precision_counts,
    "recall": _recall_counts,
}


def proportion_counts(metric: Metric, pos: int | None) -> Proportion | None:
    """The (successes, trials) function behind ``metric`` when it is a plain share, else None."""
    if metric.proportion is not None:
        return metric.proportion
    return _BINARY_PROPORTIONS.get(metric.name) if pos is not None else None


# -- the classification report ----------------------------------------------------------------


def encode_labels(
    y_true: Sequence[Any], proba: np.ndarray, classes: Sequence[str]
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Check shapes and labels; return y as class indices, proba renormalized, classes as str."""
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


def positive_index(classes: Sequence[str], positive: str | None) -> int:
    """The positive class's column: ``positive`` if given, else the last class in sorted order."""
    classes = [str(c) for c in classes]
    if positive is None:
        return len(classes) - 1
    if str(positive) not in classes:
        raise UsageError(
            f"positive class {positive!r} is not one of the classes {classes}",
            where="data.positive_class",
            hint="set data.positive_class to one of the target's values",
        )
    return classes.index(str(positive))


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
    ``positive`` class (``data.positive_class``), which defaults to ``classes[-1]`` (the usual
    "1"/"yes"/">50K" last convention, stable across datasets, unlike "the minority class").
    Multiclass: ``f1``, ``precision``, ``recall`` are macro averages, ``roc_auc`` is one-vs-rest
    macro over the classes present in ``y_true``, and ``brier`` is ``None``.
    ``roc_auc`` is ``None`` when ``y_true`` holds a single class.
    """
    y, p, classes = encode_labels(y_true, proba, classes)
    k = len(classes)
    pos = positive_index(classes, positive) if k == 2 else None
    ones = np.ones((1, len(y)))
    rates = _rates(y, p, ones)
    auc = _roc_auc(y, p, ones, pos)[0] if len(np.unique(y)) > 1 else None
    values = {name: METRICS[name].weighted(y, p, ones, pos)[0] for name in (
        "accuracy", "balanced_accuracy", "f1", "precision", "recall", "macro_f1", "log_loss",
    )}  # fmt: skip
    confusion = _confusion(y, p, ones)[0].astype(int)
    return {
        "n": len(y),
        **{name: float(v) for name, v in values.items()},
        "roc_auc": None if auc is None else float(auc),
        "brier": float(_brier(y, p, ones, pos)[0]) if pos is not None else None,
        "ece": expected_calibration_error(y, p),
        "positive": classes[pos] if pos is not None else None,
        "per_class": {
            c: {
                "precision": float(rates["precision"][0, i]),
                "recall": float(rates["recall"][0, i]),
                "f1": float(rates["f1"][0, i]),
                "support": int(rates["support"][0, i]),
            }
            for i, c in enumerate(classes)
        },
        "confusion_matrix": confusion.tolist(),
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
