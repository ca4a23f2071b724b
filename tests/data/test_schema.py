"""Column roles, config validation and mixed-type detection."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from datawheel.config import DataConfig
from datawheel.data.schema import feature_columns, infer_schema, type_issues, validate
from datawheel.errors import DataError
from datawheel.io import read_table

FRAME = pl.DataFrame(
    {
        "person_id": [1, 2, 3, 4],
        "age": [25, 40, 31, 58],
        "sex": ["F", "M", "F", "M"],
        "race": [1, 2, 1, 3],  # coded numerically: a numeric sensitive column
        "workclass": ["Private", "State-gov", "Private", None],
        "notes": ["a long free text note that goes on " * 2] * 4,
        "email": ["a@x.io", "b@x.io", "c@x.io", "d@x.io"],
        "fnlwgt": [1.0, 2.0, 3.0, 4.0],
        "income": ["<=50K", ">50K", "<=50K", ">50K"],
    }
)
CONFIG = DataConfig(
    source="x.csv",
    target="income",
    id="person_id",
    sensitive=["sex", "race"],
    ignore=["fnlwgt"],
)


@pytest.mark.parametrize(
    ("column", "role"),
    [
        ("income", "target"),  # data.target
        ("person_id", "id"),  # data.id, although numeric
        ("sex", "sensitive"),  # data.sensitive
        ("race", "sensitive"),  # data.sensitive, numeric dtype
        ("fnlwgt", "ignore"),  # data.ignore
        ("email", "pii"),  # passed as pii_columns
        ("age", "numeric"),  # inferred from dtype
        ("workclass", "categorical"),  # short strings
        ("notes", "text"),  # long strings, and data.text is empty
    ],
)
def test_infer_schema_when_config_and_dtypes_then_roles(column: str, role: str) -> None:
    schema = infer_schema(FRAME, CONFIG, pii_columns=["email"])
    assert schema[column].role == role


def test_infer_schema_when_text_listed_then_long_strings_not_inferred() -> None:
    config = CONFIG.model_copy(update={"text": ["email"]})
    schema = infer_schema(FRAME, config)
    assert schema["email"].role == "text" and schema["notes"].role == "categorical"


def test_infer_schema_when_counts_then_missing_and_unique() -> None:
    info = infer_schema(FRAME, CONFIG)["workclass"]
    assert (info.dtype, info.missing, info.unique) == ("String", 1, 3)


def test_feature_columns_when_sensitive_then_included_by_dtype() -> None:
    numeric, categorical = feature_columns(infer_schema(FRAME, CONFIG, pii_columns=["email"]))
    assert numeric == ["age", "race"]
    assert categorical == ["sex", "workclass"]


@pytest.mark.parametrize(
    ("update", "key", "missing", "close"),
    [
        ({"sensitive": ["sexx"]}, "data.sensitive", "sexx", "'sex'"),  # typo: close match
        ({"target": "incme"}, "data.target", "incme", "'income'"),  # target typo
        ({"id": "pid"}, "data.id", "pid", None),  # nothing close
        ({"ignore": ["zzz"]}, "data.ignore", "zzz", None),  # ignore list checked too
    ],
)
def test_validate_when_column_missing_then_error_names_key_and_lists_columns(
    update: dict, key: str, missing: str, close: str | None
) -> None:
    config = CONFIG.model_copy(update=update)
    with pytest.raises(DataError) as info:
        validate(FRAME, config, source="adult.csv")
    message = str(info.value)
    assert key in message and repr(missing) in message
    assert "available columns: person_id, age, sex" in message
    assert (f"did you mean {close}?" in message) if close else ("did you mean" not in message)


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        (["a", "a", "a", "a"], "single class"),  # one class only
        ([None, None, None, None], "no values"),  # all missing
        (["a", None, "a", None], "single class"),  # one class once nulls are ignored
    ],
)
def test_validate_when_target_unusable_then_data_error(target: list, expected: str) -> None:
    frame = FRAME.with_columns(pl.Series("income", target, dtype=pl.String))
    with pytest.raises(DataError, match=expected):
        validate(frame, CONFIG, source="adult.csv")


def test_validate_when_duplicate_ids_then_allowed() -> None:
    validate(FRAME.with_columns(pl.lit(1).alias("person_id")), CONFIG, source="adult.csv")


def test_type_issues_when_stray_words_in_numbers_then_reported(tmp_path: Path) -> None:
    path = tmp_path / "ages.csv"
    rows = [str(20 + i % 50) for i in range(997)] + ["forty", "n/a", "forty"]
    path.write_text("age,city\n" + "".join(f"{r},Paris\n" for r in rows))
    issues = type_issues(read_table(path))
    assert issues == {"age": "age: 3 of 1000 values are not numbers (e.g. 'forty', 'n/a')"}


@pytest.mark.parametrize(
    "values",
    [
        ["1", "2.5", " 3 ", None],  # all numbers once trimmed
        ["Paris", "Lyon", "4"],  # mostly words: a real string column
        ["110105194912310021", "11010519491231002X", "110105194912310048"],  # 身份证号: X
        ["010010", *["518000"] * 18, "n/a"],  # postcodes with a leading zero, one stray word
    ],
)
def test_type_issues_when_consistent_then_empty(values: list) -> None:
    assert type_issues(pl.DataFrame({"c": values})) == {}
