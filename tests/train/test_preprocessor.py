"""Preprocessor: fitted standardization, missing values, vocabularies, errors, serialization."""

from __future__ import annotations

import json

import numpy as np
import polars as pl
import pytest

from datawheel.config import CleanConfig, MissingConfig, ModelConfig, OutliersConfig
from datawheel.errors import DataError, NotFittedError, UsageError
from datawheel.train import FeatureColumns, Preprocessor

from ._synthetic import FEATURES, make_frame


def fitted(frame: pl.DataFrame | None = None) -> Preprocessor:
    return Preprocessor(FEATURES).fit(make_frame(200, seed=0) if frame is None else frame)


def test_preprocessor_when_fitted_then_shapes_and_dtypes_follow_the_columns() -> None:
    prep = fitted()
    numeric, categorical = prep.transform(make_frame(50, seed=1))
    assert numeric.shape == (50, 2) and numeric.dtype == np.float32
    assert categorical.shape == (50, 2) and categorical.dtype == np.int64
    assert prep.cardinalities == [4, 5]  # 3 colors, 4 sizes, plus index 0
    assert prep.input_schema() == {
        "age": "number",
        "income": "number",
        "color": "string",
        "size": "string",
    }


def test_preprocessor_when_transforming_train_then_numerics_are_standardized() -> None:
    frame = make_frame(500, seed=0)
    numeric, _ = Preprocessor(FEATURES).fit(frame).transform(frame)
    np.testing.assert_allclose(numeric.mean(axis=0), 0.0, atol=1e-5)
    np.testing.assert_allclose(numeric.std(axis=0), 1.0, atol=1e-4)


def test_preprocessor_when_std_is_zero_then_it_divides_by_one() -> None:
    frame = make_frame(20, seed=0).with_columns(pl.lit(7.0).alias("age"))
    numeric, _ = Preprocessor(FEATURES).fit(frame).transform(frame)
    assert np.all(numeric[:, 0] == 0.0)


def test_preprocessor_when_category_is_unseen_or_missing_then_index_is_zero() -> None:
    prep = fitted()
    frame = make_frame(3, seed=1).with_columns(
        pl.Series("color", ["purple", None, "red"]), pl.Series("size", ["S", "M", "XXL"])
    )
    _, categorical = prep.transform(frame)
    assert categorical[:, 0].tolist() == [0, 0, prep.vocabulary_["color"].index("red") + 1]
    assert categorical[2, 1] == 0
    assert categorical[0, 1] > 0


def test_preprocessor_when_numeric_missing_in_train_then_mean_fill_and_indicator() -> None:
    train = make_frame(300, seed=0, missing=0.2)
    prep = Preprocessor(FEATURES).fit(train)
    assert prep.missing_indicator_ == ["age"]  # income was never missing: no indicator
    frame = pl.DataFrame(
        {"age": [None, float("nan"), 40.0], "income": [1.0, 2.0, float("inf")]}
    ).with_columns(pl.lit("red").alias("color"), pl.lit("S").alias("size"))
    numeric, _ = prep.transform(frame)
    assert numeric.shape == (3, 3)
    assert numeric[0, 0] == 0.0 and numeric[1, 0] == 0.0  # null and NaN → the mean → 0
    assert numeric[2, 1] == 0.0  # inf is missing too; income has no indicator column
    assert numeric[:, 2].tolist() == [1.0, 1.0, 0.0]
    assert np.isfinite(numeric).all()


def test_preprocessor_when_numeric_column_holds_numeric_strings_then_they_are_parsed() -> None:
    prep = fitted()
    frame = make_frame(4, seed=3)
    as_text = frame.with_columns(pl.col("age").cast(pl.String))
    np.testing.assert_allclose(prep.transform(as_text)[0], prep.transform(frame)[0], rtol=1e-6)


def test_preprocessor_when_used_before_fit_then_not_fitted_error() -> None:
    with pytest.raises(NotFittedError, match="fit"):
        Preprocessor(FEATURES).transform(make_frame(5, seed=0))


@pytest.mark.parametrize(
    "dropped",
    [
        ["income"],  # one numeric column
        ["color", "age"],  # a categorical and a numeric one
    ],
)
def test_preprocessor_when_column_missing_then_data_error_names_it(dropped: list[str]) -> None:
    prep = fitted()
    with pytest.raises(DataError) as info:
        prep.transform(make_frame(5, seed=0).drop(dropped))
    message = str(info.value)
    assert all(name in message for name in dropped)
    assert "expected columns: age, income, color, size" in message


def test_preprocessor_when_numeric_column_holds_text_then_data_error_names_it() -> None:
    frame = make_frame(5, seed=0).with_columns(pl.Series("income", ["1", "2", "x", "4", None]))
    with pytest.raises(DataError, match="'income'"):
        fitted().transform(frame)
    with pytest.raises(DataError, match="'income'"):
        fitted().transform_records([{"age": 1, "income": "abc", "color": "red", "size": "S"}])


def test_preprocessor_when_round_tripped_through_json_then_transforms_are_identical() -> None:
    prep = fitted(make_frame(300, seed=0, missing=0.1))
    copy = Preprocessor.from_dict(json.loads(json.dumps(prep.to_dict())))
    frame = make_frame(100, seed=5, missing=0.1)
    for left, right in zip(prep.transform(frame), copy.transform(frame), strict=True):
        np.testing.assert_array_equal(left, right)


def test_preprocessor_when_given_dict_rows_then_matches_the_frame_path() -> None:
    prep = fitted(make_frame(300, seed=0, missing=0.1))
    frame = make_frame(60, seed=6, missing=0.1)
    by_frame = prep.transform(frame)
    by_rows = prep.transform_records(frame.to_dicts())
    for left, right in zip(by_frame, by_rows, strict=True):
        np.testing.assert_array_equal(left, right)


def test_preprocessor_when_category_below_min_frequency_then_it_folds_into_zero() -> None:
    frame = pl.DataFrame({"c": ["a", "a", "b"]})
    prep = Preprocessor(FeatureColumns(categorical=["c"]), min_frequency=2).fit(frame)
    assert prep.vocabulary_ == {"c": ["a"]}
    assert prep.transform(frame)[1][:, 0].tolist() == [1, 1, 0]


def test_feature_columns_when_a_column_has_two_roles_then_usage_error() -> None:
    with pytest.raises(UsageError, match="age"):
        FeatureColumns(numeric=["age"], categorical=["age"])


# -- the project's preprocessing: fills and fences learned on the training split ------------

CLEAN = CleanConfig(
    missing=MissingConfig(numeric="median", categorical="most_frequent"),
    outliers=OutliersConfig(method="iqr", factor=1.5, action="clip"),
)


def _project_prep(clean: CleanConfig = CLEAN, frame: pl.DataFrame | None = None) -> Preprocessor:
    train = make_frame(400, seed=0, missing=0.1) if frame is None else frame
    return Preprocessor.from_config(FEATURES, clean, ModelConfig()).fit(train)


def test_preprocessor_when_configured_then_fills_and_fences_come_from_training_values() -> None:
    train = make_frame(400, seed=0, missing=0.1)
    prep = _project_prep(frame=train)
    age = train["age"].drop_nulls().to_numpy()
    q1, q3 = np.quantile(age, [0.25, 0.75])
    assert prep.lower_[0] == pytest.approx(q1 - 1.5 * (q3 - q1))
    assert prep.upper_[0] == pytest.approx(q3 + 1.5 * (q3 - q1))
    assert prep.fill_[0] == pytest.approx(np.median(np.clip(age, prep.lower_[0], prep.upper_[0])))
    mode = train["color"].drop_nulls().value_counts(sort=True)["color"][0]
    assert prep.categorical_fill_["color"] == mode


def test_preprocessor_when_value_beyond_fence_then_clipped_on_both_paths() -> None:
    prep = _project_prep()
    row = {"age": 40.0, "income": 50.0, "color": "red", "size": "M"}
    far = dict(row, age=1e6)
    at_fence = dict(row, age=float(prep.upper_[0]))
    frame = pl.DataFrame([far, at_fence])
    numeric, _ = prep.transform(frame)
    assert numeric[0, 0] == numeric[1, 0]  # clipped to the fence
    records, _ = prep.transform_records([far, at_fence])
    np.testing.assert_array_equal(records, numeric)


def test_preprocessor_when_values_missing_then_training_fills_on_both_paths() -> None:
    prep = _project_prep()
    gap = {"age": None, "income": float("nan"), "color": None, "size": "unseen-size"}
    numeric, categorical = prep.transform_records([gap])
    frame_numeric, frame_categorical = prep.transform(
        pl.DataFrame(
            [gap],
            schema={"age": pl.Float64, "income": pl.Float64, "color": pl.String, "size": pl.String},
        )
    )
    np.testing.assert_array_equal(numeric, frame_numeric)
    np.testing.assert_array_equal(categorical, frame_categorical)
    filled = (prep.fill_ - prep.mean_) / prep.std_
    np.testing.assert_allclose(numeric[0, :2], filled, rtol=1e-6)
    color = prep.vocabulary_["color"].index(prep.categorical_fill_["color"]) + 1
    assert categorical[0].tolist() == [color, 0]  # the training mode; an unseen size is 0


def test_preprocessor_when_outliers_flagged_then_indicator_not_clipping() -> None:
    clean = CLEAN.model_copy(update={"outliers": OutliersConfig(action="flag")})
    prep = _project_prep(clean)
    assert prep.outlier_flag_ == ["age", "income"]
    row = {"age": 1e6, "income": 50.0, "color": "red", "size": "M"}
    numeric, _ = prep.transform_records([row])
    assert numeric[0, 0] > 100  # standardized, not clipped
    flags = numeric[0, 2 + len(prep.missing_indicator_) :][:2]
    assert flags.tolist() == [1.0, 0.0]


def test_preprocessor_when_round_tripped_then_fills_fences_and_flags_survive() -> None:
    for clean in (CLEAN, CLEAN.model_copy(update={"outliers": OutliersConfig(action="flag")})):
        prep = _project_prep(clean)
        again = Preprocessor.from_json(prep.to_json())
        frame = make_frame(30, seed=9, missing=0.2).with_columns(
            pl.Series("age", [1e5] * 15 + [-1e5] * 15)
        )
        for a, b in zip(prep.transform(frame), again.transform(frame), strict=True):
            np.testing.assert_array_equal(a, b)


def test_preprocessor_when_constant_fill_not_a_number_then_data_error() -> None:
    clean = CleanConfig(missing=MissingConfig(numeric="constant", fill_value="unknown"))
    with pytest.raises(DataError, match=r"clean\.missing\.fill_value"):
        _project_prep(clean)


@pytest.mark.parametrize(
    ("trained", "sent"),
    [
        ([1, 2, 3, 2], [3, 3.0, "3"]),  # learned from integers: "3"
        ([1.0, 2.0, 3.0, 2.0], [3, 3.0, "3", "3.0"]),  # learned from floats: "3.0"
    ],
)
def test_preprocessor_when_category_sent_as_number_then_same_index_on_every_path(
    trained: list, sent: list
) -> None:
    features = FeatureColumns(categorical=["floor"])
    prep = Preprocessor(features).fit(pl.DataFrame({"floor": trained}))
    expected = prep.transform(pl.DataFrame({"floor": trained[2:3]}))[1][0, 0]
    assert expected > 0
    _, codes = prep.transform_records([{"floor": value} for value in sent])
    assert codes[:, 0].tolist() == [expected] * len(sent)
    as_floats = prep.transform(pl.DataFrame({"floor": [3.0]}))[1]  # a float column read later
    assert as_floats[0, 0] == expected
    assert prep.transform_records([{"floor": 3.5}])[1][0, 0] == 0  # not a known category
