"""Cleaning steps: exact dedup, missing values, outliers, rules, and their statistics."""

from __future__ import annotations

import polars as pl
import pytest

from datawheel.config import CleanConfig, MissingConfig, OutliersConfig, RuleConfig
from datawheel.data.clean import ExactDedup, MissingValues, Outliers, clean_frame
from datawheel.errors import DataError

OFF = {"missing": MissingConfig(numeric="none", categorical="none")}
NO_OUTLIERS = OutliersConfig(method="none")


def test_exact_dedup_when_text_differs_by_width_space_case_then_duplicate() -> None:
    frame = pl.DataFrame(
        {
            "id": [1, 2, 3, 4],  # different subject ids: ignored in the comparison
            "msg": ["Ｈｅｌｌｏ  World", " hello world", "hello there", "HELLO\u3000WORLD "],
            "n": [1, 1, 1, 1],
        }
    )
    kept, stats = ExactDedup(ignore=["id"]).apply(frame)
    assert kept["id"].to_list() == [1, 3]  # the first of each cluster, in input order
    assert stats.dropped == {"exact_duplicate": 2}


@pytest.mark.parametrize(
    ("ignore", "kept"),
    [
        (["id"], 1),  # id ignored: same content twice
        ([], 2),  # id compared: different rows
    ],
)
def test_exact_dedup_when_id_ignored_or_not_then_rows_kept(ignore: list[str], kept: int) -> None:
    frame = pl.DataFrame({"id": [1, 2], "a": ["x", "X"], "b": [None, None]})
    assert ExactDedup(ignore).apply(frame)[0].height == kept


def test_exact_dedup_when_numbers_differ_then_kept() -> None:
    frame = pl.DataFrame({"a": ["x", "x"], "b": [1.0, 1.5]})
    assert ExactDedup().apply(frame)[0].height == 2


def _nan_as_text(values: list) -> list:
    """NaN != NaN, so compare it as text."""
    return ["nan" if v != v else v for v in values]


MISSING = pl.DataFrame(
    {
        "n": [1, None, 3, 10, None],
        "f": [1.0, float("nan"), 2.0, None, 4.0],
        "c": ["b", None, "a", "a", "b"],
        "y": [0, 1, None, 1, 0],
    }
)


@pytest.mark.parametrize(
    ("strategy", "n", "f"),
    [
        ("median", [1, 3, 3, 10, 3], [1.0, 2.0, 2.0, 2.0, 4.0]),  # median; NaN counts as missing
        ("mean", [1, 5, 3, 10, 5], [1.0, 2.333, 2.0, 2.333, 4.0]),  # int column rounds 4.67 -> 5
        ("most_frequent", [1, 1, 3, 10, 1], [1.0, 1.0, 2.0, 1.0, 4.0]),  # ties -> smallest
        ("constant", [1, 7, 3, 10, 7], [1.0, 7.0, 2.0, 7.0, 4.0]),  # fill_value
        ("ffill", [1, 1, 3, 10, 10], [1.0, 1.0, 2.0, 2.0, 4.0]),  # previous value
        ("none", [1, None, 3, 10, None], [1.0, float("nan"), 2.0, None, 4.0]),  # untouched
    ],
)
def test_missing_when_numeric_strategy_then_filled(strategy: str, n: list, f: list) -> None:
    config = MissingConfig(numeric=strategy, categorical="none", fill_value=7)
    out, stats = MissingValues(config, numeric=["n", "f"]).apply(MISSING)
    assert out["n"].to_list() == n
    assert _nan_as_text(out["f"].round(3).to_list()) == _nan_as_text(f)
    assert out["n"].dtype == pl.Int64
    assert stats.imputed == ({} if strategy == "none" else {"n": 2, "f": 2})


def test_missing_when_numeric_drop_then_rows_counted() -> None:
    config = MissingConfig(numeric="drop", categorical="none")
    out, stats = MissingValues(config, numeric=["n", "f"]).apply(MISSING)
    assert out["n"].to_list() == [1, 3]
    assert stats.dropped == {"missing_value": 3}


@pytest.mark.parametrize(
    ("strategy", "expected", "dropped"),
    [
        ("most_frequent", ["b", "a", "a", "a", "b"], 0),  # tie a/b -> "a" (smallest)
        ("constant", ["b", "unknown", "a", "a", "b"], 0),  # fill_value
        ("ffill", ["b", "b", "a", "a", "b"], 0),  # previous value
        ("drop", ["b", "a", "a", "b"], 1),  # the row goes
        ("none", ["b", None, "a", "a", "b"], 0),  # untouched
    ],
)
def test_missing_when_categorical_strategy_then_filled(
    strategy: str, expected: list, dropped: int
) -> None:
    config = MissingConfig(numeric="none", categorical=strategy, fill_value="unknown")
    out, stats = MissingValues(config, categorical=["c"]).apply(MISSING)
    assert out["c"].to_list() == expected
    assert stats.dropped.get("missing_value", 0) == dropped


def test_missing_when_target_null_then_row_dropped_as_missing_target() -> None:
    out, stats = MissingValues(MissingConfig(), target="y").apply(MISSING)
    assert out.height == 4 and stats.dropped == {"missing_target": 1}


def test_missing_when_constant_without_value_then_data_error() -> None:
    config = MissingConfig(numeric="constant")
    with pytest.raises(DataError, match=r"clean\.missing\.fill_value"):
        MissingValues(config, numeric=["n"]).apply(MISSING)


def test_missing_when_text_column_then_empty_string() -> None:
    frame = pl.DataFrame({"t": ["a", None]})
    out, stats = MissingValues(MissingConfig(), text=["t"]).apply(frame)
    assert out["t"].to_list() == ["a", ""] and stats.imputed == {"t": 1}


# x = 1..39 plus 1000: q1 = 10.75, q3 = 30.25 (linear), IQR = 19.5, fences [-18.5, 59.5].
IQR_FRAME = pl.DataFrame({"x": [*map(float, range(1, 40)), 1000.0], "k": [*range(1, 40), 1000]})


def test_outliers_when_iqr_clip_then_bounds_match_hand_computation() -> None:
    out, stats = Outliers(OutliersConfig(), numeric=["x", "k"]).apply(IQR_FRAME)
    assert stats.outlier_bounds["x"] == pytest.approx((-18.5, 59.5))
    assert out["x"].to_list()[-1] == 59.5
    assert out["k"].to_list()[-1] == 59 and out["k"].dtype == pl.Int64  # whole numbers stay
    assert stats.outliers == {"x": 1, "k": 1} and stats.outlier_action == "clip"
    assert out["x"].to_list()[:39] == IQR_FRAME["x"].to_list()[:39]


def test_outliers_when_too_many_beyond_bounds_then_skipped() -> None:
    spiky = pl.DataFrame({"h": [40] * 40 + [45] * 45 + [10, 20, 60, 70, 80] * 3})  # 15% out
    out, stats = Outliers(OutliersConfig(), numeric=["h"]).apply(spiky)
    assert out.equals(spiky)
    assert "15.0% of values lie beyond" in stats.skipped["h"]


def test_outliers_when_zero_iqr_then_column_skipped_and_reported() -> None:
    capital_gain = [0] * 90 + [5000, 7000, 99999] + [0] * 7
    frame = pl.DataFrame({"capital_gain": capital_gain})
    out, stats = Outliers(OutliersConfig(), numeric=["capital_gain"]).apply(frame)
    assert out["capital_gain"].to_list() == capital_gain  # the feature survives
    assert "IQR is 0" in stats.skipped["capital_gain"]
    assert stats.outliers == {}


def test_outliers_when_zscore_drop_then_rows_counted() -> None:
    values = [10.0] * 20 + [11.0] * 20 + [50.0]
    frame = pl.DataFrame({"v": values, "other": list(range(41))})
    config = OutliersConfig(method="zscore", factor=3.0, action="drop")
    out, stats = Outliers(config, numeric=["v"]).apply(frame)
    assert out.height == 40 and 50.0 not in out["v"].to_list()
    assert stats.dropped == {"outlier": 1} and stats.outliers == {"v": 1}


def test_outliers_when_flag_then_boolean_column_added() -> None:
    out, _ = Outliers(OutliersConfig(action="flag"), numeric=["x"]).apply(IQR_FRAME)
    assert out["x_outlier"].to_list() == [False] * 39 + [True]
    assert out["x"].to_list() == IQR_FRAME["x"].to_list()


def test_outliers_when_constant_column_zscore_then_skipped() -> None:
    frame = pl.DataFrame({"c": [2.0, 2.0, 2.0]})
    _, stats = Outliers(OutliersConfig(method="zscore"), numeric=["c"]).apply(frame)
    assert "standard deviation is 0" in stats.skipped["c"]


def test_clean_frame_when_full_config_then_steps_run_in_order_and_counted() -> None:
    frame = pl.DataFrame(
        {
            "pid": [1, 2, 3, 4, 5, 6],
            "hours": [40, 40, None, 70, 45, 38],
            "job": ["Private", "private ", None, "Gov", "Gov", "Private"],
            "income": [">50K", ">50K", "<=50K", None, "<=50K", "<=50K"],
        }
    )
    config = CleanConfig(
        outliers=NO_OUTLIERS,
        rules=[
            RuleConfig(when="hours > 60", set={"overtime": True}),
            RuleConfig(when="job in ['Gov'] and hours is not None", set={"sector": "public"}),
        ],
    )
    out, stats = clean_frame(
        frame,
        config,
        numeric=["hours"],
        categorical=["job"],
        ignore_for_dedup=["pid"],
        target="income",
    )
    assert out["pid"].to_list() == [1, 3, 5, 6]
    assert stats.dropped == {"exact_duplicate": 1, "missing_target": 1}
    assert (stats.rows_in, stats.rows_out) == (6, 4)
    assert out["hours"].to_list() == [40, 40, 45, 38] and stats.imputed == {"hours": 1, "job": 1}
    assert stats.rules == {"hours > 60": 0, "job in ['Gov'] and hours is not None": 1}
    assert out["sector"].to_list() == [None, None, "public", None]


def test_clean_frame_when_exact_off_then_duplicates_kept() -> None:
    frame = pl.DataFrame({"a": ["x", "x"], "y": [1, 1]})
    config = CleanConfig.model_validate({"dedup": {"exact": False}, **OFF})
    out, stats = clean_frame(frame, config, numeric=[], categorical=["a"], target="y")
    assert out.height == 2 and stats.dropped == {}


def test_clean_frame_when_rule_calls_function_then_data_error() -> None:
    frame = pl.DataFrame({"a": [1, 2], "y": [0, 1]})
    config = CleanConfig(rules=[RuleConfig(when="__import__('os')", set={"a": 1})])
    with pytest.raises(DataError, match="function call"):
        clean_frame(frame, config, numeric=["a"], categorical=[])
