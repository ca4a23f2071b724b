"""Seeded augmentation of training rows."""

from __future__ import annotations

import numpy as np
import polars as pl

from datawheel.config import AugmentConfig
from datawheel.data.augment import augment, perturb_text

FRAME = pl.DataFrame(
    {
        "age": [20, 35, 50, None],
        "hours": [10.0, 40.0, 60.0, 45.0],
        "job": ["Private", "Gov", "Private", "Self"],
        "note": ["the quick brown fox", "hello", None, "two words"],
        "label": [0, 1, 0, 1],
    }
)
CONFIG = AugmentConfig(copies=2, numeric_noise=0.5)


def run(seed: int) -> pl.DataFrame:
    return augment(FRAME, CONFIG, numeric=["age", "hours"], text=["note"], seed=seed)


def test_augment_when_same_seed_then_same_rows() -> None:
    assert run(7).equals(run(7))
    assert not run(7).equals(run(8))


def test_augment_when_copies_then_originals_first_and_categoricals_untouched() -> None:
    out = run(0)
    assert out.height == 12 and out.schema == FRAME.schema
    assert out.head(4).equals(FRAME)
    assert out["job"].to_list() == FRAME["job"].to_list() * 3
    assert out["label"].to_list() == FRAME["label"].to_list() * 3
    assert out["age"].to_list()[7] is None  # missing stays missing


def test_augment_when_noise_then_numerics_move() -> None:
    copies = run(0).tail(8)
    assert copies["hours"].to_list() != FRAME["hours"].to_list() * 2


def test_augment_when_zero_copies_then_frame_unchanged() -> None:
    out = augment(FRAME, AugmentConfig(), numeric=["age"], text=["note"], seed=0)
    assert out.equals(FRAME)


def test_perturb_text_when_words_then_one_fewer_same_vocabulary() -> None:
    rng = np.random.default_rng(0)
    out = perturb_text("a b c d", rng)
    assert out is not None and len(out.split()) == 3 and set(out.split()) <= {"a", "b", "c", "d"}
    assert perturb_text("single", rng) == "single" and perturb_text(None, rng) is None
