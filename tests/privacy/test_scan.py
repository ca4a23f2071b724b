"""scan_pii / scan_frame: the public contract, options and errors."""

from __future__ import annotations

import json

import polars as pl
import pytest

from datawheel.errors import DataError, UsageError
from datawheel.privacy.scan import detect_language, scan_frame, scan_pii


def test_scan_pii_when_none_and_empty_then_empty_lists_in_order() -> None:
    texts = [None, "", "mail ann@example.com"]
    result = scan_pii(texts)
    assert [len(r) for r in result] == [0, 0, 1]


def test_scan_pii_when_serialized_then_contract_shape() -> None:
    spans = scan_pii(["SSN 123-45-6789"])[0]
    line = json.dumps({"index": 0, "spans": [s.to_dict() for s in spans]})
    assert json.loads(line)["spans"][0].keys() == {"start", "end", "type", "score"}
    assert 0.0 <= spans[0].score <= 1.0


@pytest.mark.parametrize(
    ("entities", "types"),
    [
        (None, ["EMAIL", "PHONE"]),  # all by default
        (["email"], ["EMAIL"]),  # case-insensitive filter
        (["PERSON"], []),  # nothing of that type here
    ],
)
def test_scan_pii_when_entities_given_then_only_those(entities, types) -> None:
    text = "ann@example.com or phone 415-555-0134"
    assert [s.type for s in scan_pii([text], entities=entities)[0]] == types


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"lang": "fr"}, UsageError),  # unsupported language
        ({"entities": ["SHOE_SIZE"]}, UsageError),  # unknown entity
        ({"threshold": 1.5}, UsageError),  # out of [0, 1]
    ],
)
def test_scan_pii_when_bad_option_then_usage_error(kwargs, error) -> None:
    with pytest.raises(error):
        scan_pii(["x"], **kwargs)


@pytest.mark.parametrize(
    ("text", "lang"),
    [
        ("Hello, how are you?", "en"),  # English
        ("你好，我的订单没有收到。", "zh"),  # Chinese
        ("我的邮箱是ann@example.com，请回复", "zh"),  # Chinese around an e-mail address
    ],
)
def test_detect_language_when_text_then_cjk_share_decides(text: str, lang: str) -> None:
    assert detect_language(text) == lang


def test_scan_pii_when_lang_en_then_chinese_person_not_searched() -> None:
    text = "我叫王伟"
    assert [s.type for s in scan_pii([text], lang="zh")[0]] == ["PERSON"]
    assert scan_pii([text], lang="en")[0] == []


def test_scan_pii_when_threshold_raised_then_weak_spans_dropped() -> None:
    text = "number 5484764759"  # bare ten digits without context: a weak phone
    assert scan_pii([text], threshold=0.0)[0]
    assert scan_pii([text], threshold=0.9)[0] == []


def test_scan_frame_when_text_field_given_then_one_list_per_row() -> None:
    frame = pl.DataFrame({"id": [1, 2], "message": ["call 415-555-0134", None]})
    result = scan_frame(frame, "message")
    assert [len(r) for r in result] == [1, 0]


@pytest.mark.parametrize(
    ("frame", "field"),
    [
        (pl.DataFrame({"a": ["x"], "b": ["y"]}), None),  # two text columns: ambiguous
        (pl.DataFrame({"a": ["x"]}), "missing"),  # no such column
    ],
)
def test_scan_frame_when_column_unclear_then_data_error(frame, field) -> None:
    with pytest.raises(DataError):
        scan_frame(frame, field)
