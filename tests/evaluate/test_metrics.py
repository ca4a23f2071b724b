"""classification_metrics and bootstrap_ci, checked against scikit-learn."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn import metrics as skm

from datawheel.errors import DataError, UsageError
from datawheel.evaluate.metrics import (
    BOOTSTRAP_METRICS,
    _binary_auc,
    _metric_from_confusion,
    bootstrap_ci,
    classification_metrics,
    expected_calibration_error,
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


@pytest.mark.parametrize("decimals", [1, 2, 6])  # many ties, a few, almost none
def test_binary_auc_when_scores_tie_then_matches_sklearn(decimals: int) -> None:
    rng = np.random.default_rng(decimals)
    score = np.round(rng.random(500), decimals)
    positive = rng.random(500) < 0.3 + 0.4 * score  # informative, not perfect
    assert _binary_auc(positive, score) == pytest.approx(
        skm.roc_auc_score(positive, score), abs=1e-12
    )


def test_classification_metrics_when_probability_zero_then_log_loss_clipped_as_sklearn() -> None:
    proba = np.array([[1.0, 0.0], [0.0, 1.0], [0.5, 0.5]])
    got = classification_metrics(["b", "b", "a"], proba, ["a", "b"])
    assert got["log_loss"] == pytest.approx(
        skm.log_loss(["b", "b", "a"], proba, labels=["a", "b"]), abs=1e-12
    )


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


@pytest.mark.parametrize("k", [2, 4])
@pytest.mark.parametrize("metric", BOOTSTRAP_METRICS)
def test_metric_from_confusion_when_full_sample_then_equals_classification_metrics(k, metric):
    # the bootstrap's fast formulas must agree with the scikit-learn-backed point estimates
    y, proba, classes = _random_case(k, n=300, seed=k)
    point = classification_metrics(y, proba, classes)
    cm = np.array(point["confusion_matrix"])[None]
    got = _metric_from_confusion(cm, metric, 1 if k == 2 else None)[0]
    assert got == pytest.approx(point[metric], abs=1e-12)


def test_bootstrap_ci_when_called_then_brackets_point_and_is_reproducible(binary_data) -> None:
    y, proba, classes = binary_data
    point = classification_metrics(y, proba, classes)
    for metric in ("accuracy", "f1"):
        low, high = bootstrap_ci(y, proba, classes, metric, seed=3)
        assert low < point[metric] < high
        assert (low, high) == bootstrap_ci(y, proba, classes, metric, seed=3)
    assert bootstrap_ci(y, proba, classes, "accuracy", seed=4) != bootstrap_ci(
        y, proba, classes, "accuracy", seed=3
    )


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"metric": "auc"}, UsageError),  # not resampled by confusion matrices
        ({"metric": "accuracy", "n_boot": 0}, UsageError),
        ({"metric": "accuracy", "alpha": 1.5}, UsageError),
    ],
)
def test_bootstrap_ci_when_bad_option_then_usage_error(binary_data, kwargs, error) -> None:
    y, proba, classes = binary_data
    with pytest.raises(error):
        bootstrap_ci(y, proba, classes, **kwargs)
