"""train_classifier: it learns, stops early, is deterministic, and rejects bad inputs."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
import torch

from datawheel.config import ModelConfig, TrainConfig
from datawheel.errors import DataError, UsageError
from datawheel.train import FeatureColumns, TrainResult, train_classifier

from ._synthetic import fit, make_frame


def test_trainer_when_problem_is_learnable_then_val_accuracy_is_high(trained: TrainResult) -> None:
    best = trained.history[trained.best_epoch - 1]
    assert best["val_accuracy"] > 0.85
    assert trained.device == "cpu" and trained.precision == "fp32"
    assert set(best) >= {"epoch", "train_loss", "val_loss", "val_accuracy", "seconds"}
    assert trained.model.classes == ["no", "yes"]


def test_trainer_when_val_loss_stalls_then_it_stops_early_and_keeps_the_best() -> None:
    # noisy labels + few rows + a high learning rate: validation loss bottoms out fast
    train, val = make_frame(300, seed=3, flip=0.2), make_frame(300, seed=4, flip=0.2)
    result = fit(train, val, epochs=200, early_stopping=2, lr=0.02, schedule="none")
    assert len(result.history) < 200
    assert len(result.history) - result.best_epoch == 2
    best_loss = result.history[result.best_epoch - 1]["val_loss"]
    assert best_loss == min(h["val_loss"] for h in result.history)
    # the returned model holds the best epoch's weights, not the last ones
    proba = result.model.predict_proba(val)
    truth = (val.get_column("label") == "yes").to_numpy().astype(int)
    loss = -np.log(proba[np.arange(len(truth)), truth]).mean()
    assert loss == pytest.approx(best_loss, rel=1e-4)


def test_trainer_when_same_seed_then_identical_history() -> None:
    train, val = make_frame(600, seed=5), make_frame(200, seed=6)
    runs = [fit(train, val, epochs=3, seed=7, class_weights=True) for _ in range(2)]
    drop = [[{k: v for k, v in h.items() if k != "seconds"} for h in r.history] for r in runs]
    assert drop[0] == drop[1]
    assert (runs[0].model.predict_proba(val) == runs[1].model.predict_proba(val)).all()


@pytest.mark.parametrize(
    "options",
    [
        {"schedule": "onecycle", "label_smoothing": 0.1},  # the other schedule + smoothing
        {"schedule": "none", "grad_clip": 0.0, "class_weights": True},  # no clipping, weighted
        {"precision": "bf16"},  # CPU autocast in bfloat16
    ],
)
def test_trainer_when_options_vary_then_it_still_trains(options: dict[str, object]) -> None:
    train, val = make_frame(400, seed=8), make_frame(200, seed=9)
    result = fit(train, val, epochs=2, **options)
    assert len(result.history) == 2
    assert all(h["train_loss"] == h["train_loss"] for h in result.history)  # not NaN


def test_trainer_when_progress_is_on_then_it_trains_the_same() -> None:
    train, val = make_frame(300, seed=8), make_frame(100, seed=9)
    quiet, shown = fit(train, val, epochs=2), fit(train, val, epochs=2, progress=True)
    assert [h["val_loss"] for h in quiet.history] == [h["val_loss"] for h in shown.history]


@pytest.mark.parametrize(
    "features",
    [
        FeatureColumns(numeric=["age", "income"]),  # no categorical columns
        FeatureColumns(categorical=["color", "size"]),  # no numeric columns
    ],
)
def test_trainer_when_one_kind_of_column_is_absent_then_it_trains(
    features: FeatureColumns,
) -> None:
    result = train_classifier(
        make_frame(300, seed=1),
        make_frame(100, seed=2),
        features=features,
        target="label",
        model_config=ModelConfig(hidden=[8]),
        train_config=TrainConfig(epochs=2),
        progress=False,
    )
    assert result.model.predict_proba(make_frame(5, seed=3)).shape == (5, 2)


def test_trainer_when_target_has_one_class_then_usage_error() -> None:
    train = make_frame(50, seed=0).with_columns(pl.lit("yes").alias("label"))
    with pytest.raises(UsageError, match="at least 2 classes"):
        fit(train, make_frame(20, seed=1))


def test_trainer_when_train_is_empty_then_usage_error() -> None:
    with pytest.raises(UsageError, match="train set is empty"):
        fit(make_frame(10, seed=0).clear(), make_frame(20, seed=1))


def test_trainer_when_target_has_nulls_then_data_error() -> None:
    train = make_frame(50, seed=0).with_columns(pl.lit(None, pl.String).alias("label"))
    with pytest.raises(DataError, match="without a 'label' label"):
        fit(train, make_frame(20, seed=1))


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_trainer_when_cuda_requested_but_absent_then_usage_error_with_hint() -> None:
    with pytest.raises(UsageError, match="CUDA is not available") as info:
        fit(make_frame(50, seed=0), make_frame(20, seed=1), device="cuda")
    assert info.value.hint


def test_trainer_when_fp16_requested_on_cpu_then_usage_error() -> None:
    with pytest.raises(UsageError, match="fp16 needs CUDA"):
        fit(make_frame(50, seed=0), make_frame(20, seed=1), device="cpu", precision="fp16")
