# ruff: noqa: E501  (templates are data: one real-looking message a line)
"""An independent PII evaluation corpus: tickets, logs, e-mails, chat exports and reviews.

Written from the shape of real operational text (helpdesk tickets, nginx/sshd/application logs,
e-mail headers and signatures, Slack and WeChat exports, shop reviews, refund forms), not from
the recognizers or from `pii_corpus.py`. Values come from Faker (en_US, zh_CN and a few European
locales for non-Anglo names) with a fixed seed, plus invented names that are on no list.

Gold spans follow the `pii scan` contract: ``(start, end, type)`` in Python code points, end
exclusive, types ``PERSON EMAIL PHONE CREDIT_CARD IBAN US_SSN CN_RESIDENT_ID IP_ADDRESS URL
ADDRESS``. Annotation conventions:

- PERSON covers the name itself: given names, middle initials, surname and a generational suffix
  ("Jr.", "III"); not an honorific ("Ms.", "Dr.", "先生") nor a credential ("MD", "DDS", "PhD").
  "Last, First" display names are one span. A surname alone after a title ("Mr. Okafor") is a span.
  Chinese surname + title ("王师傅") without a given name is not annotated and not generated.
- IP_ADDRESS covers the address, not a port, prefix length or brackets.
- URL covers scheme or ``www.`` through the path/query, not trailing punctuation.
- PHONE covers the number with its country code and extension as written.
- EMAIL covers every address by its form, role mailboxes ("support@…") included.
- CREDIT_CARD covers the digits with their separators; masked numbers ("**** 4242") are not PII.
- ADDRESS covers a street line with its city/state/zip when they follow on the same line; a
  Chinese address from the province or city down to the number/room.

Hard negatives are mixed in on purpose: version strings and build tags with four dotted numbers,
user agents, OIDs, order and tracking numbers, timestamps, amounts, UUIDs, hashes, masked cards,
capitalized product and place names, and Chinese words that begin with a surname character.

Provenance: written before the recognizers were changed for it, by the same engineer who changed
them (no separate author was available), from the formats above rather than from the recognizer
code; one annotation fix was made after the first run (role mailboxes annotated as EMAIL).

Splits: ``dev`` and ``heldout`` use disjoint seeds *and* disjoint phrasings (every fourth variant
of each list is held out), so the held-out split measures phrasings never seen while developing.
"""

from __future__ import annotations

import random
import re
import string
from collections.abc import Callable
from dataclasses import dataclass, field

from faker import Faker

TYPES = (
    "PERSON", "EMAIL", "PHONE", "CREDIT_CARD", "IBAN", "US_SSN", "CN_RESIDENT_ID", "IP_ADDRESS",
    "URL", "ADDRESS",
)  # fmt: skip
STRUCTURED = (
    "EMAIL",
    "PHONE",
    "CREDIT_CARD",
    "IBAN",
    "US_SSN",
    "CN_RESIDENT_ID",
    "IP_ADDRESS",
    "URL",
)
SPLIT_SEED = {"dev": 20240601, "heldout": 77003311}

Piece = tuple[str, "str | None"]


@dataclass
class Doc:
    text: str
    lang: str
    genre: str
    spans: list[tuple[int, int, str]] = field(default_factory=list)


class Builder:
    """Appends text and records the exact offsets of every gold value."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.spans: list[tuple[int, int, str]] = []
        self.n = 0

    def add(self, text: str, kind: str | None = None) -> None:
        if kind is not None:
            self.spans.append((self.n, self.n + len(text), kind))
        self.parts.append(text)
        self.n += len(text)

    def text(self) -> str:
        return "".join(self.parts)


def _luhn_complete(body: str) -> str:
    total = 0
    for i, ch in enumerate(reversed(body)):
        d = int(ch)
        if i % 2 == 0:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return body + str((10 - total % 10) % 10)


# Issuer prefixes and lengths (ISO/IEC 7812 ranges as issuers publish them) and how each is
# printed on cards and receipts.
_CARD_KINDS = [
    # name, prefixes, lengths, groupings per length
    ("visa", ["4"], [16, 13, 19], {16: [4, 4, 4, 4], 13: [4, 4, 5], 19: [4, 4, 4, 4, 3]}),
    (
        "mastercard",
        ["51", "52", "53", "54", "55", "2221", "2720", "2500"],
        [16],
        {16: [4, 4, 4, 4]},
    ),
    ("amex", ["34", "37"], [15], {15: [4, 6, 5]}),
    ("diners", ["36", "300", "305", "38"], [14], {14: [4, 6, 4]}),
    ("discover", ["6011", "65", "644"], [16], {16: [4, 4, 4, 4]}),
    ("jcb", ["3528", "3530", "3589"], [16, 19], {16: [4, 4, 4, 4], 19: [4, 4, 4, 4, 3]}),
    (
        "maestro",
        ["5018", "5020", "5038", "6304", "6759", "6761", "6763"],
        [12, 13, 15, 16, 18, 19],
        {
            12: [4, 4, 4],
            13: [4, 4, 5],
            15: [4, 6, 5],
            16: [4, 4, 4, 4],
            18: [4, 4, 4, 6],
            19: [4, 4, 4, 4, 3],
        },
    ),
    (
        "unionpay",
        ["62", "6212", "6222", "6228", "6217"],
        [16, 17, 18, 19],
        {16: [4, 4, 4, 4], 17: [4, 4, 4, 5], 18: [6, 12], 19: [4, 4, 4, 4, 3]},
    ),
    ("mir", ["2200", "2202", "2204"], [16], {16: [4, 4, 4, 4]}),
]

# Invented names, on no list: syllables that read as English names but are not common ones.
_FIRST_A = ["Ze", "Qui", "Tam", "Bri", "Ol", "Ro", "Dar", "Ev", "Thad", "Lys", "Cor", "Ambr"]
_FIRST_B = ["bulon", "ndra", "iel", "wen", "isande", "andor", "eline", "ric", "deus", "ette"]
_LAST_A = ["Quix", "Thorn", "Ash", "Vel", "Hollo", "Brack", "Wim", "Fen", "Gallo", "Stro"]
_LAST_B = ["otewright", "dale", "combe", "ington", "worth", "bury", "hollow", "stead", "mere"]
_MC = ["McAllister", "MacDonald", "McKenna", "MacLeod", "McGillicuddy", "MacIntyre", "McCready"]
_APOS = ["O'Brien", "O'Sullivan", "D'Angelo", "O'Neill", "D'Souza"]
_INTL_LOCALES = ["de_DE", "fr_FR", "es_ES", "it_IT", "pl_PL", "nl_NL", "pt_BR", "sv_SE", "vi_VN"]

# Given-name characters in everyday use (written for this corpus, not taken from any list).
_ZH_GIVEN = (
    "子梓浩宇轩涵欣怡思雨佳俊杰明华建国志伟强军平芳丽敏静娟霞秀英玉兰桂凤红艳萍琳婷雪晶颖"
    "慧倩璐瑶琪晨阳磊鹏飞涛斌超勇刚辉亮峰海波东文武德仁义智信诚忠安宁康乐福庆春秋梅竹菊松"
    "柏林森山川江云霖露月星辰光晓昊天宏博睿哲然一诺依可悦馨娜丹彤萱语嫣妍婉淑惠贤芬珍珠翠"
    "琴瑞祥泰嘉豪帅毅坤鑫淼焱晖煜炜璟瑾珂琦蕊薇莉茜蕾菲萌朵甜娴蓉莹洁岚钰铭锦程远航泽洋"
    "清源逸凡骏驰腾達彬健振兴昌盛琛璇玥婧妮姗媛婕舒蔚瀚锋铮翔鸿鹤霏昕昱烨晴朗宸翊恺"
)
_ZH_SURNAME_COMPOUND = ["欧阳", "司马", "诸葛", "上官", "司徒", "慕容", "夏侯"]
_ZH_PROVINCES = [
    ("广东省", ["深圳市", "广州市", "东莞市", "佛山市"], ["南山区", "福田区", "天河区", "南城区"]),
    ("浙江省", ["杭州市", "宁波市", "温州市"], ["西湖区", "滨江区", "鄞州区", "鹿城区"]),
    ("江苏省", ["南京市", "苏州市", "无锡市"], ["鼓楼区", "工业园区", "梁溪区"]),
    ("四川省", ["成都市", "绵阳市"], ["武侯区", "锦江区", "涪城区"]),
    ("北京市", [""], ["海淀区", "朝阳区", "东城区"]),
    ("上海市", [""], ["浦东新区", "徐汇区", "静安区"]),
    ("湖北省", ["武汉市", "宜昌市"], ["洪山区", "江汉区", "西陵区"]),
    ("福建省", ["厦门市", "龙岩市", "福州市"], ["思明区", "新罗区", "鼓楼区"]),
]
_ZH_ROADS = ["科技园路", "文三路", "中山路", "人民大道", "建设街", "解放路", "学院路", "滨江大道"]


class Values:
    """Faker-backed values for every slot, seeded once per corpus."""

    def __init__(self, seed: int) -> None:
        self.r = random.Random(seed)
        self.en = Faker("en_US")
        self.en.seed_instance(seed)
        self.zh = Faker("zh_CN")
        self.zh.seed_instance(seed + 1)
        self.intl = [Faker(loc) for loc in _INTL_LOCALES]
        for i, f in enumerate(self.intl):
            f.seed_instance(seed + 100 + i)
        self.iban_fakers = [
            Faker(loc) for loc in ("en_GB", "de_DE", "fr_FR", "nl_NL", "es_ES", "it_IT")
        ]
        for i, f in enumerate(self.iban_fakers):
            f.seed_instance(seed + 200 + i)

    # --- people ---------------------------------------------------------------------------
    def en_first_last(self) -> tuple[str, str]:
        r = self.r
        k = r.random()
        if k < 0.40:
            return self.en.first_name(), self.en.last_name()
        if k < 0.65:
            f = r.choice(self.intl)
            return f.first_name(), f.last_name()
        if k < 0.80:
            first = r.choice(_FIRST_A) + r.choice(_FIRST_B)
            return first, r.choice(_LAST_A) + r.choice(_LAST_B)
        return self.en.first_name(), r.choice(_MC + _APOS)

    def en_name(self) -> str:
        first, last = self.en_first_last()
        k = self.r.random()
        if k < 0.1:
            return f"{first} {self.r.choice(string.ascii_uppercase)}. {last}"
        if k < 0.14:
            return f"{first} {last} {self.r.choice(['Jr.', 'III', 'Sr.'])}"
        return f"{first} {last}"

    def zh_name(self) -> str:
        r = self.r
        if r.random() < 0.45:
            return self.zh.name()
        surname = r.choice(_ZH_SURNAME_COMPOUND) if r.random() < 0.04 else self.zh.last_name()
        if len(surname) > 1 and r.random() < 0.5:
            surname = self.zh.last_name()
        n = 1 if r.random() < 0.35 else 2
        given = "".join(r.choice(_ZH_GIVEN) for _ in range(n))
        if n == 2 and r.random() < 0.08:
            given = "小" + given[1]
        return surname + given

    # --- contact -----------------------------------------------------------------------------
    def email_for(self, first: str, last: str) -> str:
        r = self.r
        clean = lambda s: re.sub(r"[^a-z]", "", s.lower()) or "user"  # noqa: E731
        user = r.choice(
            [f"{clean(first)}.{clean(last)}", f"{clean(first)[0]}{clean(last)}",
             f"{clean(first)}{r.randint(1, 99)}", f"{clean(last)}.{clean(first)}+billing"]
        )  # fmt: skip
        domain = r.choice(
            [self.en.free_email_domain(), self.en.domain_name(), "mail.acme-corp.com"]
        )
        return f"{user}@{domain}"

    def email(self, lang: str = "en") -> str:
        r = self.r
        if lang == "zh" and r.random() < 0.4:
            return f"{r.randint(10000, 3999999999)}@{r.choice(['qq.com', '163.com', '126.com', 'sina.com'])}"
        return (self.zh if lang == "zh" else self.en).email()

    def us_phone(self) -> str:
        r = self.r
        a, b, c = r.randint(201, 989), r.randint(200, 999), r.randint(0, 9999)
        fmt = r.choice(
            ["({a}) {b}-{c:04d}", "{a}-{b}-{c:04d}", "{a}.{b}.{c:04d}", "+1 {a} {b} {c:04d}",
             "+1-{a}-{b}-{c:04d}", "1-{a}-{b}-{c:04d}", "({a}) {b}-{c:04d} ext. {x}",
             "{a}-{b}-{c:04d} x{x}"]
        )  # fmt: skip
        return fmt.format(a=a, b=b, c=c, x=r.randint(2, 4999))

    def intl_phone(self) -> str:
        r = self.r
        return r.choice(
            ["+44 20 7946 {:04d}", "+44 7700 900{:03d}", "+49 30 901820{:02d}", "+33 1 42 68 53 {:02d}",
             "+61 2 9374 {:04d}", "+353 1 555 {:04d}", "+91 98765 4{:04d}"]
        ).format(r.randint(0, 99))  # fmt: skip

    def cn_mobile(self) -> str:
        r = self.r
        n = f"1{r.choice('3456789')}{r.randint(0, 9)}{r.randint(0, 99999999):08d}"
        k = r.random()
        if k < 0.5:
            return n
        if k < 0.7:
            return f"{n[:3]} {n[3:7]} {n[7:]}"
        if k < 0.85:
            return f"{n[:3]}-{n[3:7]}-{n[7:]}"
        return f"+86 {n}" if r.random() < 0.5 else f"+86-{n[:3]}-{n[3:7]}-{n[7:]}"

    def cn_landline(self) -> str:
        r = self.r
        area = r.choice(["010", "021", "020", "0755", "0571", "028", "0592"])
        digits = 8 if len(area) == 3 else r.choice([7, 8])
        num = f"{r.randint(2, 9)}{r.randint(0, 10 ** (digits - 1) - 1):0{digits - 1}d}"
        return r.choice([f"{area}-{num}", f"({area}){num}", f"{area} {num[:4]} {num[4:]}"])

    def card(self) -> str:
        r = self.r
        _name, prefixes, lengths, groups = r.choice(_CARD_KINDS)
        length = r.choice(lengths)
        prefix = r.choice(prefixes)
        body = prefix + "".join(r.choice("0123456789") for _ in range(length - len(prefix) - 1))
        number = _luhn_complete(body)
        style = r.random()
        if style < 0.3:
            return number
        sep = "-" if style > 0.85 else " "
        out, i = [], 0
        for g in groups[length]:
            out.append(number[i : i + g])
            i += g
        return sep.join(out)

    def iban(self) -> str:
        v = self.r.choice(self.iban_fakers).iban()
        if self.r.random() < 0.5:
            v = " ".join(v[i : i + 4] for i in range(0, len(v), 4))
        return v

    def ssn(self) -> str:
        return self.en.ssn()

    def cn_id(self) -> str:
        v = self.zh.ssn()
        if v.endswith("X") and self.r.random() < 0.2:
            v = v[:-1] + "x"
        return v

    def ipv4(self) -> str:
        r = self.r
        k = r.random()
        if k < 0.5:
            return self.en.ipv4_public()
        if k < 0.8:
            return self.en.ipv4_private()
        return f"{r.randint(1, 223)}.{r.randint(0, 255)}.{r.randint(0, 255)}.{r.randint(1, 254)}"

    def ipv6(self) -> str:
        r = self.r
        if r.random() < 0.5:
            return self.en.ipv6()
        groups = [f"{r.randint(0, 0xFFFF):x}" for _ in range(3)]
        return (
            f"2001:db8:{groups[0]}::{groups[1]}"
            if r.random() < 0.5
            else f"fe80::{':'.join(groups)}"
        )

    def url(self) -> str:
        r = self.r
        host = r.choice(
            [self.en.domain_name(), f"www.{self.en.domain_name()}", "portal.acme-bank.com"]
        )
        path = r.choice(
            ["", "/", f"/account/{r.randint(1000, 99999)}", f"/help/articles/{self.en.slug()}",
             f"/orders?id={r.randint(10 ** 6, 10 ** 7)}&ref=email", f"/reset-password?token={self.en.md5()[:16]}",
             f"/{self.en.slug()}.html"]
        )  # fmt: skip
        scheme = r.choice(["https://", "https://", "http://", ""])
        if not scheme and not host.startswith("www."):
            scheme = "https://"
        return scheme + host + path

    def us_address(self) -> str:
        en = self.en
        street = en.street_address()
        if self.r.random() < 0.6:
            return f"{street}, {en.city()}, {en.state_abbr()} {en.zipcode()}"
        return street

    def zh_address(self) -> str:
        r = self.r
        prov, cities, districts = r.choice(_ZH_PROVINCES)
        city = r.choice(cities)
        num = r.randint(1, 999)
        tail = r.choice(
            ["", f"{r.randint(1, 30)}栋{r.randint(101, 2808)}室", f"{r.randint(1, 12)}号楼"]
        )
        head = prov if r.random() < 0.7 else ""
        return f"{head}{city}{r.choice(districts)}{r.choice(_ZH_ROADS)}{num}号{tail}"

    # --- hard negatives ------------------------------------------------------------------------
    def version4(self) -> str:
        r = self.r
        return r.choice(
            ["{a}.{b}.{c}.{d}", "v{a}.{b}.{c}.{d}", "{a}.{b}.{c}.{d}-rc{e}", "{a}.{b}.{c}.{d}-beta"]
        ).format(
            a=r.randint(1, 30),
            b=r.randint(0, 40),
            c=r.randint(0, 99),
            d=r.randint(100, 9999),
            e=r.randint(1, 4),
        )

    def user_agent(self) -> str:
        r = self.r
        return r.choice(
            [self.en.chrome(), self.en.firefox(), self.en.safari(),
             f"AcmeBank/{r.randint(1, 9)}.{r.randint(0, 20)}.{r.randint(0, 40)}.{r.randint(100, 999)} (iPhone; iOS 17.4.1)",
             f"okhttp/4.{r.randint(1, 12)}.{r.randint(0, 9)}",
             "Dalvik/2.1.0 (Linux; U; Android 14; SM-S918B Build/UP1A.231005.007)"]
        )  # fmt: skip

    def order_no(self) -> str:
        r = self.r
        return r.choice(
            [f"{r.randint(100, 999)}-{r.randint(10 ** 6, 10 ** 7 - 1)}-{r.randint(10 ** 6, 10 ** 7 - 1)}",
             f"INV-{r.randint(2019, 2025)}-{r.randint(1, 99999):05d}", f"#{r.randint(10 ** 5, 10 ** 7)}",
             f"SO{r.randint(10 ** 9, 10 ** 10 - 1)}", f"INC{r.randint(1, 9999999):07d}"]
        )  # fmt: skip

    def cn_order_no(self) -> str:
        r = self.r
        return f"{r.randint(2023, 2025)}{r.randint(1, 12):02d}{r.randint(1, 28):02d}{r.randint(10**9, 10**10 - 1)}"

    def tracking(self) -> str:
        r = self.r
        return r.choice(
            [f"1Z{r.randint(100, 999)}AA1{r.randint(10 ** 9, 10 ** 10 - 1)}", f"SF{r.randint(10 ** 11, 10 ** 12 - 1)}",
             f"YT{r.randint(10 ** 12, 10 ** 13 - 1)}", f"9400 1000 0000 {r.randint(1000, 9999)} {r.randint(1000, 9999)} {r.randint(10, 99)}",
             f"{r.randint(10 ** 11, 10 ** 12 - 1)}"]
        )  # fmt: skip

    def timestamp(self) -> str:
        d = self.en.date_time_between(start_date="-2y")
        r = self.r
        return r.choice(
            [d.strftime("%Y-%m-%d %H:%M:%S"), d.strftime("%Y-%m-%dT%H:%M:%S.") + f"{r.randint(0, 999):03d}Z",
             d.strftime("%d/%b/%Y:%H:%M:%S +0000"), str(int(d.timestamp())), d.strftime("%b %d %H:%M:%S")]
        )  # fmt: skip

    def masked_card(self) -> str:
        return self.r.choice(
            ["**** **** **** {}", "XXXX-XXXX-XXXX-{}", "ending in {}", "尾号{}"]
        ).format(self.r.randint(1000, 9999))

    def amount(self) -> str:
        r = self.r
        return r.choice(
            [
                f"${r.randint(1, 5000)}.{r.randint(0, 99):02d}",
                f"${r.randint(1, 99)},{r.randint(0, 999):03d}.00",
                f"€{r.randint(5, 900)}",
            ]
        )


# ---------------------------------------------------------------------------------------------
# Templates. ``{SLOT}`` is filled by `_SLOTS`; gold slots are upper-case names of the types.
# Each list is split by position: every fourth entry (index % 4 == 3) is held out.

EN_TICKETS = [
    "Subject: Charged twice for order {ORDER}\n\nHi,\nI was billed twice on my card {CREDIT_CARD} for the same order. "
    "Please refund one of the charges.\n\nThanks,\n{PERSON}\n{PHONE}",
    "Subject: Can't log in\n\nHello support, my name is {PERSON} and since yesterday the app says my password is wrong. "
    "I reset it from {URL} but the link expired. You can reach me at {EMAIL}.",
    "Ticket {ORDER} — priority P2\nReporter: {PERSON} <{EMAIL}>\nThe customer says someone logged in from {IPV4}. "
    "They were in Chicago at the time.",
    "Customer {PERSON} here. I ordered a blender ({ORDER}) and it still shows processing. My phone is {PHONE}.",
    "Hello, this is {PERSON} from accounting. Please update the vendor bank details to IBAN {IBAN} effective next month.",
    "Hi team, the order was placed from IP {IPV4}. Can you confirm whether it was flagged?",
    "Refund request: card {CREDIT_CARD}, amount {AMOUNT}. Cardholder {PERSON}. Original receipt attached.",
    "Please ship the replacement to {US_ADDRESS}. Attn: {PERSON}.",
    "Hello,\n\nMy SSN on file is wrong. It should be {SSN}. I have attached a copy of my card.\n\nRegards,\n{PERSON}",
    "The payment failed again with {CREDIT_CARD}. I tried {MASKED} as well. Running app version {VERSION4}.",
    "Our office moved. New address: {US_ADDRESS}. Main line {PHONE}.",
    "Hi {PERSON}, thanks for waiting. I've escalated this to {PERSON} on the billing team.",
    "My name is {PERSON}, customer since 2019. The statement lists a transfer to {IBAN} I never made.",
    "I spoke with {HONORIFIC} {LAST} yesterday and she told me to email {EMAIL}.",
    "Good morning! {HONORIFIC} {PERSON} asked me to forward the invoice {ORDER} for {AMOUNT}.",
    "please call me back on {PHONE}, best after 6pm. - {PERSON}",
]

EN_EMAILS = [
    'From: "{PERSON}" <{EMAIL}>\nTo: {ROLE_EMAIL}\nCc: {PERSON} <{EMAIL}>, {PERSON} <{EMAIL}>\n'
    "Date: {TIMESTAMP}\nSubject: RE: account locked\n\nStill locked. Tried again from {IPV4}.",
    "From: {PERSON} <{EMAIL}>\nSent: {TIMESTAMP}\nTo: {PERSON}\nSubject: Wire instructions\n\n"
    "Please use {IBAN} for the payment. Call {PHONE} to confirm.",
    'From: "{LASTCOMMA}" <{EMAIL}>\nCc: "{LASTCOMMA}" <{EMAIL}>\nSubject: Updated contact\n\nMy mobile is now {PHONE}.',
    "Received: from mail.example.net ([{IPV4}])\nX-Originating-IP: [{IPV4}]\nFrom: {PERSON} <{EMAIL}>\n"
    "Message-ID: <{UUID}@mail.example.net>\nUser-Agent: {UA}",
    "--\n{PERSON}, {CREDENTIAL}\nFamily Dental Care\n{US_ADDRESS}\nOffice: {PHONE} | Fax: {PHONE}\n{URL}",
    "Best regards,\n\n{PERSON}\nSenior Account Manager | Globex Inc.\nM: {PHONE}\nE: {EMAIL}",
    "Thanks,\n{PERSON} {SUFFIXCRED}\nChief of Cardiology\n{PHONE}",
    "On {TIMESTAMP}, {PERSON} <{EMAIL}> wrote:\n> Can you send me the form again?\nSure, attached.",
    "To: {EMAIL}\nCc: {EMAIL}; {PERSON} <{EMAIL}>\nSubject: onboarding\n\nWelcome aboard! Your badge will be ready Monday.",
    "Cheers,\n{PERSON}\n\nSent from my iPhone",
    "Kind regards,\n{HONORIFIC} {PERSON}\nHR Business Partner\nT {PHONE}",
    "Hi {FIRST},\n\nThe form asks for your SSN ({SSN}) and a voided check. Let me know if {URL} does not load.\n\n{PERSON}",
]

EN_LOGS = [
    '{IPV4} - - [{TIMESTAMP}] "GET /api/v2/orders/{ORDER_DIGITS} HTTP/1.1" 200 5123 "-" "{UA}"',
    "{TIMESTAMP} sshd[{PID}]: Failed password for invalid user admin from {IPV4} port {PORT} ssh2",
    "{TIMESTAMP} WARN  auth.LoginService - too many attempts user={EMAIL} ip={IPV4} build={VERSION4}",
    "{TIMESTAMP} INFO  payments - tokenized card {CREDIT_CARD} for customer_id={PID} status=ok",
    "[{TIMESTAMP}] ERROR upstream timed out while connecting to upstream, client: {IPV4}, server: api.example.com, "
    'request: "POST /checkout HTTP/2.0", upstream: "http://{IPV4}:{PORT}/checkout"',
    "{TIMESTAMP} DEBUG request from [{IPV6}]:{PORT} agent={UA}",
    "{TIMESTAMP} kernel: [UFW BLOCK] IN=eth0 SRC={IPV4} DST={IPV4} LEN=40 PROTO=TCP SPT={PORT} DPT=22",
    "deploy {VERSION4} to prod-eu-1 finished in 42s (commit {SHA})",
    "X-Forwarded-For: {IPV4}, {IPV4}\nX-Request-Id: {UUID}",
    "{TIMESTAMP} INFO signup email={EMAIL} phone={PHONE} ref={URL}",
    "{TIMESTAMP} INFO  Rev. {VERSION4} started, pid {PID}, listening on {IPV4}:{PORT}",
    '{TIMESTAMP} ERROR KYC check failed for ssn={SSN} name="{PERSON}"',
]

EN_CHATS = [
    "[{CLOCK}] {PERSON}: hey, can you check order {ORDER}?\n[{CLOCK}] {PERSON}: on it\n[{CLOCK}] {PERSON}: thx",
    "{PERSON}  {CLOCK}\nthe VPN gives me {IPV4} but the dashboard still blocks me\n{PERSON}  {CLOCK}\ntry reconnecting",
    "[{CLOCK}] {PERSON}: customer wants the refund on the other card {CREDIT_CARD}\n[{CLOCK}] {PERSON}: ok",
    "[{CLOCK}] {PERSON}: loop in {PERSON} please, she owns billing\n[{CLOCK}] {PERSON}: done, cc'd {EMAIL}",
    "{PERSON} joined the channel.\n{PERSON}: morning all! standup in 5",
    "[{CLOCK}] {PERSON}: the link is {URL}\n[{CLOCK}] {PERSON}: 404 for me",
    "[{CLOCK}] {PERSON}: his number is {PHONE}\n[{CLOCK}] {PERSON}: calling now",
    "[{CLOCK}] {PERSON}: shipping address changed to {US_ADDRESS}",
]

EN_REVIEWS = [
    "★★★★★ {PERSON} at the front desk was amazing, sorted our booking in minutes.",
    "Two stars. Waited 40 minutes. The manager, {PERSON}, apologized but nothing changed.",
    "Dr. {PERSON} is the best dentist I've had. Highly recommend!",
    "— {PERSON}, Austin TX. Verified purchase.",
    "Great product, but the app (v{VERSION4}) keeps crashing on my Galaxy S23.",
    "Ask for {PERSON}, he knows the menu inside out.",
]

EN_CLEAN = [
    "Thanks for the quick reply, the issue is resolved now.",
    "Upgraded to firmware {VERSION4} and the router keeps rebooting every hour.",
    "User-Agent: {UA}",
    "Order {ORDER} was delivered on {TIMESTAMP}, tracking {TRACKING}.",
    "The invoice total was {AMOUNT}; we paid with the card {MASKED}.",
    "See section 3.2.1.4 of the Terms of Service for refund rules.",
    "SNMP OID 1.3.6.1.4.1.2021.10.1.3.1 returned no data after the upgrade.",
    "Request {UUID} took 1532 ms; retry budget 3/5.",
    "We stopped at Best Buy and then Grand Central before the train to New Haven.",
    "Microsoft Teams keeps asking me to sign in after the Windows update.",
    "Apple Pay fails at checkout but PayPal works fine.",
    "Build {VERSION4} ({SHA}) passed all 1,204 tests.",
    "Hope this helps! Kind regards, the Support Team",
    "Please do not reply to this message. This mailbox is not monitored.",
    "Sale ends Friday: 20% off everything, use code SPRING24 at checkout.",
    "Checked in at {TIMESTAMP}, room 1204, two nights.",
    "Latency p99 went from 12.5 ms to 48.7 ms after release {VERSION4}.",
    "Chrome {CHROMEVER} on macOS 14.4.1 shows a blank page.",
]

ZH_TICKETS = [
    "工单{CN_ORDER}：收件人：{PERSON}，电话：{CN_PHONE}，地址：{ZH_ADDRESS}。包裹显示已签收但本人没收到。",
    "退款申请\n退款人：{PERSON}\n退款账户：{CREDIT_CARD}\n退款金额：¥{PRICE}\n原因：商品破损",
    "收款人{PERSON}，开户行招商银行，卡号{CREDIT_CARD}，请财务今天打款。",
    "客户反馈：昨天快递员{PERSON}把包裹放在门口就走了，也没有打电话。",
    "客服{PERSON}态度很好，很快帮我处理了退货。",
    "联系人：{PERSON}\n手机：{CN_PHONE}\n邮箱：{ZH_EMAIL}\n身份证号：{CN_ID}",
    "我的身份证号是{CN_ID}，实名认证一直不通过，麻烦看一下。",
    "用户{PERSON}反映账号在{IPV4}异地登录，已冻结。",
    "请把发票寄到{ZH_ADDRESS}，收件人{PERSON}，{CN_PHONE}。",
    "经办人：{PERSON}  审核人：{PERSON}  日期：{TIMESTAMP}",
    "店长{PERSON}说可以换货，但是要我自己寄回去，运费谁出？",
    "您好，我是{PERSON}，订单号{CN_ORDER}一直没有发货。",
    "银行卡{CREDIT_CARD}被扣了两次款，尾号不对，请核实。",
    "{PERSON}女士您好，您的工单已处理，如有疑问请拨打{CN_PHONE}。",
    "{PERSON}先生：您的会员积分已到账。",
    "登录异常：IP {IPV4}，设备型号 HUAWEI P60，版本号{VERSION4}。",
]

ZH_CHATS = [
    "{PERSON} {CLOCK}\n你到哪了？\n{PERSON} {CLOCK}\n马上到，堵车了",
    "我和{PERSON}一起去的，她也觉得服务不错。",
    "你跟{PERSON}说一声，明天的会改到下午三点。",
    "{PERSON}老师，孩子今天发烧了请假一天。",
    "麻烦{PERSON}师傅明天上午来修一下空调。",
    "我老公{PERSON}的手机号是{CN_PHONE}，找不到我可以打他电话。",
    "{PERSON} {CLOCK}\n链接发你了 {URL}\n{PERSON} {CLOCK}\n收到",
    "群公告：请大家把邮箱发给{PERSON}，她统一登记。",
    "我妈妈{PERSON}的身份证是{CN_ID}，帮她挂个号。",
    "刚才司机{PERSON}打电话说找不到小区门口。",
    "同事{PERSON}推荐的，确实好用。",
    "跟{PERSON}和{PERSON}一起吃的火锅，味道一般。",
]

ZH_REVIEWS = [
    "快递员{PERSON}送货很快，态度也好，五星好评！",
    "客服{PERSON}居然一直不回消息，差评。",
    "感谢店长{PERSON}的耐心讲解，下次还来。",
    "导购{PERSON}很专业，推荐的面霜很适合我。",
    "这家店的{PERSON}师傅手艺好，理发很满意。",
    "物流太慢了，联系了骑手{PERSON}也没用。",
    "房东{PERSON}人很好，押金第二天就退了。",
    "酒店前台{PERSON}帮我们升级了房间，非常感谢！",
]

ZH_CLEAN = [
    "居然第二天就到了，包装也很结实。",
    "发票已经盖章了，请查收。",
    "孩子上高中以后学习压力很大，初中的时候还好。",
    "明明说好包邮的，结果还要补运费。",
    "住在龙岩很安逸，生活节奏慢，很幸福。",
    "华为手机和小米手机我都用过，格力空调也不错。",
    "周大福的金项链打折，万达广场人特别多。",
    "海尔冰箱声音有点大，美的的好一点。",
    "订单号{CN_ORDER}，快递单号{TRACKING}，请尽快发货。",
    "版本号{VERSION4}更新后闪退，已经卸载重装了。",
    "付款用的是尾号{FOUR}的卡，金额¥{PRICE}。",
    "高铁晚点了一个小时，幸好没有误机。",
    "白云机场到天河区打车大概五十块。",
    "这款方便面味道不错，黄金比例的汤底。",
    "程序员加班太严重了，何必呢。",
    "常州的朋友推荐的，温州也有分店。",
    "石家庄今天下雪了，马路很滑。",
    "余额不足，请充值后再试。",
    "张家界的风景真美，下次还要去。",
    "苏宁和京东的价格差不多，安踏的鞋子质量好。",
    "时间：{TIMESTAMP}，状态：已签收。",
    "曾经很喜欢这个牌子，现在质量越来越差了。",
    "申请退款后三个工作日内原路返回。",
    "何时能发货？已经等了一周了。",
]


def _slots(v: Values, lang: str) -> dict[str, Callable[[], list[Piece]]]:
    r = v.r

    def person() -> list[Piece]:
        return [(v.zh_name() if lang == "zh" else v.en_name(), "PERSON")]

    def last_comma() -> list[Piece]:
        first, last = v.en_first_last()
        return [(f"{last}, {first}", "PERSON")]

    def phone() -> list[Piece]:
        return [(v.intl_phone() if r.random() < 0.2 else v.us_phone(), "PHONE")]

    def cn_phone() -> list[Piece]:
        return [(v.cn_landline() if r.random() < 0.25 else v.cn_mobile(), "PHONE")]

    def plain(fn: Callable[[], str]) -> Callable[[], list[Piece]]:
        return lambda: [(fn(), None)]

    def gold(fn: Callable[[], str], kind: str) -> Callable[[], list[Piece]]:
        return lambda: [(fn(), kind)]

    return {
        "PERSON": person,
        "FIRST": lambda: [(v.en_first_last()[0], "PERSON")],
        "LAST": lambda: [(v.en_first_last()[1], "PERSON")],
        "LASTCOMMA": last_comma,
        "HONORIFIC": plain(lambda: r.choice(["Ms.", "Mr.", "Mrs.", "Dr.", "Ms", "Mr", "Prof."])),
        "CREDENTIAL": plain(lambda: r.choice(["DDS", "MD", "DMD", "PhD", "RN", "CPA", "Esq."])),
        "SUFFIXCRED": plain(lambda: r.choice(["MD", "M.D.", "MD, FACC", "DO"])),
        "EMAIL": gold(lambda: v.email("en"), "EMAIL"),
        "ZH_EMAIL": gold(lambda: v.email("zh"), "EMAIL"),
        "ROLE_EMAIL": gold(
            lambda: r.choice(
                ["support@helpdesk.example", "billing@acme-corp.com", "it-help@globex.io"]
            ),
            "EMAIL",
        ),
        "PHONE": phone,
        "CN_PHONE": cn_phone,
        "CREDIT_CARD": gold(v.card, "CREDIT_CARD"),
        "IBAN": gold(v.iban, "IBAN"),
        "SSN": gold(v.ssn, "US_SSN"),
        "CN_ID": gold(v.cn_id, "CN_RESIDENT_ID"),
        "IPV4": gold(v.ipv4, "IP_ADDRESS"),
        "IPV6": gold(v.ipv6, "IP_ADDRESS"),
        "URL": gold(v.url, "URL"),
        "US_ADDRESS": gold(v.us_address, "ADDRESS"),
        "ZH_ADDRESS": gold(v.zh_address, "ADDRESS"),
        "VERSION4": plain(v.version4),
        "UA": plain(v.user_agent),
        "ORDER": plain(v.order_no),
        "ORDER_DIGITS": plain(lambda: str(r.randint(10**7, 10**9))),
        "CN_ORDER": plain(v.cn_order_no),
        "TRACKING": plain(v.tracking),
        "TIMESTAMP": plain(v.timestamp),
        "CLOCK": plain(lambda: f"{r.randint(7, 23):02d}:{r.randint(0, 59):02d}"),
        "MASKED": plain(v.masked_card),
        "AMOUNT": plain(v.amount),
        "PRICE": plain(lambda: f"{r.randint(9, 3999)}.{r.randint(0, 99):02d}"),
        "FOUR": plain(lambda: f"{r.randint(0, 9999):04d}"),
        "UUID": plain(lambda: v.en.uuid4()),
        "SHA": plain(lambda: v.en.sha1()[: r.choice([7, 12, 40])]),
        "PID": plain(lambda: str(r.randint(100, 65535))),
        "PORT": plain(lambda: str(r.randint(1024, 65535))),
        "CHROMEVER": plain(
            lambda: f"{r.randint(100, 125)}.0.{r.randint(4000, 6999)}.{r.randint(10, 250)}"
        ),
    }


_SLOT = re.compile(r"\{([A-Z0-9_]+)\}")
_GENRES = {
    "en": [("ticket", EN_TICKETS, 4), ("email", EN_EMAILS, 3), ("log", EN_LOGS, 3),
           ("chat", EN_CHATS, 2), ("review", EN_REVIEWS, 1), ("clean", EN_CLEAN, 2)],
    "zh": [("ticket", ZH_TICKETS, 4), ("chat", ZH_CHATS, 3), ("review", ZH_REVIEWS, 2),
           ("clean", ZH_CLEAN, 2)],
}  # fmt: skip


def _split_templates(templates: list[str], split: str) -> list[str]:
    held = [t for i, t in enumerate(templates) if i % 4 == 3]
    return held if split == "heldout" else [t for i, t in enumerate(templates) if i % 4 != 3]


def _render(template: str, slots: dict[str, Callable[[], list[Piece]]]) -> Builder:
    b = Builder()
    pos = 0
    for m in _SLOT.finditer(template):
        b.add(template[pos : m.start()])
        for text, kind in slots[m.group(1)]():
            b.add(text, kind)
        pos = m.end()
    b.add(template[pos:])
    return b


def make_corpus(n: int = 2000, *, split: str = "dev", seed: int | None = None) -> list[Doc]:
    """``n`` documents, half English and half Chinese, from the ``split``'s phrasings."""
    if split not in SPLIT_SEED:
        raise ValueError(f"split must be dev or heldout, got {split!r}")
    v = Values(SPLIT_SEED[split] if seed is None else seed)
    r = v.r
    docs: list[Doc] = []
    for i in range(n):
        lang = "en" if i % 2 == 0 else "zh"
        genres = _GENRES[lang]
        name, templates, _w = r.choices(genres, weights=[g[2] for g in genres])[0]
        template = r.choice(_split_templates(templates, split))
        b = _render(template, _slots(v, lang))
        text = b.text()
        for s, e, _t in b.spans:
            assert text[s:e] == text[s:e].strip(), (text, s, e)
        docs.append(Doc(text, lang, name, b.spans))
    return docs


if __name__ == "__main__":
    for d in make_corpus(12):
        print(f"--- {d.lang} {d.genre}\n{d.text}")
        print("   ", [(d.text[s:e], t) for s, e, t in d.spans])
