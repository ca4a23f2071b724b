"""Operators completed: dates and postcodes generalized; free text anonymized span by span with a
record of which operator touched which span."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from datawheel.config import PrivacyConfig
from datawheel.errors import ConfigError
from datawheel.privacy.anonymize import Anonymizer
from datawheel.privacy.free_text import anonymize_text
from datawheel.privacy.operators import make_operator, pseudonym


@pytest.mark.parametrize(
    ("rule", "value", "expected"),
    [
        ({"generalize": "year"}, dt.date(1990, 4, 17), "1990"),  # a date
        ({"generalize": "month"}, dt.datetime(1990, 4, 17, 8, 30), "1990-04"),  # a datetime
        ({"generalize": "month"}, "2023-11-05", "2023-11"),  # an ISO string
        ({"generalize": "year"}, "2023-11-05T10:00:00Z", "2023"),  # an ISO timestamp
        ({"generalize": "year"}, "yesterday", None),  # not a date: suppressed, never leaked
        ({"generalize": {"date": "month"}}, "2023-01-31", "2023-01"),  # long form
        ({"generalize": {"prefix": 3}}, "94110", "941**"),  # postcode
        ({"generalize": {"prefix": 3}}, 10115, "101**"),  # numeric postcode
        ({"generalize": {"prefix": 3}}, "SW1", "SW1"),  # already short
        ({"generalize": {"width": 5}}, 37, "35-39"),  # numeric, long form
        ({"generalize": 5}, 37, "35-39"),  # numeric, unchanged short form
        ({"generalize": "5"}, 37, "35-39"),  # a number given as text
    ],
)
def test_generalize_when_rule_then_truncated_value(secret_key, rule, value, expected):
    assert make_operator(rule, column="c", tag="PII", key=secret_key).apply(value) == expected


@pytest.mark.parametrize(
    "rule",
    [
        {"generalize": "week"},  # unknown date unit
        {"generalize": {"prefix": -1}},  # negative prefix
        {"generalize": {"bins": 3}},  # unknown form
        {"generalize": 0},  # width must be > 0
    ],
)
def test_generalize_when_bad_rule_then_config_error_naming_column(secret_key, rule):
    with pytest.raises(ConfigError, match=r"privacy\.columns\.zip"):
        make_operator(rule, column="zip", tag="PII", key=secret_key)


def test_anonymizer_when_date_column_then_months_as_text(secret_key):
    frame = pl.DataFrame({"born": [dt.date(1990, 4, 17), None, dt.date(1985, 12, 1)]})
    out, _ = Anonymizer(PrivacyConfig(columns={"born": {"generalize": "month"}}), secret_key).frame(
        frame
    )
    assert out["born"].to_list() == ["1990-04", None, "1985-12"]


TEXT = "Call John Smith at 555-123-4567 or john@example.com"


@pytest.mark.parametrize(
    ("operator", "entities", "expected_types", "check"),
    [
        # pseudonymize: type-tagged keyed tokens, equal to the column operator's tokens
        ("pseudonymize", "all", ["PERSON", "PHONE", "EMAIL"], "EMAIL_"),
        ("redact", "all", ["PERSON", "PHONE", "EMAIL"], "[EMAIL]"),  # [TYPE] placeholders
        ("redact", ["EMAIL"], ["EMAIL"], "John Smith"),  # only the chosen entities
        ("mask", ["PHONE"], ["PHONE"], "********4567"),  # keep the last 4
        ("keep", "all", ["PERSON", "PHONE", "EMAIL"], TEXT),  # recorded, unchanged
    ],
)
def test_anonymize_text_when_operator_then_spans_replaced_and_recorded(
    secret_key, operator, entities, expected_types, check
):
    texts, records = anonymize_text(
        [TEXT, None, ""], key=secret_key, operator=operator, entities=entities
    )
    assert check in texts[0] and texts[1] is None and texts[2] == ""
    assert [r.type for r in records[0]] == expected_types
    assert records[1] == [] and records[2] == []
    for rec in records[0]:
        assert rec.operator == operator and TEXT[rec.start : rec.end]  # offsets into the input
    if operator == "pseudonymize":
        email = next(r for r in records[0] if r.type == "EMAIL")
        token = pseudonym(secret_key, TEXT[email.start : email.end], tag="EMAIL")
        assert email.replacement == token and token in texts[0]
        assert "john@example.com" not in texts[0] and "John Smith" not in texts[0]


def test_anonymize_text_when_no_entities_then_unchanged(secret_key):
    texts, records = anonymize_text([TEXT], key=secret_key, entities=[])
    assert texts == [TEXT] and records == [[]]


def test_anonymizer_when_text_columns_then_spans_anonymized_in_frames_and_rows(secret_key):
    privacy = PrivacyConfig(columns={"email": "pseudonymize"}, text={"operator": "pseudonymize"})
    anonymizer = Anonymizer(privacy, secret_key, id_column="pid", text_columns=["note"])
    frame = pl.DataFrame({"pid": ["P1"], "email": ["john@example.com"], "note": [TEXT]})
    out, stats = anonymizer.frame(frame)
    assert out["email"][0] in out["note"][0]  # the same token in the column and in the text
    assert stats.text_spans["note"] == {"PERSON": 1, "PHONE": 1, "EMAIL": 1}
    assert anonymizer.row({"pid": "P1", "note": TEXT})["note"] == out["note"][0]


def test_project_file_when_unknown_text_operator_then_config_error_names_the_key():
    from datawheel.config import parse_config

    raw = {"name": "p", "data": {"source": "d.csv", "target": "y"},
           "privacy": {"text": {"operator": "shred"}}}  # fmt: skip
    with pytest.raises(ConfigError, match=r"privacy\.text\.operator"):
        parse_config(raw)
