"""Checkpoints and resume: an interrupted run continues to exactly the uninterrupted result."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from datawheel.train.checkpoint import load_checkpoint

from ._synthetic import fit, make_frame

TRAIN, VAL = make_frame(600, seed=11), make_frame(200, seed=12)


class Interrupted(Exception):
    """Stands in for a crash between two epochs."""


def _metrics(history: list[dict[str, float]]) -> list[tuple[float, ...]]:
    return [(h["epoch"], h["train_loss"], h["val_loss"], h["val_accuracy"]) for h in history]


@pytest.mark.parametrize(
    "crash_after",
    [
        1,  # right after the first checkpoint
        4,  # late: scheduler, optimizer moments and RNG streams all advanced
    ],
)
def test_resume_when_interrupted_then_identical_history_and_weights(
    tmp_path: Path, crash_after: int
) -> None:
    options = {"epochs": 6, "early_stopping": 0, "batch_size": 64}
    reference = fit(TRAIN, VAL, **options)

    path = tmp_path / "last.pt"

    def crash(row: dict[str, float]) -> None:
        if row["epoch"] == crash_after + 1:
            raise Interrupted  # before epoch crash_after + 1 is checkpointed

    with pytest.raises(Interrupted):
        fit(TRAIN, VAL, checkpoint_path=path, on_epoch=crash, **options)
    assert load_checkpoint(path)["epoch"] == crash_after

    resumed = fit(TRAIN, VAL, checkpoint_path=path, resume=True, **options)
    assert resumed.resumed_from == crash_after
    assert _metrics(resumed.history) == _metrics(reference.history)
    for name, tensor in reference.model.network.state_dict().items():
        assert torch.equal(tensor, resumed.model.network.state_dict()[name]), name


def test_checkpoint_when_written_then_self_describing_and_unwrapped(tmp_path: Path) -> None:
    path = tmp_path / "last.pt"
    fit(TRAIN, VAL, epochs=2, checkpoint_path=path, fingerprint="abc")
    state = load_checkpoint(path)
    assert state["epoch"] == 2 and state["done"] is True
    assert not any(k.startswith(("module.", "_orig_mod.")) for k in state["model"])
    for key in ("optimizer", "scheduler", "scaler", "rng", "best_state", "stale", "history"):
        assert key in state, key
    assert {"python", "numpy_key", "torch", "data_order"} <= set(state["rng"])
    assert state["fingerprint"] == "abc" and '"numeric"' in state["preprocessor"]
    assert not list(tmp_path.glob(".*.tmp"))  # the temp file was renamed away


def test_resume_when_checkpoint_is_finished_then_same_model_without_training(
    tmp_path: Path,
) -> None:
    path = tmp_path / "last.pt"
    first = fit(TRAIN, VAL, epochs=3, checkpoint_path=path)
    again = fit(TRAIN, VAL, epochs=3, checkpoint_path=path, resume=True)
    assert _metrics(again.history) == _metrics(first.history)
    rows = VAL.head(20)
    assert (again.model.predict_proba(rows) == first.model.predict_proba(rows)).all()


def test_grad_accumulation_when_two_halves_then_matches_one_full_batch() -> None:
    train = make_frame(512, seed=13)  # divisible by both batch sizes: no ragged tail
    options = {"epochs": 3, "early_stopping": 0, "schedule": "none", "grad_clip": 0.0}
    full = fit(train, VAL, batch_size=128, dropout=0.0, **options)
    halves = fit(train, VAL, batch_size=64, grad_accumulation=2, dropout=0.0, **options)
    for a, b in zip(full.history, halves.history, strict=True):
        assert a["val_loss"] == pytest.approx(b["val_loss"], rel=1e-4)
