"""PII-looking columns without a privacy rule: warned about by `run`, or refused."""

from __future__ import annotations

import polars as pl
import pytest
from faker import Faker

from datawheel.errors import DataError
from datawheel.privacy.columns import detect_pii_columns
from datawheel.privacy.coverage import check_pii_rules


def _table(n: int = 60) -> pl.DataFrame:
    fake = Faker("en_US")
    Faker.seed(0)
    return pl.DataFrame({
        "contact": [fake.email() for _ in range(n)],
        "email": ["yes", "no"] * (n // 2),  # the answer to "may we email you?"
        "score": list(range(n)),
    })  # fmt: skip


def test_detect_when_yes_no_column_named_email_then_not_pii() -> None:
    found = detect_pii_columns(_table())
    assert "contact" in found and "email" not in found


def test_check_when_pii_column_without_rule_then_one_warning_with_fix() -> None:
    warnings = check_pii_rules(_table(), {})
    assert len(warnings) == 1 and "'contact'" in warnings[0]
    assert "privacy.columns.contact: pseudonymize" in warnings[0]
    assert check_pii_rules(_table(), {"contact": "drop"}) == []


def test_check_when_require_rules_then_error() -> None:
    with pytest.raises(DataError, match="contact"):
        check_pii_rules(_table(), {}, require=True)
