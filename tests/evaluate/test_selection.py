"""Model choice on validation: the simpler model within noise, the best when clearly better."""

from __future__ import annotations

import numpy as np
import pytest

from datawheel.errors import UsageError
from datawheel.evaluate.regression import conformal_halfwidth, regression_metrics
from datawheel.evaluate.selection import primary_metric, select_model


def test_select_when_gap_within_noise_then_simpler_model() -> None:
    rng = np.random.default_rng(0)
    y = rng.normal(size=200)
    outputs = {"linear": y + rng.normal(scale=1.0, size=200),
               "gbm": y + rng.normal(scale=0.98, size=200)}  # fmt: skip
    chosen = select_model(y, outputs, metric="rmse", order=["linear", "gbm"])
    assert chosen.chosen == "linear"


def test_select_when_best_clearly_better_then_best() -> None:
    rng = np.random.default_rng(0)
    y = rng.normal(size=500)
    outputs = {"linear": y + rng.normal(scale=1.0, size=500),
               "gbm": y + rng.normal(scale=0.3, size=500)}  # fmt: skip
    chosen = select_model(y, outputs, metric="rmse", order=["linear", "gbm"])
    assert chosen.chosen == "gbm" and chosen.best == "gbm"
    linear = next(c for c in chosen.candidates if c.family == "linear")
    assert linear.gap_low > 0  # clearly worse: the paired interval excludes 0


def test_conformal_halfwidth_when_new_rows_then_covers_about_the_coverage() -> None:
    rng = np.random.default_rng(1)
    y_cal, y_new = rng.normal(size=2000), rng.normal(size=20000)
    half = conformal_halfwidth(y_cal, np.zeros(2000), coverage=0.9)
    covered = float(np.mean(np.abs(y_new) <= half))
    assert 0.88 < covered < 0.92


def test_regression_metrics_when_perfect_then_zero_error_and_baseline_worse() -> None:
    m = regression_metrics([1.0, 2.0, 3.0], [1.0, 2.0, 3.0], baseline=2.0)
    assert m["rmse"] == 0 and m["r2"] == 1 and m["baseline"]["rmse"] > 0


def test_select_when_classification_then_same_figures_as_scikit_learn_per_resample() -> None:
    """The replicates come from row weights in one pass; scikit-learn on each resample agrees."""
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(2)
    y = rng.integers(0, 2, 300)
    outputs = {
        name: np.stack([1 - p, p], axis=1)
        for name, p in (("linear", np.clip(0.5 + (y - 0.5) * 0.2 + rng.normal(0, 0.3, 300), 0, 1)),
                        ("gbm", np.clip(0.5 + (y - 0.5) * 0.4 + rng.normal(0, 0.3, 300), 0, 1)))
    }  # fmt: skip
    chosen = select_model(y, outputs, metric="roc_auc", order=["linear", "gbm"], n_boot=50)
    draws = np.random.default_rng(0)  # the selection's seed: the same resamples
    resamples = [draws.integers(0, 300, size=300) for _ in range(50)]
    for candidate in chosen.candidates:
        p = outputs[candidate.family][:, 1]
        assert candidate.value == pytest.approx(roc_auc_score(y, p))
        oracle = [roc_auc_score(y[idx], p[idx]) for idx in resamples]
        low, high = np.quantile(oracle, [0.025, 0.975])
        assert (candidate.low, candidate.high) == pytest.approx((low, high))


def test_primary_metric_when_project_sets_one_then_candidates_judged_by_it() -> None:
    """auto chooses by what the evaluation and the gate judge: the project's primary metric."""
    assert primary_metric("binary") == "roc_auc"
    assert primary_metric("multiclass", 3) == "balanced_accuracy"  # the trust default
    assert primary_metric("regression") == "rmse"
    assert primary_metric("binary", 2, "f1") == "f1"
    with pytest.raises(UsageError, match="does not apply"):
        primary_metric("regression", 0, "roc_auc")
