"""assess: the primary metric with its interval, the baseline from training, the positive
class, and per-row predictions the gate can pair — for classifiers and regressors."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from datawheel.evaluate.assess import assess


class _Fixed:
    """Probabilities by row index; the training class shares travel in ``extras``."""

    def __init__(self, p_yes: np.ndarray, prior: list[float] | None = None):
        self.classes = ["no", "yes"]
        self.p = p_yes
        self.extras = {"class_prior": prior} if prior is not None else {}

    def predict_proba(self, rows: pl.DataFrame) -> np.ndarray:
        p = self.p[rows["i"].to_numpy()]
        return np.column_stack([1 - p, p])


def _frame(n: int = 400, seed: int = 0) -> tuple[pl.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.random(n) < 0.3
    p = 1 / (1 + np.exp(-(2.0 * (2 * y - 1) + rng.normal(size=n))))
    return pl.DataFrame({"i": np.arange(n), "y": np.where(y, "yes", "no")}), p


def test_assess_when_classifier_then_primary_interval_baseline_and_rows_kept():
    frame, p = _frame()
    a = assess(_Fixed(p, prior=[0.9, 0.1]), frame, target="y", sensitive=[])
    assert a.primary["metric"] == "roc_auc" and a.primary["low"] < a.primary["value"]
    assert a.primary["baseline"] == 0.5 and a.beats_baseline
    assert a.metrics["primary_metric"] == "roc_auc"
    assert a.y is not None and a.pred is not None and a.pred.shape == (400, 2)
    assert a.gap is None and "no sensitive column" in a.gated.reason


def test_assess_when_accuracy_chosen_then_baseline_is_the_training_majority():
    frame, p = _frame()
    # training said 90 % "no": always "no" scores this table's share of "no"
    a = assess(_Fixed(p, prior=[0.9, 0.1]), frame, target="y", sensitive=[], metric="accuracy")
    assert a.primary["baseline"] == pytest.approx((frame["y"] == "no").mean())
    assert a.primary["interval"] == "wilson"


@pytest.mark.parametrize("positive", ["yes", "no"])
def test_assess_when_positive_class_set_then_f1_precision_recall_are_about_it(positive):
    frame, p = _frame()
    a = assess(_Fixed(p), frame, target="y", sensitive=[], positive=positive)
    assert a.metrics["positive"] == positive
    assert a.metrics["recall"] == a.metrics["per_class"][positive]["recall"]


class _Regressor:
    """A regression model as the families give one: ``task`` and ``predict_values``."""

    task = "regression"

    def __init__(self, noise: float):
        self.classes: list[str] = []
        self.noise = noise
        self.extras = {"target_mean": 10.0}

    def predict_values(self, rows: pl.DataFrame) -> np.ndarray:
        x = rows["x"].to_numpy()
        return 2 * x + 10 + self.noise * np.random.default_rng(1).normal(size=len(x))


def test_assess_when_regressor_then_rmse_against_the_training_mean():
    rng = np.random.default_rng(0)
    x = rng.normal(size=300)
    frame = pl.DataFrame({"x": x, "y": 2 * x + 10 + 0.1 * rng.normal(size=300)})
    good = assess(_Regressor(0.1), frame, target="y", sensitive=[])
    assert good.primary["metric"] == "rmse" and good.beats_baseline
    assert good.metrics["r2"] > 0.9 and good.metrics["baseline"]["value"] == 10.0
    assert good.gap is None and "no sensitive column" in good.gated.reason
    useless = assess(_Regressor(50.0), frame, target="y", sensitive=[])
    assert not useless.beats_baseline
