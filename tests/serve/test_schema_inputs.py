"""The request schema's leniency where it is safe: gaps in training make a field optional, a
category sent as a number is its string."""

from __future__ import annotations

import pytest

from datawheel.errors import UsageError
from datawheel.serve.request_schema import RowValidator, rows_model

SCHEMA = {"age": "number", "floor": "string", "city": "string"}


def test_validator_when_field_had_gaps_in_training_then_it_may_be_left_out() -> None:
    check = RowValidator(SCHEMA, [], max_rows=10, nullable=["age"])
    assert check({"rows": [{"floor": "2", "city": "x"}]}) == [
        {"age": None, "floor": "2", "city": "x"}
    ]
    with pytest.raises(UsageError, match="city"):  # never missing in training: still required
        check({"rows": [{"age": 3, "floor": "2"}]})


@pytest.mark.parametrize(
    ("sent", "kept"),
    [
        (2, "2"),  # an integer category
        (2.0, "2"),  # a float that is an integer, as a CSV reader wrote it
        (2.5, "2.5"),
        (True, "true"),  # polars' string of a boolean
        ("2", "2"),
    ],
)
def test_validator_when_category_sent_as_number_then_its_string(sent: object, kept: str) -> None:
    check = RowValidator(SCHEMA, [], max_rows=10)
    assert check({"rows": [{"age": 1, "floor": sent, "city": "x"}]})[0]["floor"] == kept


def test_validator_when_category_is_a_list_then_error_names_field() -> None:
    check = RowValidator(SCHEMA, [], max_rows=10)
    with pytest.raises(UsageError) as raised:
        check({"rows": [{"age": 1, "floor": [1], "city": "x"}]})
    assert raised.value.where == "rows.0.floor"


def test_rows_model_when_nullable_then_openapi_marks_it_optional() -> None:
    model = rows_model("T", SCHEMA, [], max_rows=5, nullable=["age"])
    row = model.model_json_schema()["$defs"]["TRow"]
    assert "age" not in row["required"] and "city" in row["required"]
