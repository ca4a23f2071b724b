# ruff: noqa: E501  (templates are data: one record or utterance a line)
"""A third PII corpus, from another angle: records and transcripts rather than prose.

Structured text that people paste into tickets or that systems write: JSON and key=value log
lines, CSV rows, form dumps, git trailers, calendar invites, payment and courier notifications;
and spoken text written down: call-centre transcripts and voicemail notes. English and Chinese.

Written by the "pii" helper of session 4 before it read or changed the recognizers, from the
shape of such records (not from the recognizer code, `pii_corpus.py`,
`pii_corpus_independent.py` or the templates of `pii_heldout.py`). Values are generated here:
names from Faker in thirteen locales' Latin or Han scripts plus invented names, card numbers for
every ISO/IEC 7812 length from 12 to 19 in the issuers' published IIN ranges (Luhn-complete),
IBANs with their ISO 7064 check digits, resident ids with their MOD 11-2 check character.

Annotation (the ``pii scan`` contract; offsets in code points, end exclusive):

- PERSON: the name only — not "Mr."/"Dr."/"先生"/"女士", not "MD"/"PhD"; "Last, First" is one
  span; a surname after an honorific ("Ms. Okonkwo") is a span.
- IP_ADDRESS: IPv4 or IPv6 without port or brackets; CREDIT_CARD: digits with their separators;
  PHONE: the number with its country code as written; URL: scheme through path and query.
- ADDRESS: a street line with the city, state and zip that follow it; a Chinese address from the
  province or city down to the number or room.

Hard negatives on purpose, each something that looks like PII by form alone: IMEIs (15 digits,
Luhn-valid, some in JCB's 35 range), ISBN-13s, 18–19 digit marketplace order numbers and
28-digit payment transaction ids, epoch milliseconds, four-part build versions, SNMP OIDs, MAC
addresses, UUIDs, commit hashes, masked cards, amounts, capitalised products and places, and
Chinese words that begin with a surname character.

Splits: ``dev`` and ``heldout`` differ in seed and in phrasing (every third template of each
genre is held out), so ``heldout`` measures templates never read while developing.
"""

from __future__ import annotations

import random
import re
import string
import uuid
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
SPLIT_SEED = {"dev": 5150, "heldout": 8675309}

Piece = tuple[str, "str | None"]


@dataclass
class Doc:
    text: str
    lang: str
    genre: str
    spans: list[tuple[int, int, str]] = field(default_factory=list)


# ---------------------------------------------------------------- checksums


def luhn_complete(body: str) -> str:
    """``body`` with the Luhn check digit appended."""
    total = 0
    for i, ch in enumerate(reversed(body)):
        d = int(ch)
        if i % 2 == 0:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return body + str((10 - total % 10) % 10)


def luhn_ok(digits: str) -> bool:
    return luhn_complete(digits[:-1]) == digits


def iban(country: str, bban: str) -> str:
    """An IBAN with ISO 7064 MOD 97-10 check digits."""
    moved = bban + country + "00"
    num = "".join(str(int(c, 36)) for c in moved)
    check = 98 - int(num) % 97
    return f"{country}{check:02d}{bban}"


def cn_id(region: str, birth: str, seq: str) -> str:
    body = region + birth + seq
    weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    total = sum(int(c) * w for c, w in zip(body, weights, strict=True))
    return body + "10X98765432"[total % 11]


# Issuers: IIN prefixes (a range "a-b" means every prefix from a to b), lengths, print layouts.
CARD_ISSUERS = [
    ("visa", ["4"], [13, 16, 19]),
    ("mastercard", ["51-55", "2221-2720"], [16]),
    ("amex", ["34", "37"], [15]),
    ("diners", ["300-305", "36", "38", "39"], [14, 16]),
    ("discover", ["6011", "644-649", "65"], [16, 19]),
    ("jcb", ["3528-3589"], [16, 17, 18, 19]),
    (
        "maestro",
        ["5018", "5020", "5038", "5893", "6304", "6759", "6761-6763"],
        [12, 13, 14, 15, 16, 17, 18, 19],
    ),
    ("unionpay", ["62", "6217", "6222", "6228", "6212"], [16, 17, 18, 19]),
    ("mir", ["2200-2204"], [16]),
    ("rupay", ["60", "652", "508"], [16]),
    ("verve", ["5061", "6500"], [16, 18, 19]),
    ("troy", ["9792"], [16]),
]
LAYOUTS = {
    12: [[4, 4, 4]],
    13: [[4, 4, 5], [4, 3, 3, 3]],
    14: [[4, 6, 4]],
    15: [[4, 6, 5]],
    16: [[4, 4, 4, 4]],
    17: [[4, 4, 4, 5]],
    18: [[4, 4, 4, 6], [6, 12]],
    19: [[4, 4, 4, 4, 3], [6, 13]],
}

# ---------------------------------------------------------------- value generators


# Name parts: thirteen Faker locales, invented names on no list, prefixed and particle surnames.
EN_LOCALES = ('en_US', 'en_GB', 'en_IE', 'en_AU', 'de_DE', 'fr_FR', 'es_MX', 'it_IT', 'pl_PL', 'nl_NL', 'tr_TR', 'yo_NG', 'en_IN',)  # fmt: skip
INVENTED_FIRST = ('Orsolya', 'Tavish', 'Quillon', 'Maribeth', 'Zorion', 'Ilsabet', 'Keziah', 'Bramwell', 'Odalys', 'Thorvald', 'Yeshe', 'Caelan',)  # fmt: skip
INVENTED_LAST = ('Vantrees', 'Quorrington', 'Halloway-Pike', 'Esterbrook', 'Dunmarrow', 'Kettleby', 'Ashgrove', 'Pellinore', 'Marwick', 'Strathorn',)  # fmt: skip
PREFIX_LAST = ('McTavish', 'MacAulay', 'McCormack', 'MacPherson', "O'Driscoll", "D'Arcy", 'van der Berg', 'de la Cruz', 'St. Clair', 'FitzGerald',)  # fmt: skip
ZH_COMPOUND = ('欧阳', '司马', '上官', '诸葛', '东方', '皇甫', '令狐', '公孙', '慕容', '尉迟',)  # fmt: skip
ZH_SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史黎贺顾毛郝龚邵万钱覃武戴孔汤庞樊兰殷施陶洪翟安颜倪严牛温芦季俞章鲁葛伍申尤毕聂柴焦向柳邢岳齐梅莫庄辛管祝左涂谷祁时舒耿牟卜路詹关苗凌费纪靳盛童欧甄项曲成游阳裴席卫查屈鲍位霍翁隋植甘景薄单包司柏宁柯阮桂闵解强丛"
ZH_GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍红鹏辉建飞波宁斌宇浩凯琳晨欣雪梅慧瑶婷晶妍琪璐颖昊睿泽轩哲然博文翰钰瀚彤萱菲蕾娅璇嫣晗煜烨玥珂琰骁赟鑫淼焱垚喆"


class Values:
    """Every generated value for one document set, from one seeded RNG."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.fakers = {}
        for loc in [*EN_LOCALES, "zh_CN", "zh_TW"]:
            f = Faker(loc)
            f.seed_instance(rng.randrange(1 << 30))
            self.fakers[loc] = f

    def pick(self, seq):
        return self.rng.choice(seq)

    # names
    def first_last(self) -> tuple[str, str]:
        r = self.rng.random()
        if r < 0.12:
            return self.pick(INVENTED_FIRST), self.pick(INVENTED_LAST)
        if r < 0.22:
            f = self.fakers["en_US"]
            return f.first_name(), self.pick(PREFIX_LAST)
        f = self.fakers[self.pick(EN_LOCALES)]
        return f.first_name(), f.last_name()

    def en_name(self) -> str:
        first, last = self.first_last()
        r = self.rng.random()
        if r < 0.12:
            return f"{first} {self.pick(string.ascii_uppercase)}. {last}"
        if r < 0.17:
            return f"{first} {last} {self.pick(['Jr.', 'Sr.', 'III', 'II'])}"
        return f"{first} {last}"

    def en_last(self) -> str:
        return self.first_last()[1]

    def zh_name(self) -> str:
        r = self.rng.random()
        if r < 0.35:
            return self.fakers[self.pick(["zh_CN", "zh_CN", "zh_TW"])].name()
        surname = self.pick(ZH_COMPOUND) if r < 0.45 else self.pick(ZH_SURNAMES)
        given = "".join(self.pick(ZH_GIVEN) for _ in range(self.rng.choice([1, 2, 2])))
        return surname + given

    # contact
    def email_for(self, name: str) -> str:
        ascii_name = re.sub(r"[^a-z]", "", name.lower()) or "user"
        parts = name.lower().replace(".", "").split()
        local = self.pick(
            [
                ascii_name[:12],
                ".".join(re.sub(r"[^a-z]", "", p) for p in parts[:2] if re.sub(r"[^a-z]", "", p))
                or ascii_name,
                f"{ascii_name[:6]}{self.rng.randint(1, 99)}",
            ]
        )
        domain = self.pick(
            [
                "gmail.com",
                "outlook.com",
                "proton.me",
                "yahoo.co.uk",
                "corp.example.com",
                "mail.acme-logistics.io",
                "qq.com",
                "163.com",
                "fastmail.fm",
                "uni-heidelberg.de",
            ]
        )
        return f"{local or 'user'}@{domain}"

    def email(self) -> str:
        return self.email_for(self.en_name())

    def zh_email(self) -> str:
        local = self.pick(
            [
                str(self.rng.randint(10**7, 10**10)),
                "".join(
                    self.rng.choice(string.ascii_lowercase) for _ in range(self.rng.randint(4, 9))
                )
                + str(self.rng.randint(0, 999)),
            ]
        )
        return f"{local}@{self.pick(['qq.com', '163.com', '126.com', 'sina.com', 'foxmail.com', 'aliyun.com'])}"

    def us_phone(self) -> str:
        a, b, c = self.rng.randint(201, 989), self.rng.randint(200, 999), self.rng.randint(0, 9999)
        return self.pick(
            [
                f"({a}) {b}-{c:04d}",
                f"{a}-{b}-{c:04d}",
                f"+1 {a} {b} {c:04d}",
                f"+1-{a}-{b}-{c:04d}",
                f"{a}.{b}.{c:04d}",
            ]
        )

    def intl_phone(self) -> str:
        return self.pick(
            [
                f"+44 20 {self.rng.randint(7000, 8999)} {self.rng.randint(1000, 9999)}",
                f"+44 7{self.rng.randint(100, 999)} {self.rng.randint(100000, 999999)}",
                f"+49 30 {self.rng.randint(1000000, 99999999)}",
                f"+33 6 {self.rng.randint(10, 99)} {self.rng.randint(10, 99)} {self.rng.randint(10, 99)} {self.rng.randint(10, 99)}",
                f"+91 {self.rng.randint(70000, 99999)} {self.rng.randint(10000, 99999)}",
            ]
        )

    def cn_mobile(self) -> str:
        prefix = self.pick(
            [
                "130",
                "131",
                "135",
                "136",
                "138",
                "139",
                "150",
                "151",
                "158",
                "159",
                "177",
                "180",
                "186",
                "187",
                "188",
                "189",
                "199",
            ]
        )
        rest = f"{self.rng.randint(0, 99999999):08d}"
        return self.pick(
            [
                prefix + rest,
                f"{prefix} {rest[:4]} {rest[4:]}",
                f"+86 {prefix}{rest}",
                f"+86-{prefix}-{rest[:4]}-{rest[4:]}",
                f"{prefix}-{rest[:4]}-{rest[4:]}",
            ]
        )

    def cn_landline(self) -> str:
        area = self.pick(["010", "021", "020", "0755", "0571", "028", "027"])
        n = (
            self.rng.randint(20000000, 89999999)
            if len(area) == 3
            else self.rng.randint(2000000, 8999999)
        )
        return self.pick([f"{area}-{n}", f"({area}){n}", f"{area} {n}"])

    # money
    def card_digits(self, issuers: list[str] | None = None) -> str:
        choices = [c for c in CARD_ISSUERS if issuers is None or c[0] in issuers]
        _, prefixes, lengths = self.pick(choices)
        spec = self.pick(prefixes)
        if "-" in spec:
            lo, hi = spec.split("-")
            prefix = str(self.rng.randint(int(lo), int(hi))).zfill(len(lo))
        else:
            prefix = spec
        length = self.pick(lengths)
        body = prefix + "".join(
            str(self.rng.randint(0, 9)) for _ in range(length - len(prefix) - 1)
        )
        return luhn_complete(body)

    def card(self, issuers: list[str] | None = None) -> str:
        digits = self.card_digits(issuers)
        r = self.rng.random()
        if r < 0.25:
            return digits
        layout = self.pick(LAYOUTS[len(digits)])
        sep = " " if r < 0.7 else "-" if r < 0.93 else "."
        out, i = [], 0
        for n in layout:
            out.append(digits[i : i + n])
            i += n
        return sep.join(out)

    def masked_card(self, zh: bool = False) -> str:
        last = f"{self.rng.randint(0, 9999):04d}"
        masks = [
            f"**** **** **** {last}",
            f"XXXX-XXXX-XXXX-{last}",
            f"{self.card_digits()[:6]}******{last}",
        ]
        return self.pick([*masks, f"尾号{last}"] if zh else [*masks, f"•••• {last}"])

    def iban(self) -> str:
        kind = self.rng.random()
        d = lambda n: "".join(str(self.rng.randint(0, 9)) for _ in range(n))  # noqa: E731
        if kind < 0.3:
            raw = iban("DE", d(18))
        elif kind < 0.5:
            raw = iban("GB", self.pick(["NWBK", "BARC", "LOYD", "HBUK"]) + d(14))
        elif kind < 0.7:
            raw = iban(
                "FR",
                d(10)
                + "".join(
                    self.rng.choice(string.ascii_uppercase + string.digits) for _ in range(11)
                )
                + d(2),
            )
        elif kind < 0.85:
            raw = iban("NL", self.pick(["ABNA", "INGB", "RABO"]) + d(10))
        else:
            raw = iban("ES", d(20))
        if self.rng.random() < 0.6:
            return " ".join(raw[i : i + 4] for i in range(0, len(raw), 4))
        return raw

    def ssn(self) -> str:
        area = self.rng.choice([a for a in range(1, 900) if a != 666])
        s = f"{area:03d}-{self.rng.randint(1, 99):02d}-{self.rng.randint(1, 9999):04d}"
        return s if self.rng.random() < 0.85 else s.replace("-", " ")

    def cn_id(self) -> str:
        region = self.pick(
            [
                "110101",
                "110105",
                "310104",
                "310115",
                "440305",
                "440106",
                "330106",
                "510107",
                "420111",
                "320102",
                "370202",
                "610113",
            ]
        )
        y, m, dd = self.rng.randint(1950, 2005), self.rng.randint(1, 12), self.rng.randint(1, 28)
        return cn_id(region, f"{y}{m:02d}{dd:02d}", f"{self.rng.randint(0, 999):03d}")

    # network
    def ipv4(self) -> str:
        r = self.rng.random()
        if r < 0.2:
            return f"10.{self.rng.randint(0, 255)}.{self.rng.randint(0, 255)}.{self.rng.randint(1, 254)}"
        if r < 0.3:
            return f"192.168.{self.rng.randint(0, 255)}.{self.rng.randint(1, 254)}"
        first = self.rng.choice([a for a in range(1, 224) if a not in (10, 127)])
        return f"{first}.{self.rng.randint(0, 255)}.{self.rng.randint(0, 255)}.{self.rng.randint(1, 254)}"

    def ipv6(self) -> str:
        groups = [f"{self.rng.randint(0, 0xFFFF):x}" for _ in range(8)]
        r = self.rng.random()
        if r < 0.4:
            return "2001:db8:" + ":".join(groups[:2]) + "::" + groups[7]
        if r < 0.7:
            return "2a02:" + ":".join(groups[1:8])
        return "fe80::" + ":".join(groups[4:8])

    def url(self) -> str:
        host = self.pick(
            [
                "portal.acme-health.com",
                "www.shopfront.co.uk",
                "intranet.example.org",
                "files.contoso.net",
                "app.hubdesk.io",
                "www.taobao.com",
                "m.jd.com",
                "pan.baidu.com",
            ]
        )
        path = self.pick(
            [
                "/account/settings",
                "/orders/884213?ref=mail",
                "/s/8kfj3Qx",
                "/profile/7731/edit",
                "/reset?token=Zk93bXc",
                "/item.htm?id=6289113",
                "/share/init?surl=aB3dE",
            ]
        )
        return f"https://{host}{path}" if self.rng.random() < 0.85 else f"http://{host}{path}"

    def address_us(self) -> str:
        f = self.fakers["en_US"]
        street = f"{self.rng.randint(1, 9899)} {f.last_name()} {self.pick(['St', 'Ave', 'Rd', 'Blvd', 'Lane', 'Drive', 'Ct'])}"
        unit = self.pick(
            [
                "",
                "",
                f", Apt {self.rng.randint(1, 40)}{self.pick('ABCD')}",
                f" Suite {self.rng.randint(100, 900)}",
            ]
        )
        return (
            f"{street}{unit}, {f.city()}, {f.state_abbr(include_territories=False)} {f.zipcode()}"
        )

    def address_zh(self) -> str:
        city = self.pick(
            [
                "北京市朝阳区",
                "上海市浦东新区",
                "广东省深圳市南山区",
                "浙江省杭州市西湖区",
                "四川省成都市武侯区",
                "湖北省武汉市洪山区",
                "江苏省南京市鼓楼区",
                "广州市天河区",
            ]
        )
        road = self.pick(
            [
                "建国路",
                "张江路",
                "科苑南路",
                "文一西路",
                "天府大道",
                "珞喻路",
                "中山北路",
                "体育西路",
            ]
        )
        tail = self.pick(
            [
                f"{self.rng.randint(1, 999)}号",
                f"{self.rng.randint(1, 300)}号{self.rng.randint(1, 30)}栋{self.rng.randint(101, 2808)}室",
                f"{self.rng.randint(1, 200)}号院{self.rng.randint(1, 12)}号楼",
            ]
        )
        return city + road + tail

    # negatives (never annotated)
    def imei(self) -> str:
        return luhn_complete(
            self.pick(["35", "86", "01", "99"])
            + "".join(str(self.rng.randint(0, 9)) for _ in range(12))
        )

    def isbn13(self) -> str:
        body = self.pick(["978", "979"]) + "".join(str(self.rng.randint(0, 9)) for _ in range(9))
        total = sum(int(c) * (1 if i % 2 == 0 else 3) for i, c in enumerate(body))
        digits = body + str((10 - total % 10) % 10)
        return (
            digits
            if self.rng.random() < 0.5
            else f"{digits[:3]}-{digits[3]}-{digits[4:8]}-{digits[8:12]}-{digits[12]}"
        )

    def order_no(self) -> str:
        n = self.rng.choice([16, 17, 18, 19])
        return str(self.rng.randint(1, 9)) + "".join(
            str(self.rng.randint(0, 9)) for _ in range(n - 1)
        )

    def txn_id(self) -> str:
        return "4200" + "".join(str(self.rng.randint(0, 9)) for _ in range(24))

    def epoch_ms(self) -> str:
        return str(self.rng.randint(1_600_000_000_000, 1_800_000_000_000))

    def build(self) -> str:
        return f"{self.rng.randint(1, 24)}.{self.rng.randint(0, 40)}.{self.rng.randint(0, 300)}.{self.rng.randint(1000, 9999)}"

    def oid(self) -> str:
        return "1.3.6.1.4.1." + ".".join(
            str(self.rng.randint(1, 60000)) for _ in range(self.rng.randint(2, 4))
        )

    def mac(self) -> str:
        return ":".join(f"{self.rng.randint(0, 255):02x}" for _ in range(6))

    def sha(self) -> str:
        return "".join(
            self.rng.choice("0123456789abcdef") for _ in range(self.rng.choice([7, 12, 40]))
        )

    def uuid(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def amount(self) -> str:
        return f"{self.rng.randint(1, 9999)}.{self.rng.randint(0, 99):02d}"

    def ts(self) -> str:
        return f"2026-{self.rng.randint(1, 12):02d}-{self.rng.randint(1, 28):02d}T{self.rng.randint(0, 23):02d}:{self.rng.randint(0, 59):02d}:{self.rng.randint(0, 59):02d}Z"


def _slots(v: Values) -> dict[str, Callable[[], list[Piece]]]:
    def one(kind: str | None, fn: Callable[[], str]) -> Callable[[], list[Piece]]:
        return lambda: [(fn(), kind)]

    def name_email() -> list[Piece]:
        name = v.en_name()
        return [(name, "PERSON"), (" <", None), (v.email_for(name), "EMAIL"), (">", None)]

    def last_first() -> list[Piece]:
        first, last = v.first_last()
        return [(f"{last}, {first}", "PERSON")]

    def name_list() -> list[Piece]:
        out: list[Piece] = []
        for i in range(v.rng.randint(2, 4)):
            if i:
                out.append((v.pick(["; ", ", "]), None))
            out.append((v.en_name(), "PERSON"))
        return out

    def zh_name_list() -> list[Piece]:
        out: list[Piece] = []
        for i in range(v.rng.randint(2, 5)):
            if i:
                out.append(("、", None))
            out.append((v.zh_name(), "PERSON"))
        return out

    def ip_port() -> list[Piece]:
        return [(v.ipv4(), "IP_ADDRESS"), (f":{v.rng.randint(1024, 65535)}", None)]

    def ipv6_port() -> list[Piece]:
        return [("[", None), (v.ipv6(), "IP_ADDRESS"), (f"]:{v.rng.randint(1024, 65535)}", None)]

    return {
        "NAME": one("PERSON", v.en_name),
        "NAME2": one("PERSON", v.en_name),
        "LAST": one("PERSON", v.en_last),
        "LAST_FIRST": last_first,
        "NAME_EMAIL": name_email,
        "NAMES": name_list,
        "ZH": one("PERSON", v.zh_name),
        "ZH2": one("PERSON", v.zh_name),
        "ZH_NAMES": zh_name_list,
        "EMAIL": one("EMAIL", v.email),
        "ZH_EMAIL": one("EMAIL", v.zh_email),
        "PHONE": one("PHONE", v.us_phone),
        "INTL_PHONE": one("PHONE", v.intl_phone),
        "CN_MOBILE": one("PHONE", v.cn_mobile),
        "CN_LANDLINE": one("PHONE", v.cn_landline),
        "CARD": one("CREDIT_CARD", v.card),
        "CARD_CN": one("CREDIT_CARD", lambda: v.card(["unionpay", "visa", "mastercard", "jcb"])),
        "CARD_SHORT": one("CREDIT_CARD", lambda: v.card(["maestro", "diners", "amex", "visa"])),
        "CARD_DIGITS": one("CREDIT_CARD", v.card_digits),
        "IBAN": one("IBAN", v.iban),
        "SSN": one("US_SSN", v.ssn),
        "CNID": one("CN_RESIDENT_ID", v.cn_id),
        "IP": one("IP_ADDRESS", v.ipv4),
        "IP6": one("IP_ADDRESS", v.ipv6),
        "IP_PORT": ip_port,
        "IP6_PORT": ipv6_port,
        "URL": one("URL", v.url),
        "ADDR": one("ADDRESS", v.address_us),
        "ZH_ADDR": one("ADDRESS", v.address_zh),
        # negatives
        "MASKED": one(None, v.masked_card),
        "ZH_MASKED": one(None, lambda: v.masked_card(zh=True)),
        "IMEI": one(None, v.imei),
        "ISBN": one(None, v.isbn13),
        "ORDER": one(None, v.order_no),
        "TXN": one(None, v.txn_id),
        "EPOCH": one(None, v.epoch_ms),
        "BUILD": one(None, v.build),
        "OID": one(None, v.oid),
        "MAC": one(None, v.mac),
        "SHA": one(None, v.sha),
        "UUID": one(None, v.uuid),
        "AMOUNT": one(None, v.amount),
        "TS": one(None, v.ts),
        "N3": one(None, lambda: str(v.rng.randint(100, 999))),
        "N5": one(None, lambda: str(v.rng.randint(10000, 99999))),
    }


# ---------------------------------------------------------------- templates

EN = {
    "json_log": [
        '{"ts":"{TS}","level":"INFO","event":"login","user":{"name":"{NAME}","email":"{EMAIL}"},"client_ip":"{IP}","ua":"Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/{BUILD}"}',
        '{"ts":"{TS}","msg":"payment authorized","amount":{AMOUNT},"currency":"USD","pan":"{CARD_DIGITS}","order":"{ORDER}","trace":"{UUID}"}',
        '{"level":"warn","msg":"password reset requested","account":"{EMAIL}","remote_addr":"{IP}","request_id":"{UUID}","build":"{BUILD}"}',
        '{"event":"device.register","imei":"{IMEI}","owner":"{NAME}","phone":"{PHONE}","ip":"{IP}"}',
        '{"time":{EPOCH},"peer":"{IP6}","action":"session.open","sid":"{SHA}"}',
        '{"customer":{"full_name":"{NAME}","ssn":"{SSN}","home":"{ADDR}"},"status":"pending_review"}',
    ],
    "kv_log": [
        "{TS} sshd[{N5}]: Accepted publickey for deploy from {IP_PORT} ssh2: RSA SHA256:{SHA}",
        '{TS} level=error component=billing msg="card declined" card={CARD} customer="{NAME}" attempt=3',
        '{TS} nginx: {IP} - - "GET /api/v2/orders/{ORDER} HTTP/1.1" 200 {N5} "-" "okhttp/4.9.{N3}"',
        "{TS} kernel: eth0: link up, hw {MAC}, fw {BUILD}",
        '{TS} app=crm op=update contact="{LAST_FIRST}" phone="{INTL_PHONE}" by=svc-sync',
        "{TS} haproxy: {IP6_PORT} [frontend~] api/srv2 0/0/1/3/4 200 snmp oid {OID}",
        "{TS} WARN webhook delivery to {URL} failed after 3 tries (last status 502), tenant={UUID}",
        "{TS} audit: user {EMAIL} exported report from {IP}; iban_on_file={IBAN}",
    ],
    "csv": [
        "id,name,email,phone\n{N5},{NAME},{EMAIL},{PHONE}\n{N5},{NAME2},{EMAIL},{PHONE}",
        "customer_id,card_number,expiry,zip\n{N5},{CARD},09/29,{N5}",
        "order_id,isbn,qty,price\n{ORDER},{ISBN},2,{AMOUNT}\n{ORDER},{ISBN},1,{AMOUNT}",
        '"{LAST_FIRST}","{ADDR}","{PHONE}","{SSN}"',
        "host,ip,mac,firmware\nsw-core-01,{IP},{MAC},{BUILD}\nsw-edge-07,{IP},{MAC},{BUILD}",
    ],
    "form": [
        "Name: {NAME}\nDate of birth: 1987-04-12\nSSN: {SSN}\nAddress: {ADDR}\nPhone: {PHONE}\nEmail: {EMAIL}",
        "Beneficiary: {NAME}\nIBAN: {IBAN}\nReference: INV-{N5}\nAmount: EUR {AMOUNT}",
        "Cardholder name: {NAME}\nCard number: {CARD}\nBilling address: {ADDR}",
        "Emergency contact: Mrs. {LAST} — {PHONE}\nPrimary physician: Dr. {NAME}, MD",
        "Device: Pixel 8 Pro\nIMEI: {IMEI}\nSerial: {SHA}\nRegistered to: {NAME} ({EMAIL})",
        "Applicant: {NAME}\nNational Insurance / SSN: {SSN}\nPrevious address: {ADDR}",
    ],
    "git": [
        "commit {SHA}\nAuthor: {NAME_EMAIL}\nDate: {TS}\n\n    Bump openssl to {BUILD}\n\n    Signed-off-by: {NAME_EMAIL}",
        "Fix null deref in parser (#{N5})\n\nReported-by: {NAME_EMAIL}\nCo-authored-by: {NAME_EMAIL}",
        "Merge pull request #{N3} from {LAST}/fix-timeouts\n\nReviewed-by: {NAME_EMAIL}",
    ],
    "calendar": [
        "BEGIN:VEVENT\nSUMMARY:Quarterly review\nORGANIZER;CN={NAME}:mailto:{EMAIL}\nATTENDEE;CN={NAME2}:mailto:{EMAIL}\nLOCATION:{ADDR}\nEND:VEVENT",
        "Invitation: Design sync @ Thu 10:00 – 10:30\nOrganizer: {NAME_EMAIL}\nGuests: {NAMES}\nJoin: {URL}",
        "Meeting notes — attendees: {NAMES}. Action: {NAME} to send the draft to {EMAIL} by Friday.",
    ],
    "transcript": [
        "[00:00:04] Agent: Thank you for calling, who am I speaking with?\n[00:00:07] Caller: This is {NAME}.\n[00:00:12] Agent: And the card number on the account?\n[00:00:15] Caller: It's {CARD}.",
        "Agent: Can I get a callback number?\nCustomer: Sure, {PHONE}. Or email me at {EMAIL}.\nAgent: Thanks Mr. {LAST}, I've noted that.",
        "Voicemail from {PHONE} ({TS}): Hi, it's {NAME} from the accounts team, please call me back about invoice {N5}.",
        "Caller verified with last four of SSN and full SSN {SSN}; address on file {ADDR}. Caller asked to update email to {EMAIL}.",
        "Agent: I see an IMEI of {IMEI} on the claim, and the handset was bought with the card ending {MASKED}.\nCustomer: Right, that's the old phone.",
        "Chat transcript {UUID}\n{NAME}: my account got locked after logging in from {IP}\nSupport Bot: I've sent a reset link to the address on file.",
    ],
    "notification": [
        "Your order {ORDER} has shipped to {NAME}, {ADDR}. Track it at {URL}",
        "Payment of ${AMOUNT} received from {NAME} (card {MASKED}). Transaction {TXN}.",
        "Security alert: new sign-in to {EMAIL} from {IP} (Chrome {BUILD} on Windows). Not you? {URL}",
        "Refund issued to card {CARD} for order {ORDER}. Questions? Call {PHONE}.",
        "Wire received: {AMOUNT} EUR from {LAST_FIRST}, IBAN {IBAN}.",
    ],
    "clean": [
        "{TS} INFO worker-3 finished batch {N5} in {N3} ms (queue depth {N3})",
        "{TS} kernel: usb 1-1: new high-speed USB device number {N3}, firmware {BUILD}",
        '{"ts":"{TS}","level":"debug","msg":"cache miss","key":"sku:{N5}","trace":"{UUID}"}',
        "Release {BUILD} — fixes a race in the scheduler, bumps snmp agent to OID {OID}.",
        "Order {ORDER} was split into two parcels; ISBN {ISBN} is back-ordered.",
        "The card reader firmware {BUILD} rejects cards with a damaged chip; use {MASKED} test card.",
        "Device {MAC} with IMEI {IMEI} failed attestation at {EPOCH}.",
        "Transaction {TXN} settled for {AMOUNT} USD; batch {N5}.",
        "Reviewed commit {SHA}; Visa and Mastercard flows pass, American Express pending.",
        "Meeting moved to Friday. Bring the Q3 numbers and the Berlin Marathon sponsorship deck.",
        "Visit the Apple Store on Regent Street or call the front desk at extension {N3}.",
    ],
}

ZH = {
    "form": [
        "姓名：{ZH}\n身份证号：{CNID}\n手机：{CN_MOBILE}\n住址：{ZH_ADDR}",
        "开户名：{ZH}\n开户行：中国建设银行\n卡号：{CARD_CN}\n预留手机：{CN_MOBILE}",
        "申请人：{ZH}　联系电话：{CN_LANDLINE}　邮箱：{ZH_EMAIL}",
        "收件人：{ZH}，{CN_MOBILE}，{ZH_ADDR}",
        "紧急联系人：{ZH}（母亲）{CN_MOBILE}\n身份证：{CNID}",
        "退款申请\n退款人：{ZH}\n原支付卡：{CARD_CN}\n订单号：{ORDER}",
    ],
    "sms": [
        "【顺丰速运】您的快件SF{N5}{N5}已由快递员{ZH}（{CN_MOBILE}）派送，请保持电话畅通。",
        "【工商银行】您尾号{N3}1的卡于{TS}消费{AMOUNT}元。如非本人操作请致电95588。",
        "【招商银行】{ZH}您好，您的信用卡{CARD_CN}已激活，登录IP：{IP}。",
        "【京东】订单{ORDER}已签收，签收人：{ZH}。评价请访问{URL}",
        "您的验证码为{N5}，请勿泄露给他人。如有疑问请联系客服{CN_LANDLINE}。",
    ],
    "log": [
        "{TS} [INFO] 用户{ZH}登录成功，IP：{IP}，设备IMEI：{IMEI}",
        "{TS} [WARN] 支付失败：卡号{CARD_CN}，持卡人{ZH}，原因：余额不足",
        "{TS} 管理员{ZH}导出了客户名单，来源地址{IP_PORT}",
        "{TS} 网关{IP6}转发请求至{URL}，耗时{N3}ms，版本{BUILD}",
        "{TS} 交易流水号{TXN}，订单{ORDER}，金额{AMOUNT}元",
    ],
    "transcript": [
        "客服：您好，请问怎么称呼？\n客户：我叫{ZH}，银行卡号是{CARD_CN}。\n客服：好的{ZH2}先生，我帮您查一下。",
        "坐席：请提供身份证号码。\n来电人：{CNID}。\n坐席：已核实，回拨号码是{CN_MOBILE}吗？",
        "[语音留言] {ZH}：我是昨天下单的，收货地址写错了，应该是{ZH_ADDR}，电话{CN_MOBILE}。",
        "客服{ZH}：您的退款已原路退回尾号{N3}2的储蓄卡。\n用户：好的谢谢。",
        "聊天记录\n{ZH}：把发票发到{ZH_EMAIL}就行\n{ZH2}：收到，顺便把卡号{CARD_CN}再确认一下",
    ],
    "minutes": [
        "会议纪要\n参会人：{ZH_NAMES}\n记录人：{ZH}\n议题：第三季度预算",
        "本周值班：{ZH_NAMES}。值班电话：{CN_LANDLINE}。",
        "转账给{ZH}，金额{AMOUNT}元，对方账户{CARD_CN}，备注：房租",
        "经办人：{ZH}　审核人：{ZH2}　日期：2026年3月{N3}日",
    ],
    "clean": [
        "{TS} [INFO] 任务{N5}执行完成，耗时{N3}毫秒，版本{BUILD}",
        "订单{ORDER}已拆分为两个包裹发出，请注意查收。",
        "交易流水号{TXN}已对账完成，差额为零。",
        "设备{MAC}（IMEI {IMEI}）固件升级至{BUILD}。",
        "王国维的《人间词话》是本周读书会的书目，周末在黄金海岸咖啡馆讨论。",
        "高速公路明天起恢复通行，马上就到国庆假期了，林业局提醒注意防火。",
        "张贴告示：白天常用的钱包柜台移至二楼，方便顾客办理业务。",
        "本书ISBN为{ISBN}，定价{AMOUNT}元，由人民文学出版社出版。",
        "尾号{N3}4的银行卡已挂失，请使用{ZH_MASKED}之外的卡支付。",
        "系统将于{TS}升级，届时SNMP代理OID {OID}暂不可用。",
        "欢迎使用招商银行信用卡，金卡用户可享受机场贵宾厅服务。",
    ],
}

_SLOT = re.compile(r"\{([A-Z0-9_]+)\}")


def _split(templates: list[str], split: str) -> list[str]:
    return [t for i, t in enumerate(templates) if (i % 3 == 2) == (split == "heldout")]


def _render(
    template: str, slots: dict[str, Callable[[], list[Piece]]]
) -> tuple[str, list[tuple[int, int, str]]]:
    parts: list[str] = []
    spans: list[tuple[int, int, str]] = []
    n, pos = 0, 0
    for m in _SLOT.finditer(template):
        lit = template[pos : m.start()]
        parts.append(lit)
        n += len(lit)
        for text, kind in slots[m.group(1)]():
            if kind is not None:
                spans.append((n, n + len(text), kind))
            parts.append(text)
            n += len(text)
        pos = m.end()
    parts.append(template[pos:])
    return "".join(parts), spans


def make_corpus(n: int = 1000, *, split: str = "dev", seed: int | None = None) -> list[Doc]:
    """``n`` documents, half English and half Chinese; about one in six is clean (no PII)."""
    rng = random.Random(SPLIT_SEED[split] if seed is None else seed)
    values = Values(rng)
    slots = _slots(values)
    docs: list[Doc] = []
    for i in range(n):
        lang = "en" if i % 2 == 0 else "zh"
        genres = {g: _split(ts, split) for g, ts in (EN if lang == "en" else ZH).items()}
        genres = {g: ts for g, ts in genres.items() if ts}
        genre = rng.choice(sorted(genres))
        text, spans = _render(rng.choice(genres[genre]), slots)
        docs.append(Doc(text, lang, genre, spans))
    return docs


if __name__ == "__main__":
    for d in make_corpus(12):
        print(d.genre, d.text.replace("\n", " | "))
        print("   ", [(d.text[s:e], t) for s, e, t in d.spans])
