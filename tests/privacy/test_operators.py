"""Operators: keyed, type-tagged pseudonyms; masking; generalization; reversible encryption."""

from __future__ import annotations

import polars as pl
import pytest

from datawheel.config import PrivacyConfig
from datawheel.errors import PermissionDenied, SecretKeyError
from datawheel.privacy.anonymize import Anonymizer, pii_tag
from datawheel.privacy.operators import decrypt_value, encrypt_value, make_operator, pseudonym
from datawheel.secret import SecretKey


def test_pseudonym_when_same_value_then_same_token_regardless_of_case_and_spaces(secret_key):
    a = pseudonym(secret_key, "Alice@Example.com", tag="EMAIL")
    b = pseudonym(secret_key, "  alice@example.com ", tag="EMAIL")
    assert a == b and a.startswith("EMAIL_") and len(a) == len("EMAIL_") + 16


def test_pseudonym_when_other_key_or_tag_then_other_token(secret_key):
    token = pseudonym(secret_key, "alice@example.com", tag="EMAIL")
    assert pseudonym(SecretKey.generate(), "alice@example.com", tag="EMAIL") != token
    assert pseudonym(secret_key, "alice@example.com", tag="PERSON") != token
    assert pseudonym(secret_key, None, tag="EMAIL") is None


@pytest.mark.parametrize(
    ("rule", "value", "expected"),
    [
        ({"mask": 4}, "555-123-4567", "********4567"),  # keep the last 4
        ({"mask": 0}, "secret", "******"),  # keep nothing
        ("redact", "123 Main St", "[REDACTED]"),
        ({"generalize": 5}, 37, "35-39"),  # integer bins
        ({"generalize": 10}, 40, "40-49"),  # bin edges belong to the upper bin
        ({"generalize": 0.5}, 1.2, "[1, 1.5)"),  # fractional bins
        ("keep", 42, 42),
    ],
)
def test_operator_when_applied_then_expected_value(secret_key, rule, value, expected):
    op = make_operator(rule, column="c", tag="PII", key=secret_key)
    assert op.apply(value) == expected


def test_encrypt_when_admin_reveals_then_original_and_others_refused(secret_key):
    token = encrypt_value(secret_key, "123-45-6789", column="ssn")
    assert "6789" not in token
    assert decrypt_value(secret_key, token, column="ssn", role="admin") == "123-45-6789"
    with pytest.raises(PermissionDenied):
        decrypt_value(secret_key, token, column="ssn", role="analyst")
    with pytest.raises(SecretKeyError):  # bound to its column: cannot be moved elsewhere
        decrypt_value(secret_key, token, column="email", role="admin")


def test_anonymizer_when_frame_and_row_then_identical_tokens(secret_key):
    privacy = PrivacyConfig(
        columns={"email": "pseudonymize", "phone": {"mask": 2}, "notes": "drop"}
    )
    anonymizer = Anonymizer(privacy, secret_key, id_column="pid")
    frame = pl.DataFrame(
        {
            "pid": ["P1", "P2"],
            "email": ["a@x.io", None],
            "phone": ["5551234", "5559876"],
            "notes": ["x", "y"],
            "age": [30, 40],
        }
    )
    out, stats = anonymizer.frame(frame)
    assert "notes" not in out.columns and stats.dropped_columns == ["notes"]
    assert out["phone"].to_list() == ["*****34", "*****76"]
    assert out["age"].to_list() == [30, 40]
    row = anonymizer.row({"pid": "P1", "email": "A@X.IO", "age": 30, "notes": "z"})
    assert row["email"] == out["email"][0] and row["pid"] == out["pid"][0]
    assert "notes" not in row and out["email"][1] is None


def test_anonymizer_when_configured_column_missing_then_lists_available(secret_key):
    anonymizer = Anonymizer(PrivacyConfig(columns={"mail": "pseudonymize"}), secret_key)
    with pytest.raises(Exception, match="available: a"):
        anonymizer.frame(pl.DataFrame({"a": [1]}))


@pytest.mark.parametrize(
    ("column", "tag"),
    [
        ("email", "EMAIL"),
        ("Work_Phone", "PHONE"),
        ("ssn", "US_SSN"),
        ("full_name", "PERSON"),
        ("身份证号", "CN_RESIDENT_ID"),
        ("age", "PII"),
    ],
)
def test_pii_tag_when_header_then_type(column, tag):
    assert pii_tag(column) == tag


def test_registry_when_compared_with_config_then_one_list_of_names():
    """config.OPERATORS (checked when the project file loads) and the registry never drift."""
    from datawheel.config import OPERATORS, TEXT_OPERATORS
    from datawheel.privacy.operators import REGISTRY

    assert tuple(REGISTRY) == OPERATORS
    assert tuple(n for n, spec in REGISTRY.items() if spec.text is not None) == TEXT_OPERATORS


@pytest.mark.parametrize("name", ["pseudonymize", "redact", "mask", "encrypt", "drop", "keep"])
def test_operator_when_named_in_column_and_text_then_both_hide_the_value(secret_key, name):
    from datawheel.privacy.operators import text_operator

    column = make_operator(name, column="email", tag="EMAIL", key=secret_key)
    span = text_operator(name, key=secret_key)("ann@example.com", "EMAIL")
    if name == "keep":
        assert column.apply("ann@example.com") == span == "ann@example.com"
    else:
        assert "ann@example.com" not in str(column.apply("ann@example.com"))
        assert "ann@example.com" not in span
    if name == "pseudonymize":  # a value in a column and in a text joins
        assert column.apply("ann@example.com") == span


def test_text_operator_when_column_only_or_unknown_then_config_error_lists_text_ones(secret_key):
    from datawheel.errors import ConfigError
    from datawheel.privacy.operators import text_operator

    for name in ("generalize", "shuffle"):
        with pytest.raises(ConfigError, match="unknown text operator") as info:
            text_operator(name, key=secret_key)
        assert "generalize" not in str(info.value.hint)


@pytest.mark.parametrize(
    ("privacy", "message"),
    [
        ({"columns": {"email": "shuffle"}}, "unknown operator"),  # not in config.OPERATORS
        ({"text": {"operator": "generalize"}}, "unknown text operator"),  # column-only
    ],
)
def test_privacy_config_when_operator_unknown_then_rejected_at_load(privacy, message):
    from datawheel.config import parse_config
    from datawheel.errors import ConfigError

    raw = {"name": "p", "data": {"source": "d.csv", "target": "y"}, "privacy": privacy}
    with pytest.raises(ConfigError, match=message):
        parse_config(raw)


@pytest.mark.parametrize("arg", ["four", -1, True])
def test_mask_when_argument_not_a_count_then_config_error(secret_key, arg):
    from datawheel.errors import ConfigError

    with pytest.raises(ConfigError, match="mask takes"):
        make_operator({"mask": arg}, column="phone", tag="PII", key=secret_key)
