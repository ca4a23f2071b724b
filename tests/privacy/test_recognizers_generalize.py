"""Each class of miss that held-out text exposed: IPs, versions, card lengths, names in context."""

from __future__ import annotations

import pytest

from datawheel.privacy.recognizers_patterns import _card_base
from datawheel.privacy.recognizers_validators import luhn_valid
from datawheel.privacy.scan import scan_pii


def found(text: str, kind: str) -> list[str]:
    """The matched texts of type ``kind`` that scan_pii reports for ``text``."""
    return [text[s.start : s.end] for s in scan_pii([text])[0] if s.type == kind]


def _luhn(body: str) -> str:
    """``body`` completed with its Luhn check digit."""
    return next(body + d for d in "0123456789" if luhn_valid(body + d))


# --- IP_ADDRESS --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "ip"),
    [
        ("The order was placed from IP 197.220.66.24.", "197.220.66.24"),  # ends a sentence
        ("blocked 10.0.0.7, then 10.0.0.8.", "10.0.0.8"),  # last in a list, then a period
        ("client: 185.189.99.136, server: api", "185.189.99.136"),  # nginx error log
        ("upstream: http://192.168.1.20:8080/checkout", "192.168.1.20"),  # URL with an IP host
        ("X-Originating-IP: [203.0.113.9]", "203.0.113.9"),  # bracketed header value
        ("登录IP是156.214.6.160，不是我", "156.214.6.160"),  # after a Chinese character
    ],
)
def test_ipv4_when_address_in_context_then_found(text: str, ip: str) -> None:
    assert ip in found(text, "IP_ADDRESS")


@pytest.mark.parametrize(
    "text",
    [
        "Rev. 11.20.19.196-rc1 is out",  # version word before, build tag after
        "User-Agent: AcmeBank/2.1.18.247 (iPhone)",  # product/version token
        "Mozilla/5.0 (X11; rv:1.9.2.20) Gecko",  # the rv: token of a user agent
        "upgraded to firmware 10.4.12.5 yesterday",  # firmware version
        "see section 3.2.1.4 of the terms",  # a section number
        "app v2.14.3.1 crashes",  # 'v' glued to the number
        "SNMP OID 1.3.6.1.4.1.2021 returned nothing",  # more than four dotted numbers
        "版本号10.2.3.4更新后闪退",  # Chinese version word
        "agent bumped to 7.2.0.14 last night",  # upgrade verb + "to"
    ],
)
def test_ipv4_when_version_or_build_then_not_ip(text: str) -> None:
    assert found(text, "IP_ADDRESS") == []


def test_ipv4_when_version_word_is_not_right_before_then_found() -> None:
    # a CSV header naming a firmware column says nothing about the address in the next row
    text = "host,ip,mac,firmware\nsw-core-01,198.120.147.41,5f:13:73:5a:90:36,8.4.29.9269"
    assert found(text, "IP_ADDRESS") == ["198.120.147.41"]


# --- CREDIT_CARD ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("body", "grouping"),
    [
        ("675964982643845", (4, 4, 4, 4)),  # Maestro 16
        ("50381308505", (4, 4, 4)),  # Maestro 12
        ("676305770488", (4, 4, 5)),  # Maestro 13
        ("3056930902590", (4, 6, 4)),  # Diners 14
        ("37828224631000", (4, 6, 5)),  # Amex 15
        ("353011133330000", (4, 4, 4, 4)),  # JCB 16
        ("622848003888888888", (4, 4, 4, 4, 3)),  # UnionPay 19
        ("62221313695745625", (6, 12)),  # UnionPay 18 printed 6-12
        ("222100000000000", (4, 4, 4, 4)),  # Mastercard 2-series
        ("220000000000000", (4, 4, 4, 4)),  # Mir
        ("411111111111111111", (4, 4, 4, 4, 3)),  # Visa 19
    ],
)
@pytest.mark.parametrize("sep", [" ", "-", ""])
def test_card_when_any_iso_length_and_grouping_then_found(
    body: str, grouping: tuple[int, ...], sep: str
) -> None:
    number = _luhn(body)
    parts, i = [], 0
    for g in grouping:
        parts.append(number[i : i + g])
        i += g
    printed = sep.join(parts)
    assert found(f"charged on card {printed} twice", "CREDIT_CARD") == [printed]


@pytest.mark.parametrize(
    "text",
    [
        "order 4111 1111 1111 1112 shipped",  # Luhn fails
        "card **** **** **** 4242 expired",  # masked
        "tracking 9400 1000 0000 1234 5678 90",  # 22 digits: USPS tracking
        "id 1234 5678-9012 3456",  # two kinds of separator
        "订单号2024031512345678901已发货",  # an order number (prefix 20…: no issuer)
        "call +44 7700 900123 4",  # a phone number with a plus
    ],
)
def test_card_when_not_a_card_then_none(text: str) -> None:
    assert found(text, "CREDIT_CARD") == []


@pytest.mark.parametrize(
    ("template", "body", "grouping", "sep"),
    [
        ("card {}, please", "483828826212", (4, 4, 4, 1), " "),  # 13 digits chunked by four
        ("卡号：{}", "6205594855508189", (4, 4, 4, 4, 1), " "),  # UnionPay 17 chunked by four
        ("85509,{},09/29,89238", "477672217249713", (4, 4, 4, 4), " "),  # a CSV field
        ("卡号{}。", "3580840668318566", (4, 4, 4, 5), "."),  # dots, JCB 17
        ("card={} declined", "979260127835889", (4, 4, 4, 4), "-"),  # Troy
        ("card {} ok", "506117935746146920", (6, 13), " "),  # Verve 19 printed 6-13
        ("card {} ok", "439801215230", (4, 3, 3, 3), " "),  # an embossed 13-digit Visa
        ('"pan":"{}"', "979232313374202", (16,), ""),  # JSON value, no separators
    ],
)
def test_card_when_printed_in_records_then_found(
    template: str, body: str, grouping: tuple[int, ...], sep: str
) -> None:
    number = _luhn(body)
    parts, i = [], 0
    for g in grouping:
        parts.append(number[i : i + g])
        i += g
    printed = sep.join(parts)
    assert found(template.format(printed), "CREDIT_CARD") == [printed]


def test_card_when_inside_a_longer_digit_run_then_none() -> None:
    card = _luhn("420019566854632")
    # a 28-digit payment transaction id that begins with a valid card number
    assert found(f"交易流水号{card}685143567629已对账", "CREDIT_CARD") == []
    # mixed separators: the grouping goes on past the card
    assert found(f"ref {card[:4]} {card[4:8]} {card[8:12]} {card[12:]}-5 x", "CREDIT_CARD") == []


def test_card_when_it_contains_a_phone_shape_then_card_only() -> None:
    card = _luhn("220205572622927")
    printed = " ".join(card[i : i + 4] for i in range(0, 16, 4))
    spans = scan_pii([f"Caller: It's {printed}."])[0]
    assert [(s.type, s.end - s.start) for s in spans] == [("CREDIT_CARD", len(printed))]


@pytest.mark.parametrize(
    ("text", "phone"),
    [
        ("Firefighter\n(490) 500-9829", "(490) 500-9829"),  # "ref" inside a word is no label
        ("已由快递员王芳（177-6175-8418）派送", "177-6175-8418"),  # the courier's own number
    ],
)
def test_phone_when_not_pii_word_only_looks_alike_then_found(text: str, phone: str) -> None:
    assert found(text, "PHONE") == [phone]


def test_phone_when_after_an_order_label_then_none() -> None:
    assert found("快递单号 13812345678 已签收", "PHONE") == []


def test_card_base_when_rare_length_then_needs_context() -> None:
    # a 13-digit Visa is legitimate but rare: reported only with a context word
    number = _luhn("411111111111")
    assert 0 < _card_base(number) < 0.5
    assert found(f"ref {number} ok", "CREDIT_CARD") == []
    assert found(f"card {number} ok", "CREDIT_CARD") == [number]


# --- PERSON, English ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "names"),
    [
        ("Customer Zebulon Quixotewright here, my order is late.", ["Zebulon Quixotewright"]),
        ("Hello, my name is Olette Stromere and I can't log in.", ["Olette Stromere"]),
        ('From: "Alvin O\'Brien" <ab@example.com>', ["Alvin O'Brien"]),  # display name
        ("Cc: Ann Lee <a@x.io>, Tamisande Gallodale <t@x.io>", ["Ann Lee", "Tamisande Gallodale"]),
        ('From: "O\'Neill, Danielle" <d@x.com>', ["O'Neill, Danielle"]),  # Last, First
        ("Thanks,\nTimothy McKenna M.D.\nChief of Cardiology", ["Timothy McKenna"]),  # credential
        ("--\nRoiel Hollobury, DDS\nFamily Dental Care", ["Roiel Hollobury"]),  # signature
        ("Kind regards,\nMs. Kyano Fredriks Jr.\nHR", ["Kyano Fredriks Jr."]),  # suffix kept
        ("I spoke with Ms. McAllister yesterday.", ["McAllister"]),  # honorific + Mc name
        ("Sara MacIntyre joined the channel.", ["Sara MacIntyre"]),  # Mac name, chat event
        ("[10:32] Jane Trần: calling now", ["Jane Trần"]),  # chat speaker, Vietnamese
        ("Dr. Ísis Silveira is great.", ["Ísis Silveira"]),  # accented, after a title
        ("My name is Xavi van der Laar.", ["Xavi van der Laar"]),  # particles inside
        ("Call John Smith at 5pm.", ["John Smith"]),  # capitalized verb before a listed name
        ("— Melania Argentero, Austin TX", ["Melania Argentero"]),  # review signature dash
        ("Ticket opened by Steven A. Zimmerman (f@x.net)", ["Steven A. Zimmerman"]),  # "A." initial
        ("Reported-by: Suzanne I. Walker", ["Suzanne I. Walker"]),  # git trailer, "I." initial
        ('level=error customer="Débora V. Bueno" attempt=3', ["Débora V. Bueno"]),  # key=value
        ('{"owner":"Akdora Bilgin","phone":null}', ["Akdora Bilgin"]),  # a JSON field
        ("ATTENDEE;CN=Hanedan Akar:mailto:a@b.me", ["Hanedan Akar"]),  # iCalendar common name
        ('op=update contact="Hegde, Nitesh" by=sync', ["Hegde, Nitesh"]),  # quoted Last, First
        ("Guests: Raf Massa, Nüdret Akçay; Ola Ade", ["Raf Massa", "Nüdret Akçay", "Ola Ade"]),
        ("Registered to: Cynthia G. St. Clair (m@f.fm)", ["Cynthia G. St. Clair"]),  # St. particle
        ("Payment received from Fiamma Brunelleschi today", ["Fiamma Brunelleschi"]),
        ("Caller: İmren Ergül.\nAgent: And the card?", ["İmren Ergül"]),  # İ lower-cases to two
    ],
)
def test_person_en_when_name_in_slot_then_found(text: str, names: list[str]) -> None:
    assert found(text, "PERSON") == names


@pytest.mark.parametrize(
    "text",
    [
        "We stopped at Best Buy and then Grand Central.",  # capitalized places
        "Microsoft Teams keeps asking me to sign in.",  # product names
        "User-Agent: Mozilla/5.0 (Windows NT 10.0)",  # 'agent:' inside User-Agent
        "New address: 42395 David Mall. Main line 555-0100.",  # street name after a number
        "Sent from my iPhone",  # mail client footer
        "Hope this helps! Kind regards, the Support Team",  # sign-off without a name
        "User agent Mozilla/5.0 (Android 2.1; Mobile)",  # product token after "agent"
        "Customer: Right, that's the old phone.",  # a speaker label, then an utterance
    ],
)
def test_person_en_when_no_name_then_none(text: str) -> None:
    assert found(text, "PERSON") == []


# --- PERSON, Chinese ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "names"),
    [
        ("快递员孙雪送货很快", ["孙雪"]),  # role word before
        ("客服张小娴态度很好", ["张小娴"]),  # rare given character, not cut in the middle
        ("收款人：陈淑珍，开户行招商银行", ["陈淑珍"]),  # label with a colon
        ("退款人：管华", ["管华"]),  # refund form
        ("店长李勇说可以换货", ["李勇"]),  # shop manager
        ("我老公陈桂的手机号是多少", ["陈桂"]),  # kinship word; 公 is no surname here
        ("房东王庆人很好", ["王庆"]),  # 人 ends no name
        ("我和孙雪一起去的", ["孙雪"]),  # 和…一起 frame: not 孙雪一
        ("你跟王建国说一声", ["王建国"]),  # 跟…说 frame
        ("刘老师，孩子今天请假", []),  # surname + title alone is not annotated
        ("欧阳娜娜老师您好", ["欧阳娜娜"]),  # compound surname before a title
        ("杨辉 13:29\n你到哪了？", ["杨辉"]),  # chat-export speaker line
        ("昨天李娜打电话说包裹丢了", ["李娜"]),  # a name jieba also lists, with cues
        ("李娜女士您好，退款已经到账", ["李娜"]),  # an honorific is said of people only
        ("收银员张倩很耐心", ["张倩"]),  # a role word ending in 员
        ("2026-11-06 15:27:09 王文丽：你好", ["王文丽"]),  # chat export: time, name, colon
        ("参会人：上官平浩、诸葛丽晶、江晨敏", ["上官平浩", "诸葛丽晶", "江晨敏"]),  # a 、 list
        ("姓名：陳美麗\n持卡人：歐陽志偉", ["陳美麗", "歐陽志偉"]),  # traditional characters
        ("经办人：付菲珂，审核人：肖然", ["付菲珂", "肖然"]),  # 付 and 肖, top-100 surnames
        ("感谢李小军师傅上门安装", ["李小军"]),  # the title follows the name, not 军师
        ("用户张琴登录成功", ["张琴"]),  # 登录 starts after the name
    ],
)
def test_person_zh_when_name_in_context_then_found(text: str, names: list[str]) -> None:
    assert found(text, "PERSON") == names


@pytest.mark.parametrize(
    "text",
    [
        "居然第二天就到了",  # adverb starting with 居
        "发票已经盖章了，请查收。",  # 盖章, 查收
        "孩子上高中以后，初中的时候还好",  # 高中, 初中
        "明明说好包邮的",  # 明明
        "住在龙岩很安逸，很幸福。",  # place name, adjectives
        "华为手机和小米手机我都用过",  # brand names
        "万达广场人特别多",  # brand
        "跟客服说了好几次",  # 跟…说 frame without a name
        "周末同学推荐的，钱包同学也说好",  # ordinary words before a role noun
        "华为同学推荐的，盖章同学说可以",  # words jieba tags as names, before a role noun
        "黄金同学推荐的",  # 金 inside 黄金 starts no name
    ],
)
def test_person_zh_when_common_word_then_none(text: str) -> None:
    assert found(text, "PERSON") == []
