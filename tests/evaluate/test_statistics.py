"""Intervals valid at small counts, and the paired test the gate relies on: its error rates."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import binomtest

from datawheel.errors import UsageError
from datawheel.evaluate.metrics import METRICS, encode_labels
from datawheel.evaluate.statistics import (
    bootstrap_ci,
    metric_interval,
    paired_bootstrap,
    resample_weights,
    wilson_interval,
)


@pytest.mark.parametrize(
    ("k", "n", "confidence"),
    [(0, 10, 0.95), (4, 4, 0.95), (37, 120, 0.95), (990, 1000, 0.99), (3, 50, 0.9)],
)
def test_wilson_interval_when_counts_then_matches_scipy(k, n, confidence) -> None:
    want = binomtest(k, n).proportion_ci(confidence_level=confidence, method="wilson")
    got = wilson_interval(k, n, confidence)
    assert got == pytest.approx((want.low, want.high), abs=1e-9)


def test_resample_weights_when_drawn_then_each_resample_has_n_rows_and_is_seeded() -> None:
    chunks = list(resample_weights(500, 30, seed=3))
    weights = np.concatenate(chunks)
    assert weights.shape == (30, 500) and (weights.sum(axis=1) == 500).all()
    assert np.array_equal(weights, np.concatenate(list(resample_weights(500, 30, seed=3))))


def _binary(n: int, skill: float, seed: int, pos_share: float = 0.3):
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < pos_share).astype(np.int64)
    logit = skill * (2 * y - 1) + rng.normal(size=n)
    p1 = 1 / (1 + np.exp(-logit))
    return y, np.column_stack([1 - p1, p1])


def test_metric_interval_when_four_predicted_positives_then_n_too_small() -> None:
    # the case: a precision "interval" of [0.975, 1.0] printed from 4 predictions
    y = np.array([1] * 4 + [0] * 96 + [1] * 20)
    p1 = np.r_[np.full(4, 0.9), np.full(116, 0.1)]
    interval = metric_interval(METRICS["precision"], y, np.column_stack([1 - p1, p1]), 1)
    assert interval.value == 1.0 and not interval.ok
    assert interval.text() == "1.0000 (n too small: 4 predicted positives < 10)"


@pytest.mark.parametrize(
    ("name", "method"),
    [
        ("accuracy", "wilson"),  # a share of rows
        ("precision", "wilson"),  # a share of predicted positives
        ("recall", "wilson"),  # a share of positives
        ("roc_auc", "bootstrap"),
        ("f1", "bootstrap"),
        ("log_loss", "bootstrap"),
    ],
)
def test_metric_interval_when_enough_rows_then_method_and_brackets_value(name, method) -> None:
    y, p = _binary(600, 1.0, seed=2)
    interval = metric_interval(METRICS[name], y, p, 1)
    assert interval.method == method
    assert interval.low < interval.value < interval.high


def test_metric_interval_when_single_class_then_auc_undefined() -> None:
    y, p = np.zeros(50, dtype=np.int64), np.full((50, 2), 0.5)
    interval = metric_interval(METRICS["roc_auc"], y, p, 1)
    assert interval.value is None and interval.method == "undefined"


def test_metric_interval_when_simulated_then_bootstrap_auc_covers_near_nominal() -> None:
    # 120 samples of 400 rows from one population; the true AUC from a very large sample
    y_big, p_big = _binary(200_000, 0.8, seed=99)
    truth = METRICS["roc_auc"].score(y_big, p_big, 1)
    hits = 0
    for seed in range(120):
        y, p = _binary(400, 0.8, seed=seed)
        interval = metric_interval(METRICS["roc_auc"], y, p, 1, n_boot=400, seed=seed)
        hits += interval.low <= truth <= interval.high
    assert 0.88 <= hits / 120 <= 0.99  # nominal 0.95; the percentile bootstrap runs a bit low


def test_paired_bootstrap_when_identical_predictions_then_tie_not_significant() -> None:
    y, p = _binary(300, 1.0, seed=1)
    test = paired_bootstrap(METRICS["roc_auc"], y, p, p.copy(), 1)
    assert test.improvement == 0 and test.lower == 0 and not test.significant
    assert test.p_value == 1.0


def test_paired_bootstrap_when_lower_is_better_then_improvement_sign_flipped() -> None:
    y, good = _binary(500, 2.0, seed=4)
    _, bad = _binary(500, 0.2, seed=4)
    test = paired_bootstrap(METRICS["log_loss"], y, bad, good, 1)
    assert test.challenger < test.reference and test.improvement > 0 and test.significant


def _pair(n: int, gain: float, seed: int):
    """Champion and challenger on the same rows: shared difficulty, their own noise, and
    ``gain`` extra skill for the challenger."""
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.3).astype(np.int64)
    sign, shared = 2 * y - 1, rng.normal(size=n)
    old = 1.0 * sign + shared + 0.5 * rng.normal(size=n)
    new = (1.0 + gain) * sign + shared + 0.5 * rng.normal(size=n)

    def proba(logit: np.ndarray) -> np.ndarray:
        p1 = 1 / (1 + np.exp(-logit))
        return np.column_stack([1 - p1, p1])

    return y, proba(old), proba(new)


def test_paired_bootstrap_when_models_equally_good_then_false_promotions_near_alpha() -> None:
    # the gate's type I error: two equally skilled models must rarely look "significant"
    promoted = 0
    for seed in range(150):
        y, old, new = _pair(300, 0.0, seed)
        test = paired_bootstrap(METRICS["roc_auc"], y, old, new, 1, n_boot=400, seed=seed)
        promoted += test.significant
    assert promoted / 150 <= 0.09  # one-sided 5 %, with Monte Carlo slack


def test_paired_bootstrap_when_challenger_truly_better_then_detected() -> None:
    detected = 0
    for seed in range(40):
        y, old, new = _pair(600, 0.6, seed)
        test = paired_bootstrap(METRICS["roc_auc"], y, old, new, 1, n_boot=400, seed=seed)
        detected += test.significant
    assert detected / 40 >= 0.9


def test_bootstrap_ci_when_text_labels_then_brackets_the_point_and_is_seeded(binary_data) -> None:
    y, proba, classes = binary_data
    for name in ("accuracy", "f1", "roc_auc"):
        low, high = bootstrap_ci(y, proba, classes, name, seed=3)
        point = metric_interval(METRICS[name], *_encoded(y, proba, classes)).value
        assert low < point < high
        assert (low, high) == bootstrap_ci(y, proba, classes, name, seed=3)
    assert bootstrap_ci(y, proba, classes, "accuracy", seed=4) != bootstrap_ci(
        y, proba, classes, "accuracy", seed=3
    )


@pytest.mark.parametrize(
    "kwargs", [{"metric": "auc"}, {"metric": "accuracy", "n_boot": 0}, {"metric": "f1", "alpha": 2}]
)
def test_bootstrap_ci_when_bad_option_then_usage_error(binary_data, kwargs) -> None:
    y, proba, classes = binary_data
    with pytest.raises(UsageError):
        bootstrap_ci(y, proba, classes, **kwargs)


def _encoded(y, proba, classes):
    codes, p, _ = encode_labels(y, proba, classes)
    return codes, p, 1
