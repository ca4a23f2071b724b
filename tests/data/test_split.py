"""Splits that cannot leak: one subject or one duplicated record never spans two parts, and a
time split trains on the past only."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from datawheel.config import DedupConfig
from datawheel.data.clean import duplicate_labels
from datawheel.data.split import assign_parts, split_frame
from datawheel.errors import DataError


def _frame(n: int = 3000, seed: int = 0) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    subjects = rng.integers(0, 700, n)  # ~4 rows per subject
    return pl.DataFrame(
        {
            "person": [f"P{s}" for s in subjects],
            "day": rng.integers(0, 365, n),
            "x": rng.normal(size=n),
            "y": rng.choice(["no", "yes"], size=n, p=[0.85, 0.15]),
        }
    )


def _parts_of(frame: pl.DataFrame, part: np.ndarray, column: str) -> pl.DataFrame:
    return (
        frame.with_columns(pl.Series("part", part)).group_by(column).agg(pl.col("part").n_unique())
    )


def test_assign_parts_when_grouped_by_subject_then_no_subject_spans_parts() -> None:
    frame = _frame()
    part, info = assign_parts(frame, target="y", val_fraction=0.15, test_fraction=0.2, seed=1,
                              group="person")  # fmt: skip
    assert (_parts_of(frame, part, "person")["part"] == 1).all()
    assert info.method == "grouped" and info.group_column == "person"
    assert sum(info.rows.values()) == frame.height
    shares = {k: v / frame.height for k, v in info.rows.items()}
    assert shares["test"] == pytest.approx(0.2, abs=0.03)  # fractions of rows, roughly kept
    assert shares["val"] == pytest.approx(0.15, abs=0.03)
    for k in range(3):  # stratified: each part keeps the class balance
        yes = (frame["y"].filter(pl.Series(part == k)) == "yes").mean()
        assert yes == pytest.approx(0.15, abs=0.04)
    assert "grouped by person" in info.describe()


def test_assign_parts_when_seeded_then_reproducible() -> None:
    frame = _frame()
    first, _ = assign_parts(frame, target="y", val_fraction=0.15, test_fraction=0.2, seed=3)
    again, _ = assign_parts(frame, target="y", val_fraction=0.15, test_fraction=0.2, seed=3)
    other, _ = assign_parts(frame, target="y", val_fraction=0.15, test_fraction=0.2, seed=4)
    assert np.array_equal(first, again) and not np.array_equal(first, other)


def test_assign_parts_when_time_then_nothing_after_a_cutoff_is_trained_on() -> None:
    frame = _frame()
    part, info = assign_parts(frame, target="y", val_fraction=0.15, test_fraction=0.2, seed=0,
                              group="person", time="day")  # fmt: skip
    assert info.method == "time" and (_parts_of(frame, part, "person")["part"] == 1).all()
    last = (
        frame.with_columns(pl.Series("part", part))
        .group_by("person")
        .agg(pl.col("day").max(), pl.col("part").first())
    )
    train_end = last.filter(pl.col("part") == 0)["day"].max()
    val_end = last.filter(pl.col("part") == 1)["day"]
    test_end = last.filter(pl.col("part") == 2)["day"]
    # every training subject's last visit precedes every later part's cut-off
    assert train_end < val_end.min() <= val_end.max() < test_end.min()
    assert info.time_cutoffs["test"] == str(test_end.min())
    assert "trained on day <" in info.describe()


def test_assign_parts_when_time_has_ties_then_one_instant_never_straddles_parts() -> None:
    frame = _frame().with_columns((pl.col("day") // 30).alias("month"))  # 13 distinct values
    part, _ = assign_parts(frame, target="y", val_fraction=0.15, test_fraction=0.2, seed=0,
                           time="month")  # fmt: skip
    assert (_parts_of(frame, part, "month")["part"] == 1).all()


@pytest.mark.parametrize(
    ("column", "message"),
    [
        (pl.Series("when", ["2024-01-01"] * 2999 + [None]), "missing values"),
        (pl.Series("when", ["2024-01-01"] * 2999 + ["soon"]), "not a date"),
        (pl.Series("when", [1] * 3000), "too few distinct values"),
    ],
)
def test_assign_parts_when_time_column_unusable_then_data_error(column, message) -> None:
    frame = _frame().with_columns(column)
    with pytest.raises(DataError, match=message):
        assign_parts(frame, target="y", val_fraction=0.15, test_fraction=0.2, seed=0,
                     time="when")  # fmt: skip


def test_assign_parts_when_records_duplicated_under_other_ids_then_copies_share_a_part() -> None:
    rng = np.random.default_rng(5)
    base = pl.DataFrame({"x": rng.permutation(10_000)[:400], "y": rng.choice(["a", "b"], 400)})
    copies = base.head(100)  # the same records again …
    frame = pl.concat([base, copies]).with_columns(  # … each filed under a new subject id
        pl.Series("person", [f"P{i}" for i in range(500)])
    )
    labels = duplicate_labels(frame, DedupConfig(), ignore=["person"])
    part, info = assign_parts(frame, target="y", val_fraction=0.15, test_fraction=0.2, seed=0,
                              group="person", duplicates=labels)  # fmt: skip
    assert np.array_equal(part[:100], part[400:])  # each copy sits with its original
    assert info.duplicate_rows_grouped == 100


def test_split_frame_when_called_then_three_frames_in_input_order() -> None:
    frame = _frame().with_row_index("i")
    train, val, test = split_frame(frame, target="y", val_fraction=0.15, test_fraction=0.2,
                                   seed=0, group="person")  # fmt: skip
    assert train.height + val.height + test.height == frame.height
    for part in (train, val, test):
        assert part["i"].is_sorted()
