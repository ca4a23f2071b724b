"""classification_metrics and the metric registry, checked against scikit-learn."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn import metrics as skm

from datawheel.config import METRIC_NAMES, parse_config
from datawheel.errors import ConfigError, DataError, UsageError
from datawheel.evaluate.metrics import (
    DEFAULT_METRIC,
    METRICS,
    baseline_prediction,
    class_prior,
    classification_metrics,
    expected_calibration_error,
    is_imbalanced,
    resolve_metric,
)


def random_proba(n: int, k: int, seed: int) -> np.ndarray:
    """Rows of a Dirichlet draw: valid, varied probabilities in [n, k]."""
    return np.random.default_rng(seed).dirichlet(np.ones(k), size=n)


def _random_case(k: int, n: int = 400, seed: int = 0) -> tuple[list[str], np.ndarray, list[str]]:
    classes = [f"c{i}" for i in range(k)]
    proba = random_proba(n, k, seed)
    y = np.random.default_rng(seed + 100).choice(classes, size=n).tolist()
    return y, proba, classes


@pytest.mark.parametrize("k", [2, 3, 5])  # binary, small and wider multiclass
def test_classification_metrics_when_random_data_then_matches_sklearn(k: int) -> None:
    y, proba, classes = _random_case(k)
    got = classification_metrics(y, proba, classes)
    pred = np.array(classes)[proba.argmax(axis=1)]
    avg = {"average": "binary", "pos_label": classes[-1]} if k == 2 else {"average": "macro"}
    assert got["n"] == len(y)
    assert got["accuracy"] == skm.accuracy_score(y, pred)
    assert got["balanced_accuracy"] == pytest.approx(skm.balanced_accuracy_score(y, pred))
    assert got["f1"] == pytest.approx(skm.f1_score(y, pred, labels=classes, **avg), abs=1e-12)
    assert got["precision"] == pytest.approx(
        skm.precision_score(y, pred, labels=classes, zero_division=0, **avg), abs=1e-12
    )
    assert got["recall"] == pytest.approx(skm.recall_score(y, pred, labels=classes, **avg))
    assert got["macro_f1"] == pytest.approx(skm.f1_score(y, pred, average="macro"))
    assert got["log_loss"] == pytest.approx(skm.log_loss(y, proba, labels=classes), abs=1e-12)
    if k == 2:
        y01 = np.array(y) == classes[-1]
        assert got["roc_auc"] == pytest.approx(skm.roc_auc_score(y01, proba[:, 1]), abs=1e-12)
        assert got["brier"] == pytest.approx(skm.brier_score_loss(y01, proba[:, 1]), abs=1e-12)
    else:
        want = skm.roc_auc_score(y, proba, multi_class="ovr", average="macro", labels=classes)
        assert got["roc_auc"] == pytest.approx(want, abs=1e-12)
        assert got["brier"] is None
    assert got["confusion_matrix"] == skm.confusion_matrix(y, pred, labels=classes).tolist()
    assert sum(v["support"] for v in got["per_class"].values()) == len(y)
    json.dumps(got, allow_nan=False)  # plain JSON types only


def test_classification_metrics_when_positive_given_then_scores_that_class() -> None:
    y, proba, classes = _random_case(2)
    got = classification_metrics(y, proba, classes, positive="c0")
    pred = np.array(classes)[proba.argmax(axis=1)]
    assert got["positive"] == "c0"
    assert got["f1"] == pytest.approx(skm.f1_score(y, pred, pos_label="c0"))
    y0 = np.array(y) == "c0"
    assert got["roc_auc"] == pytest.approx(skm.roc_auc_score(y0, proba[:, 0]))


@pytest.mark.parametrize("k", [2, 3])
def test_classification_metrics_when_one_class_present_then_auc_none(k: int) -> None:
    _, proba, classes = _random_case(k, n=50)
    got = classification_metrics(["c1"] * 50, proba, classes)
    assert got["roc_auc"] is None
    assert 0 <= got["accuracy"] <= 1
    json.dumps(got, allow_nan=False)


def test_classification_metrics_when_multiclass_class_absent_then_auc_over_present() -> None:
    # class c2 never occurs in y_true: AUC averages the one-vs-rest scores of c0 and c1
    proba = random_proba(200, 3, seed=4)
    y = np.random.default_rng(5).choice(["c0", "c1"], size=200)
    got = classification_metrics(y.tolist(), proba, ["c0", "c1", "c2"])
    want = np.mean([skm.roc_auc_score(y == c, proba[:, i]) for i, c in enumerate(["c0", "c1"])])
    assert got["roc_auc"] == pytest.approx(want)


@pytest.mark.parametrize(
    ("y", "proba", "classes", "positive", "error"),
    [
        (["a", "b"], np.ones((3, 2)) / 2, ["a", "b"], None, DataError),  # row count mismatch
        (["a", "b"], np.ones((2, 3)) / 3, ["a", "b"], None, DataError),  # column count mismatch
        (["a", "z"], np.ones((2, 2)) / 2, ["a", "b"], None, DataError),  # unknown label
        ([], np.ones((0, 2)), ["a", "b"], None, DataError),  # nothing to score
        (["a", "b"], np.full((2, 2), np.nan), ["a", "b"], None, DataError),  # NaN scores
        (["a", "b"], np.ones((2, 2)) / 2, ["a", "b"], "c", UsageError),  # unknown positive
        (["a"], np.ones((1, 1)), ["a"], None, UsageError),  # a single class
    ],
)
def test_classification_metrics_when_bad_input_then_raises(y, proba, classes, positive, error):
    with pytest.raises(error):
        classification_metrics(y, proba, classes, positive=positive)


def test_ece_when_perfectly_calibrated_then_small() -> None:
    rng = np.random.default_rng(0)
    p = rng.random(50_000)
    y = (rng.random(50_000) < p).astype(int)  # P(y=1 | p) = p
    assert expected_calibration_error(y, np.column_stack([1 - p, p])) < 0.05


def test_ece_when_overconfident_then_large() -> None:
    rng = np.random.default_rng(0)
    p = rng.random(50_000)
    y = (rng.random(50_000) < p).astype(int)
    sharp = np.where(p > 0.5, 0.99, 0.01)  # claims near-certainty; true accuracy is ~75%
    assert expected_calibration_error(y, np.column_stack([1 - sharp, sharp])) > 0.2


def _sklearn(name: str, y: np.ndarray, p: np.ndarray, pos: int | None, w: np.ndarray) -> float:
    """The scikit-learn value of a registered metric, rows weighted by ``w``."""
    if name in ("rmse", "mae", "r2"):
        fn = {
            "rmse": lambda: np.sqrt(skm.mean_squared_error(y, p, sample_weight=w)),
            "mae": lambda: skm.mean_absolute_error(y, p, sample_weight=w),
            "r2": lambda: skm.r2_score(y, p, sample_weight=w),
        }[name]
        return float(fn())
    pred = p.argmax(axis=1)
    labels = list(range(p.shape[1]))
    avg = {"average": "binary", "pos_label": pos} if pos is not None else {"average": "macro"}
    if name == "roc_auc":
        if pos is not None:
            return float(skm.roc_auc_score(y == pos, p[:, pos], sample_weight=w))
        present = np.unique(y)
        return float(
            np.mean([skm.roc_auc_score(y == c, p[:, c], sample_weight=w) for c in present])
        )
    return float(
        {
            "accuracy": lambda: skm.accuracy_score(y, pred, sample_weight=w),
            "balanced_accuracy": lambda: skm.balanced_accuracy_score(y, pred, sample_weight=w),
            "f1": lambda: skm.f1_score(y, pred, labels=labels, sample_weight=w, **avg),
            "precision": lambda: skm.precision_score(
                y, pred, labels=labels, sample_weight=w, zero_division=0, **avg
            ),
            "recall": lambda: skm.recall_score(y, pred, labels=labels, sample_weight=w, **avg),
            "macro_f1": lambda: skm.f1_score(y, pred, average="macro", sample_weight=w),
            "log_loss": lambda: skm.log_loss(y, p, labels=labels, sample_weight=w),
            "brier": lambda: skm.brier_score_loss(y == pos, p[:, pos], sample_weight=w),
        }[name]()
    )


def _task_case(task: str, n: int = 300, seed: int = 0):
    rng = np.random.default_rng(seed)
    if task == "regression":
        y = rng.normal(size=n)
        return y, y + rng.normal(scale=0.5, size=n), None
    k = 2 if task == "binary" else 4
    p = rng.dirichlet(np.ones(k), size=n)
    p[: n // 3, 0] = np.round(p[: n // 3, 0], 1)  # ties in the scores, as real models give
    p /= p.sum(axis=1, keepdims=True)
    return rng.integers(0, k, size=n), p, (1 if k == 2 else None)


@pytest.mark.parametrize(("name", "task"), [(m.name, t) for m in METRICS.values() for t in m.tasks])
def test_metric_when_weighted_by_resample_counts_then_equals_sklearn_with_sample_weight(
    name: str, task: str
) -> None:
    # one weighted pass scores many bootstrap resamples: each must equal scikit-learn's value
    y, p, pos = _task_case(task)
    rng = np.random.default_rng(1)
    weights = np.stack([np.ones(len(y)), *(rng.poisson(1.0, len(y)) for _ in range(3))])
    got = METRICS[name].weighted(y, p, weights, pos)
    for row, value in zip(weights, got, strict=True):
        assert value == pytest.approx(_sklearn(name, y, p, pos, row), abs=1e-9)


def test_metric_names_when_config_validates_then_they_are_the_registry() -> None:
    assert set(METRIC_NAMES) == set(METRICS)
    with pytest.raises(ConfigError, match="did you mean 'roc_auc'"):
        parse_config({"name": "p", "data": {"source": "a.csv", "target": "y"},
                      "evaluate": {"metric": "auc"}})  # fmt: skip


@pytest.mark.parametrize(
    ("name", "task", "want"),
    [
        (None, "binary", "roc_auc"),  # threshold-free by default
        (None, "multiclass", "balanced_accuracy"),  # a majority guess scores 1/k
        (None, "regression", "rmse"),
        ("accuracy", "binary", "accuracy"),  # accuracy only when chosen
        ("macro_f1", "multiclass", "macro_f1"),
    ],
)
def test_resolve_metric_when_task_then_default_or_chosen(name, task, want) -> None:
    assert resolve_metric(name, task).name == want
    assert DEFAULT_METRIC[task] in METRICS


@pytest.mark.parametrize(
    ("name", "task"), [("brier", "multiclass"), ("rmse", "binary"), ("roc_auc", "regression")]
)
def test_resolve_metric_when_metric_does_not_fit_task_then_usage_error(name, task) -> None:
    with pytest.raises(UsageError, match=f"does not apply to a {task}"):
        resolve_metric(name, task)


@pytest.mark.parametrize(
    ("shares", "imbalanced"),
    [
        ([0.8, 0.2], False),  # 20 % minority: the boundary is not imbalanced
        ([0.81, 0.19], True),  # under 20 %
        ([0.1] * 10, False),  # ten balanced classes of 10 % each
        ([0.5, 0.3, 0.15, 0.05], True),  # 5 % against a balanced 25 %
    ],
)
def test_is_imbalanced_when_shares_then_relative_to_a_balanced_share(shares, imbalanced) -> None:
    assert is_imbalanced(shares) is imbalanced


def test_baseline_when_training_prior_then_majority_accuracy_and_auc_half() -> None:
    y = np.array([0] * 90 + [1] * 10)
    prior = class_prior(np.array([0] * 8 + [1] * 2), 2)  # training shares 80 / 20
    base = baseline_prediction(len(y), prior=prior)
    assert METRICS["accuracy"].score(y, base, 1) == 0.9  # always the training majority
    assert METRICS["roc_auc"].score(y, base, 1) == 0.5
    assert METRICS["balanced_accuracy"].score(y, base, 1) == 0.5
    assert baseline_prediction(3, mean=2.5).tolist() == [2.5, 2.5, 2.5]


def test_classification_metrics_when_probability_zero_then_log_loss_clipped_as_sklearn() -> None:
    proba = np.array([[1.0, 0.0], [0.0, 1.0], [0.5, 0.5]])
    got = classification_metrics(["b", "b", "a"], proba, ["a", "b"])
    assert got["log_loss"] == pytest.approx(
        skm.log_loss(["b", "b", "a"], proba, labels=["a", "b"]), abs=1e-12
    )
