"""Validators and recognizers: checksums, ranges, offsets, context, PERSON, false positives."""

from __future__ import annotations

from datetime import date

import pytest

from datawheel.privacy.recognizers_validators import (
    cn_resident_id_check_digit,
    cn_resident_id_valid,
    iban_valid,
    luhn_valid,
    us_ssn_valid,
)
from datawheel.privacy.scan import scan_pii
from datawheel.privacy.spans import Span, resolve_overlaps


def found(text: str, **kw: object) -> list[tuple[str, str]]:
    """(type, matched text) of each span scan_pii reports for ``text``."""
    return [(s.type, text[s.start : s.end]) for s in scan_pii([text], **kw)[0]]  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("number", "valid"),
    [
        ("4111111111111111", True),  # Visa test number
        ("5555555555554444", True),  # Mastercard test number
        ("378282246310005", True),  # Amex, 15 digits
        ("6011111111111117", True),  # Discover
        ("6200000000000005", True),  # UnionPay 62…, 16 digits
        ("6205500000000000004", True),  # UnionPay 62…, 19 digits
        ("4111111111111112", False),  # last digit off by one
        ("41111111111111a1", False),  # not all digits
    ],
)
def test_luhn_when_number_given_then_checksum_decides(number: str, valid: bool) -> None:
    assert luhn_valid(number) is valid


@pytest.mark.parametrize(
    ("iban", "valid"),
    [
        ("GB82WEST12345698765432", True),  # the ISO 13616 example
        ("GB82 WEST 1234 5698 7654 32", True),  # printed in groups of four
        ("DE89370400440532013000", True),  # German, 22 characters
        ("GB82WEST12345698765433", False),  # mod-97 fails
        ("GB82WEST1234569876543", False),  # one character short for GB
        ("ZZ82WEST12345698765432", False),  # no such country
    ],
)
def test_iban_when_checked_then_length_and_mod97_decide(iban: str, valid: bool) -> None:
    assert iban_valid(iban) is valid


@pytest.mark.parametrize(
    ("ssn", "valid"),
    [
        ("123-45-6789", True),  # ordinary valid ranges
        ("000-12-3456", False),  # area 000
        ("666-12-3456", False),  # area 666
        ("900-12-3456", False),  # area 9xx (ITIN range)
        ("123-00-4567", False),  # group 00
        ("123-45-0000", False),  # serial 0000
    ],
)
def test_us_ssn_when_ranges_checked_then_ssa_rules_apply(ssn: str, valid: bool) -> None:
    assert us_ssn_valid(*ssn.split("-")) is valid


@pytest.mark.parametrize(
    ("value", "valid"),
    [
        ("11010519491231002X", True),  # GB 11643 example, check character X
        ("110105194912310021", False),  # same id, wrong check digit
        ("11010519491331002X", False),  # month 13
        ("99010519491231002X", False),  # no province 99
        ("110105209912310027", False),  # born in 2099: in the future
    ],
)
def test_cn_resident_id_when_checked_then_check_digit_and_date_decide(
    value: str, valid: bool
) -> None:
    assert cn_resident_id_valid(value, today=date(2025, 1, 1)) is valid


def test_cn_resident_id_check_digit_when_remainder_is_2_then_x() -> None:
    assert cn_resident_id_check_digit("11010519491231002") == "X"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("server 192.168.10.20 is down", ("IP_ADDRESS", "192.168.10.20")),  # IPv4
        ("from 2001:db8::8a2e:370:7334 today", ("IP_ADDRESS", "2001:db8::8a2e:370:7334")),  # v6
        ("card 4111 1111 1111 1111 please", ("CREDIT_CARD", "4111 1111 1111 1111")),  # grouped
        ("银联卡号6200000000000005已冻结", ("CREDIT_CARD", "6200000000000005")),  # UnionPay
        ("IBAN GB82 WEST 1234 5698 7654 32 thanks", ("IBAN", "GB82 WEST 1234 5698 7654 32")),
        ("my SSN is 123-45-6789.", ("US_SSN", "123-45-6789")),  # dashed SSN
        ("身份证号11010519491231002X。", ("CN_RESIDENT_ID", "11010519491231002X")),
        ("手机：138 1234 5678", ("PHONE", "138 1234 5678")),  # mainland mobile, grouped
        ("座机010-62345678", ("PHONE", "010-62345678")),  # mainland landline
        ("call (359) 434-2320 x94 now", ("PHONE", "(359) 434-2320 x94")),  # US + extension
        ("ring +44 20 7946 0958 today", ("PHONE", "+44 20 7946 0958")),  # international
        ("see https://example.com/a?b=1.", ("URL", "https://example.com/a?b=1")),  # no period
        ("我的邮箱是ann@example.org，谢谢", ("EMAIL", "ann@example.org")),  # CJK around
        ("passport number E12345678", ("PASSPORT", "E12345678")),  # needs the context word
        ("born on March 5, 1985 in Ohio", ("DATE_OF_BIRTH", "March 5, 1985")),  # birth cue
    ],
)
def test_recognizer_when_entity_in_text_then_exact_span(
    text: str, expected: tuple[str, str]
) -> None:
    assert expected in found(text)


@pytest.mark.parametrize(
    "text",
    [
        "Order 123456789 total $45.99",  # order id and price
        "Order #4111111111111111 shipped",  # Luhn-valid, but an order number
        "订单号6200000000000005，金额¥128.00",  # Luhn-valid, but after 订单号
        "tracking 9400111899223344556677",  # 22-digit tracking number
        "version 2.3.1 released 2024-01-02",  # version and a plain date
        "We met at 10:30:15 on 12/05/2023",  # times and a date without birth context
        "Call me in 5 minutes, room 1203.",  # short numbers
    ],
)
def test_scan_when_plain_numbers_then_nothing_found(text: str) -> None:
    assert found(text) == []


def test_invalid_checksums_when_scanned_then_not_reported() -> None:
    text = "card 4111111111111112, id 110105194912310021, iban GB82WEST12345698765433"
    assert [t for t, _ in found(text)] == []


@pytest.mark.parametrize(
    ("plain", "with_context", "kind"),
    [
        ("number 5484764759 ok", "phone 5484764759 ok", "PHONE"),  # bare ten digits
        ("the 4111111111111111 x", "credit card 4111111111111111 x", "CREDIT_CARD"),
        ("号码6200000000000005", "卡号6200000000000005", "CREDIT_CARD"),  # Chinese context word
    ],
)
def test_context_word_when_before_match_then_score_rises(
    plain: str, with_context: str, kind: str
) -> None:
    def score(text: str) -> float:
        spans = scan_pii([text], threshold=0.0)[0]
        return max((s.score for s in spans if s.type == kind), default=0.0)

    assert score(with_context) > score(plain)


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("Hi, my name is Sarah Chang and I need help.", "Sarah Chang"),  # first + last
        ("Dear Mr. Gallagher, thanks for writing.", "Gallagher"),  # honorific + surname
        ("Thanks Mark, I will call tomorrow.", "Mark"),  # lone first name after a cue
        ("Best regards,\nStephen Mcdaniel", "Stephen Mcdaniel"),  # signature
        ("您好，我叫王伟，我的账户无法登录。", "王伟"),  # 我叫 + surname + given
        ("联系人：欧阳秀英，电话13812345678", "欧阳秀英"),  # compound surname
        ("张建国先生，您的工单已处理。", "张建国"),  # cue after the name
        ("昨天李娜打电话说包裹丢了。", "李娜"),  # weak cues on both sides
        ("Yesterday I spoke to Priya Raman about it.", "Priya Raman"),  # mid-sentence, en_IN list
    ],
)
def test_person_when_name_in_sentence_then_found(text: str, name: str) -> None:
    assert ("PERSON", name) in found(text)


@pytest.mark.parametrize(
    "text",
    [
        "Please Send The Report By Friday.",  # capitalized words, no name list hit
        "I live at 19489 Kyle Stream now.",  # street name after a house number, not a person
        "明天方便的话请安排高级工程师上门。",  # surname characters inside ordinary words
    ],
)
def test_person_when_no_name_then_none(text: str) -> None:
    assert "PERSON" not in [t for t, _ in found(text)]


def test_offsets_when_text_has_cjk_and_emoji_then_code_points() -> None:
    text = "😀客户王伟的邮箱是wang.wei@example.com，电话+86 138 1234 5678。"
    spans = scan_pii([text])[0]
    assert [(text[s.start : s.end], s.type) for s in spans] == [
        ("王伟", "PERSON"),
        ("wang.wei@example.com", "EMAIL"),
        ("+86 138 1234 5678", "PHONE"),
    ]
    assert spans[1].start == text.index("wang")  # code points, not UTF-8 bytes


def test_address_when_us_and_cn_then_whole_address() -> None:
    en = "Ship to 19489 Kyle Stream Apt. 578, West Ryanborough, OH 63023 today."
    zh = "收货地址：青海省娜市花溪重庆街R座 860837，谢谢。"
    assert ("ADDRESS", "19489 Kyle Stream Apt. 578, West Ryanborough, OH 63023") in found(en)
    assert ("ADDRESS", "青海省娜市花溪重庆街R座 860837") in found(zh)


def test_resolve_overlaps_when_spans_overlap_then_higher_score_then_longer() -> None:
    spans = [
        Span(0, 10, "A", 0.5),
        Span(2, 8, "B", 0.9),  # higher score wins over the longer A
        Span(8, 20, "C", 0.7),
        Span(8, 14, "D", 0.7),  # same score: the longer C wins
    ]
    assert [s.type for s in resolve_overlaps(spans)] == ["B", "C"]


def test_span_to_dict_when_serialized_then_exactly_four_keys() -> None:
    assert Span(1, 4, "EMAIL", 0.9, "email").to_dict() == {
        "start": 1,
        "end": 4,
        "type": "EMAIL",
        "score": 0.9,
    }
