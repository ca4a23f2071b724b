"""Model choice on validation: the simpler model within noise, the best when clearly better."""

from __future__ import annotations

import numpy as np

from datawheel.evaluate.regression import conformal_halfwidth, regression_metrics
from datawheel.evaluate.selection import select_model


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
