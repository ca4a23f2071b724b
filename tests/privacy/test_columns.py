"""detect_pii_columns: headers, values, and the bundled income example."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

import datawheel
from datawheel.privacy.columns import detect_pii_columns, header_type

_EXAMPLE = next((Path(datawheel.__file__).parent / "examples" / "income").rglob("adult.csv*"))


def test_detect_pii_columns_when_income_example_then_pii_columns_only() -> None:
    frame = pl.read_csv(_EXAMPLE, n_rows=2000)
    found = detect_pii_columns(frame)
    assert {name: c.type for name, c in found.items()} == {
        "person_id": "PERSON_ID",
        "name": "PERSON",
        "email": "EMAIL",
        "phone": "PHONE",
        "address": "ADDRESS",
        "ssn": "US_SSN",
    }
    assert found["email"].reason == "both"


@pytest.mark.parametrize(
    ("header", "kind"),
    [
        ("E-mail", "EMAIL"),  # punctuation and case
        ("customerName", "PERSON"),  # camelCase
        ("姓名", "PERSON"),  # Chinese name
        ("手机号", "PHONE"),  # Chinese mobile
        ("身份证号", "CN_RESIDENT_ID"),  # Chinese resident id
        ("home_address", "ADDRESS"),  # compound
        ("client_ip", "IP_ADDRESS"),  # ip
        ("occupation", None),  # not PII
        ("native_country", None),  # not PII
        ("hours_per_week", None),  # not PII
    ],
)
def test_header_type_when_synonym_then_type(header: str, kind: str | None) -> None:
    assert header_type(header) == kind


def test_detect_pii_columns_when_header_is_vague_then_values_decide() -> None:
    frame = pl.DataFrame(
        {
            "contact": ["ann@example.com", "bo@example.org", "cy@example.net"],  # emails
            "col_b": ["13812345678", "13998765432", "15011112222"],  # mainland mobiles
            "notes": ["fine", "late", "ok"],  # plain text
            "amount": [1.5, 2.0, 3.25],  # numbers
        }
    )
    found = detect_pii_columns(frame)
    assert {n: (c.type, c.reason) for n, c in found.items()} == {
        "contact": ("EMAIL", "values"),
        "col_b": ("PHONE", "values"),
    }


def test_detect_pii_columns_when_chinese_headers_then_both() -> None:
    frame = pl.DataFrame(
        {
            "姓名": ["王伟", "李秀英"],
            "身份证号": ["11010519491231002X", "11010519491231002X"],
            "地址": ["北京市朝阳区建国路88号", "上海市浦东新区张江路1号"],
            "城市": ["北京", "上海"],
        }
    )
    found = detect_pii_columns(frame)
    assert {n: (c.type, c.reason) for n, c in found.items()} == {
        "姓名": ("PERSON", "both"),
        "身份证号": ("CN_RESIDENT_ID", "both"),
        "地址": ("ADDRESS", "both"),
    }
