"""TrainedModel: serving inputs, errors, and a byte-exact round trip."""

from __future__ import annotations

import numpy as np
import pytest

from datawheel.errors import DataError, UsageError
from datawheel.train import TrainedModel, TrainResult

from ._synthetic import make_frame


def test_trained_model_when_round_tripped_through_bytes_then_probabilities_are_identical(
    trained: TrainResult,
) -> None:
    model = trained.model
    copy = TrainedModel.from_bytes(model.to_bytes())
    frame = make_frame(200, seed=11, missing=0.1)
    np.testing.assert_array_equal(model.predict_proba(frame), copy.predict_proba(frame))
    assert copy.classes == model.classes and copy.target == "label"
    assert copy.input_schema == model.input_schema
    assert copy.model_config == model.model_config


def test_trained_model_when_rows_are_dicts_then_same_as_the_frame(trained: TrainResult) -> None:
    frame = make_frame(100, seed=12, missing=0.1)
    rows = frame.to_dicts()
    np.testing.assert_array_equal(
        trained.model.predict_proba(rows), trained.model.predict_proba(frame)
    )
    assert trained.model.predict(rows) == trained.model.predict(frame)


def test_trained_model_when_probabilities_then_rows_sum_to_one(trained: TrainResult) -> None:
    proba = trained.model.predict_proba(make_frame(20, seed=13))
    assert proba.shape == (20, 2) and proba.dtype == np.float32
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-5)


def test_trained_model_when_field_missing_then_data_error_names_it(trained: TrainResult) -> None:
    rows = [
        {"age": 30, "income": 10.0, "color": "red", "size": "S"},
        {"age": 30, "color": "red", "size": "S"},
    ]
    with pytest.raises(DataError, match="row 1 is missing field 'income'") as info:
        trained.model.predict_proba(rows)
    assert info.value.where == "income"


def test_trained_model_when_extra_keys_or_nulls_then_they_are_tolerated(
    trained: TrainResult,
) -> None:
    row = {"age": None, "income": 10, "color": None, "size": "XL", "comment": "ignored"}
    assert trained.model.predict([row])[0] in {"yes", "no"}


def test_trained_model_when_rows_is_a_single_dict_then_usage_error(trained: TrainResult) -> None:
    with pytest.raises(UsageError, match="list of dicts"):
        trained.model.predict_proba({"age": 1, "income": 2, "color": "red", "size": "S"})


def test_trained_model_when_bytes_are_foreign_then_data_error() -> None:
    with pytest.raises(DataError, match="not a datawheel model"):
        TrainedModel.from_bytes(b"not a model")


def test_trained_model_when_arrays_are_given_then_same_as_rows(trained: TrainResult) -> None:
    frame = make_frame(30, seed=14)
    arrays = trained.model.transform(frame)
    np.testing.assert_array_equal(
        trained.model.predict_proba_arrays(*arrays), trained.model.predict_proba(frame)
    )


def test_trained_model_when_rows_are_a_pandas_frame_then_same_as_the_dicts(
    trained: TrainResult,
) -> None:
    frame = make_frame(60, seed=14, missing=0.1)
    rows = frame.to_dicts()
    pandas_frame = frame.to_pandas()  # missing numbers become NaN, strings stay objects
    pandas_frame["color"] = pandas_frame["color"].astype("category")
    model = trained.model
    np.testing.assert_allclose(model.predict_proba(pandas_frame), model.predict_proba(rows))
    assert model.predict(pandas_frame) == model.predict(rows)
    assert model.explain(pandas_frame.head(3)) == model.explain(rows[:3])


def test_trained_model_when_a_pandas_column_cannot_be_read_then_data_error(
    trained: TrainResult,
) -> None:
    import pandas as pd

    bad = pd.DataFrame({"age": [object()], "income": [1.0], "color": ["red"], "size": ["S"]})
    with pytest.raises(DataError, match="pandas DataFrame"):
        trained.model.predict(bad)
