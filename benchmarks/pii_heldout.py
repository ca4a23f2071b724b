"""A held-out PII corpus, written apart from the recognizers: tickets, logs, e-mails, chats.

Written from the shapes of real support tickets, server logs, e-mail threads, chat exports and
Chinese shop reviews — by someone who did not read ``src/datawheel/privacy`` or the project's own
benchmark templates — so the recognizers can be measured on text they were not shaped around.
Every value comes from Faker (en_US, zh_CN) or from a generator below, with a fixed seed.

Gold spans follow DESIGN.md's ``pii scan`` contract (code-point offsets, end exclusive) and these
boundary rules, chosen the way a reviewer marking up a document would:

- PERSON: the name as written (given and family names, middle initials), without titles (Mr., Dr.,
  Ms.) and without post-nominals (MD, DDS, PhD); Chinese names without role words or honorifics.
- PHONE: the number with its country code, brackets and separators, no extension words.
- EMAIL: the address, without angle brackets or ``mailto:``.
- URL: from the scheme (or ``www.``) to the last character that is not sentence punctuation.
- IP_ADDRESS: the address alone (no port, no trailing full stop); IPv4 and IPv6.
- CREDIT_CARD, IBAN: the digits with the grouping spaces or dashes they were written with.
- US_SSN: ``ddd-dd-dddd``; CN_RESIDENT_ID: the 18 characters.
- ADDRESS: a postal address from the house number (or province) to the postcode.

Documents with no PII at all (``clean``) carry look-alikes: versions, builds, order and tracking
numbers, timestamps, OIDs, prices, and Chinese words that begin with a surname character.
"""

# ruff: noqa: E501  (templates read best as one line each)
from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field

from faker import Faker

TYPES = (
    "PERSON",
    "EMAIL",
    "PHONE",
    "CREDIT_CARD",
    "IBAN",
    "US_SSN",
    "CN_RESIDENT_ID",
    "IP_ADDRESS",
    "URL",
    "ADDRESS",
)
DEV_SEED = 20261205  # look at failures on this one while developing
HELDOUT_SEED = 90417  # never look at its texts: report it as the figure of record


@dataclass
class Doc:
    """One document with its gold spans."""

    lang: str
    genre: str
    text: str = ""
    spans: list[dict] = field(default_factory=list)

    def add(self, text: str, kind: str | None = None) -> Doc:
        if kind is not None:
            self.spans.append(
                {"start": len(self.text), "end": len(self.text) + len(text), "type": kind}
            )
        self.text += text
        return self


# --- value generators (gold values; formats as people write them) ---------------------------


def _luhn_complete(prefix: str, length: int, rng: random.Random) -> str:
    body = prefix + "".join(str(rng.randrange(10)) for _ in range(length - len(prefix) - 1))
    total = 0
    for i, ch in enumerate(reversed(body)):
        d = int(ch)
        if i % 2 == 0:
            d *= 2
            d -= 9 if d > 9 else 0
        total += d
    return body + str((10 - total % 10) % 10)


CARD_SHAPES = (  # (issuer prefix, length): ISO/IEC 7812 lengths 12 to 19
    ("4", 16),
    ("4", 13),
    ("4", 19),
    ("51", 16),
    ("2221", 16),
    ("34", 15),
    ("37", 15),
    ("6011", 16),
    ("65", 16),
    ("3528", 16),
    ("3589", 19),
    ("36", 14),
    ("300", 14),
    ("5018", 12),
    ("6759", 13),
    ("6304", 19),
    ("62", 16),
    ("622126", 19),
    ("62", 17),
)


def card_number(rng: random.Random) -> str:
    prefix, length = rng.choice(CARD_SHAPES)
    digits = _luhn_complete(prefix, length, rng)
    style = rng.random()
    if style < 0.35:
        return digits
    sep = " " if style < 0.75 else "-"
    if length in (14, 15):
        groups = [digits[:4], digits[4:10], digits[10:]]
    else:
        groups = [digits[i : i + 4] for i in range(0, length, 4)]
    return sep.join(groups)


def us_phone(rng: random.Random) -> str:
    area = f"{rng.randint(2, 9)}{rng.randint(0, 9)}{rng.randint(0, 9)}"
    exch = f"{rng.randint(2, 9)}{rng.randint(0, 9)}{rng.randint(0, 9)}"
    line = f"{rng.randint(0, 9999):04d}"
    return rng.choice(
        [
            f"({area}) {exch}-{line}",
            f"{area}-{exch}-{line}",
            f"{area}.{exch}.{line}",
            f"+1 {area} {exch} {line}",
            f"+1-{area}-{exch}-{line}",
            f"1 ({area}) {exch}-{line}",
        ]
    )


def cn_phone(rng: random.Random) -> str:
    mobile = rng.choice(["13", "15", "17", "18", "19"]) + "".join(
        str(rng.randrange(10)) for _ in range(9)
    )
    if rng.random() < 0.2:
        area = rng.choice(["010", "021", "0755", "0571", "028", "020"])
        local = str(rng.randint(2, 8)) + "".join(str(rng.randrange(10)) for _ in range(7))
        return rng.choice([f"{area}-{local}", f"({area}){local}", f"{area} {local}"])
    return rng.choice(
        [
            mobile,
            mobile,
            f"{mobile[:3]} {mobile[3:7]} {mobile[7:]}",
            f"{mobile[:3]}-{mobile[3:7]}-{mobile[7:]}",
            f"+86 {mobile}",
            f"+86-{mobile[:3]}-{mobile[3:7]}-{mobile[7:]}",
        ]
    )


def iban(fake_by_country: dict[str, Faker], rng: random.Random) -> str:
    value = fake_by_country[rng.choice(sorted(fake_by_country))].iban()
    if rng.random() < 0.5:
        return " ".join(value[i : i + 4] for i in range(0, len(value), 4))
    return value


def en_name(fake: Faker, rng: random.Random) -> str:
    first, last = fake.first_name(), fake.last_name()
    roll = rng.random()
    if roll < 0.12:
        last = rng.choice(GAELIC)
    elif roll < 0.18:
        last = rng.choice(["O'Brien", "O'Neill", "D'Souza", "Van der Berg", "De la Cruz"])
    elif roll < 0.24:
        last = f"{last}-{fake.last_name()}"
    if rng.random() < 0.15:
        return f"{first} {rng.choice('ABCDEFGHJKLMNPRSTW')}. {last}"
    return f"{first} {last}"


GAELIC = (
    "McDonald",
    "MacDonald",
    "McAllister",
    "MacKenzie",
    "McCarthy",
    "McLaughlin",
    "MacLeod",
    "McGregor",
    "McIntyre",
    "McKenna",
    "MacArthur",
    "McBride",
    "MacNeil",
    "McCormick",
)
RARE_FIRST = (
    "Zebulon",
    "Thaddeus",
    "Ottoline",
    "Peregrine",
    "Isolde",
    "Caspian",
    "Wilhelmina",
    "Ignatius",
    "Leopoldine",
    "Barnaby",
    "Xiomara",
    "Anouk",
    "Tiberius",
    "Saoirse",
)
RARE_LAST = (
    "Quixotewright",
    "Featherstonehaugh",
    "Abernethy",
    "Valdivieso",
    "Okonkwo-Barnes",
    "Przybylski",
    "Threlkeld",
    "Nakagawa-Lind",
    "Zoltanek",
    "Ballantyne",
    "Oyelaran",
)


def rare_name(rng: random.Random) -> str:
    return f"{rng.choice(RARE_FIRST)} {rng.choice(RARE_LAST)}"


def zh_name(fake: Faker, rng: random.Random) -> str:
    name = fake.name()
    if rng.random() < 0.12:  # a three-character name whose first two read like a word
        name = (
            rng.choice(["张", "王", "李", "刘", "陈"])
            + rng.choice(["小", "晓", "文", "建"])
            + rng.choice(["娴", "峰", "军", "丽", "敏", "华"])
        )
    if rng.random() < 0.05:  # a compound surname
        name = rng.choice(["欧阳", "司马", "诸葛", "上官"]) + fake.first_name()
    return name


def version_like_quad(rng: random.Random) -> str:
    return (
        ".".join(str(rng.randint(0, 30)) for _ in range(2))
        + "."
        + ".".join(str(rng.randint(0, 255)) for _ in range(2))
    )


# --- English documents -----------------------------------------------------------------------


def en_ticket(f: Faker, rng: random.Random, ctx: dict) -> Doc:
    d = Doc("en", "ticket")
    name = en_name(f, rng)
    d.add(f"Ticket #{rng.randint(10000, 99999)} — opened {f.date_this_year()} by ")
    d.add(name, "PERSON").add(" (")
    d.add(f.email(), "EMAIL").add(")\nCallback number: ")
    d.add(us_phone(rng), "PHONE").add("\n\n")
    roll = rng.random()
    if roll < 0.35:
        d.add("I was charged twice for order ")
        d.add(
            f"{rng.randint(100, 999)}-{rng.randint(1000000, 9999999)}-{rng.randint(1000000, 9999999)}"
        )
        d.add(". The card on the account is ")
        d.add(card_number(rng), "CREDIT_CARD").add(", please refund to that card.")
    elif roll < 0.6:
        d.add("Please update my shipping address to ")
        d.add(f.address().replace("\n", ", "), "ADDRESS").add(". The old one is no longer valid.")
    elif roll < 0.8:
        d.add("For the payroll form my SSN is ")
        d.add(f.ssn(), "US_SSN").add(" and the direct deposit IBAN is ")
        d.add(iban(ctx["ibans"], rng), "IBAN").add(".")
    else:
        d.add("The login page at ")
        d.add(f"https://{f.domain_name()}/account/login?next=%2Fbilling", "URL")
        d.add(" keeps failing from IP ")
        d.add(f.ipv4_public(), "IP_ADDRESS").add(".")
    if rng.random() < 0.4:
        d.add(f"\n\nAgent note: spoke with {rng.choice(['Ms.', 'Mr.', 'Mx.', 'Dr.'])} ")
        d.add(en_name(f, rng), "PERSON").add(f", escalated to tier {rng.randint(2, 3)}.")
    return d


def en_log(f: Faker, rng: random.Random, ctx: dict) -> Doc:
    d = Doc("en", "log")
    for _ in range(rng.randint(2, 4)):
        ts = f.date_time_this_year().strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
        roll = rng.random()
        if roll < 0.4:
            d.add(f"{ts} INFO  auth.login ok user={f.user_name()} src=")
            d.add(f.ipv4_public(), "IP_ADDRESS")
            d.add(f':{rng.randint(1024, 65535)} ua="{rng.choice(ctx["agents"])}"\n')
        elif roll < 0.55:
            d.add(f"{ts} WARN  rate limit exceeded for ")
            d.add(f.ipv6(), "IP_ADDRESS").add(f" ({rng.randint(100, 900)} req/min)\n")
        elif roll < 0.75:
            d.add(f"{ts} ERROR payment.declined account=")
            d.add(f.email(), "EMAIL").add(
                f" amount={rng.randint(5, 900)}.{rng.randint(0, 99):02d} USD\n"
            )
        else:
            d.add(
                f"{ts} DEBUG client AcmeBank/{version_like_quad(rng)} build {rng.randint(1000, 9999)}"
            )
            d.add(f" rev {version_like_quad(rng)}-rc{rng.randint(1, 4)} heartbeat ok\n")
    return d


def en_email(f: Faker, rng: random.Random, ctx: dict) -> Doc:
    d = Doc("en", "email")
    sender = en_name(f, rng)
    title = rng.choice(["", "", "Dr. ", "Ms. ", "Mr. "])
    d.add('From: "' + title).add(sender, "PERSON").add('" <').add(f.email(), "EMAIL").add(">\nTo: ")
    d.add(en_name(f, rng), "PERSON").add(" <").add(f.email(), "EMAIL").add(">\nCc: ")
    for i in range(rng.randint(1, 3)):
        if i:
            d.add(", ")
        d.add(en_name(f, rng), "PERSON").add(" <").add(f.company_email(), "EMAIL").add(">")
    d.add(f"\nSubject: Re: {f.catch_phrase()}\n\n")
    d.add(rng.choice(["Hi team,", "Hello,", "Good morning,"]) + "\n\n")
    roll = rng.random()
    if roll < 0.5:
        d.add("Following up on the call — my direct line is ").add(us_phone(rng), "PHONE")
        d.add(" and I'm in the office until 5.")
    else:
        d.add("The signed forms are uploaded to ")
        d.add(f"https://docs.{f.domain_name()}/share/{f.uuid4()[:8]}", "URL").add(".")
    suffix = rng.choice(["", "", ", MD", ", DDS", ", PhD", ", CPA"])
    d.add("\n\nBest regards,\n").add(sender, "PERSON").add(suffix + "\n" + f.job() + "\n")
    d.add(us_phone(rng), "PHONE").add("\n")
    return d


def en_chat(f: Faker, rng: random.Random, ctx: dict) -> Doc:
    d = Doc("en", "chat")
    agent, customer = en_name(f, rng), rng.choice([en_name(f, rng), rare_name(rng)])
    t = f.date_time_this_year()
    d.add(f"[{t:%m/%d/%Y, %H:%M}] ").add(agent, "PERSON").add(
        ": Thanks for contacting us, how can I help?\n"
    )
    d.add(f"[{t:%m/%d/%Y, %H:%M}] ").add(customer, "PERSON").add(": ")
    intro = rng.choice(["Hi, my name is ", "Customer ", "This is ", "hello, I'm "])
    d.add(intro).add(customer, "PERSON")
    d.add(" here" if intro == "Customer " else "").add(". ")
    roll = rng.random()
    if roll < 0.5:
        d.add("You can text me at ").add(us_phone(rng), "PHONE").add(" if the line drops.\n")
    else:
        d.add("My order went to ").add(f.address().replace("\n", ", "), "ADDRESS")
        d.add(" instead of my office.\n")
    d.add(f"[{t:%m/%d/%Y, %H:%M}] ").add(agent, "PERSON")
    d.add(f": Got it, I've opened case {rng.randint(1000000, 9999999)} for you.\n")
    return d


def en_clean(f: Faker, rng: random.Random, ctx: dict) -> Doc:
    d = Doc("en", "clean")
    parts = [
        f"Release {rng.randint(1, 12)}.{rng.randint(0, 40)}.{rng.randint(0, 255)}.{rng.randint(0, 255)} "
        f"fixes the sync bug (build {rng.randint(10000, 99999)}).",
        f"Rev. {version_like_quad(rng)}-rc{rng.randint(1, 5)} is on staging.",
        f"Order #{''.join(str(rng.randrange(10)) for _ in range(16))} shipped on {f.date_this_year()}.",
        f"Tracking 1Z{''.join(rng.choice('0123456789ABCDEFGHJKLMNPRSTUVWXYZ') for _ in range(16))}.",
        f"SNMP OID 1.3.6.1.4.1.{rng.randint(1000, 60000)}.{rng.randint(1, 9)} polled every {rng.randint(5, 60)}s.",
        f"Invoice total ${rng.randint(10, 9999)}.{rng.randint(0, 99):02d} due in {rng.randint(7, 45)} days.",
        f"The meeting moved to {rng.randint(1, 12)}:{rng.choice(['00', '15', '30', '45'])} pm, room {rng.randint(100, 999)}.",
        f"User agent {rng.choice(ctx['agents'])} reported a layout glitch.",
        f"Queue depth peaked at {rng.randint(1000, 99999)} messages at {f.time()} UTC.",
        f"SKU {rng.randint(100, 999)}-{rng.randint(100, 999)}-{rng.randint(1000, 9999)} is back in stock.",
        f"See section {rng.randint(1, 9)}.{rng.randint(1, 9)}.{rng.randint(1, 9)}.{rng.randint(1, 9)} of the manual.",
    ]
    rng.shuffle(parts)
    d.add(" ".join(parts[: rng.randint(2, 4)]))
    return d


# --- Chinese documents -----------------------------------------------------------------------

ZH_ROLES = ("客服", "快递员", "店长", "师傅", "老师", "导购", "收银员", "配送员", "骑手", "经理")
ZH_SHADOWS = (
    "居然",
    "盖章",
    "高中",
    "初中",
    "明明",
    "安逸",
    "幸福",
    "龙岩",
    "黄金",
    "白色",
    "金额",
    "江湖",
    "高兴",
    "方便",
    "万一",
    "石头",
    "马上",
    "林荫道",
    "房间",
    "周末",
    "程序",
    "钱包",
    "朱砂",
    "严格",
    "华为",
    "小米",
    "海尔",
    "格力",
    "李宁",
    "美的",
    "孔雀",
    "曾经",
    "常常",
    "史上",
)


def zh_review(f: Faker, rng: random.Random, ctx: dict) -> Doc:
    d = Doc("zh", "review")
    roll = rng.random()
    name = zh_name(f, rng)
    if roll < 0.35:
        d.add(rng.choice(ZH_ROLES)).add(name, "PERSON")
        d.add(
            rng.choice(
                ["送货很快，态度也好", "很耐心，解答了所有问题", "服务很专业", "帮我换了货，点赞"]
            )
        )
    elif roll < 0.55:
        d.add(rng.choice(["和", "跟", "同"])).add(name, "PERSON")
        d.add(rng.choice(["一起来的，", "说了一下，", "一起去店里，"]))
        d.add(rng.choice(["下次还来", "环境不错", "价格实惠"]))
    elif roll < 0.7:
        d.add("感谢").add(name, "PERSON").add(
            rng.choice(["老师的推荐", "师傅上门安装", "经理的帮忙"])
        )
    elif roll < 0.85:
        d.add(
            f"{rng.choice(['今天', '昨天', '上周'])}{rng.choice(['居然', '明明', '终于'])}收到了，"
        )
        d.add("快递员").add(name, "PERSON").add("打电话").add(cn_phone(rng), "PHONE").add(
            "通知我取件"
        )
    else:
        d.add(name, "PERSON").add(rng.choice(["女士", "先生"]))
        d.add("的订单已发货，收货地址：").add(f.address(), "ADDRESS")
    d.add(rng.choice(["。", "！", "～", "。五星好评！"]))
    return d


def zh_ticket(f: Faker, rng: random.Random, ctx: dict) -> Doc:
    d = Doc("zh", "ticket")
    d.add(f"工单号：{rng.randint(10**9, 10**10 - 1)}\n")
    role = rng.choice(["收款人", "退款人", "收件人", "联系人", "申请人", "持卡人"])
    d.add(f"{role}：").add(zh_name(f, rng), "PERSON").add("\n")
    d.add("手机：").add(cn_phone(rng), "PHONE").add("\n")
    if rng.random() < 0.6:
        d.add("身份证号：").add(f.ssn(), "CN_RESIDENT_ID").add("\n")
    if rng.random() < 0.6:
        d.add(rng.choice(["银行卡号：", "退款账户：", "卡号："]))
        d.add(card_number(rng), "CREDIT_CARD").add("\n")
    if rng.random() < 0.4:
        d.add("邮箱：").add(f.free_email(), "EMAIL").add("\n")
    d.add("问题描述：")
    d.add(
        rng.choice(
            [
                "订单重复扣款，请尽快退款。",
                "商品有质量问题，申请退货。",
                "发票抬头写错了，需要重开。",
            ]
        )
    )
    if rng.random() < 0.3:
        d.add("处理人：").add(zh_name(f, rng), "PERSON").add("。")
    return d


def zh_chat(f: Faker, rng: random.Random, ctx: dict) -> Doc:
    d = Doc("zh", "chat")
    agent, customer = zh_name(f, rng), zh_name(f, rng)
    t = f.date_time_this_year()
    d.add(f"{t:%Y-%m-%d %H:%M:%S} ").add(customer, "PERSON").add("：你好，我的快递一直没到\n")
    d.add(f"{t:%Y-%m-%d %H:%M:%S} 客服").add(agent, "PERSON").add("：您好，请提供一下手机号\n")
    d.add(f"{t:%Y-%m-%d %H:%M:%S} ").add(customer, "PERSON").add("：").add(cn_phone(rng), "PHONE")
    if rng.random() < 0.5:
        d.add("，地址是").add(f.address(), "ADDRESS")
    d.add("\n")
    if rng.random() < 0.4:
        d.add(f"{t:%Y-%m-%d %H:%M:%S} 客服").add(agent, "PERSON").add("：已为您加急，详情见 ")
        d.add(f"https://{f.domain_name()}/order/{rng.randint(10**7, 10**8)}", "URL").add(" 。\n")
    return d


def zh_clean(f: Faker, rng: random.Random, ctx: dict) -> Doc:
    d = Doc("zh", "clean")
    words = rng.sample(ZH_SHADOWS, 3)
    sentences = [
        f"{words[0]}这么好用，{words[1]}的时候也很方便。",
        f"{words[2]}同学推荐的，订单号{rng.randint(10**11, 10**12 - 1)}已经签收。",
        f"版本{rng.randint(1, 9)}.{rng.randint(0, 20)}.{rng.randint(0, 255)}.{rng.randint(0, 255)}更新后不卡了。",
        f"价格{rng.randint(10, 999)}元，{rng.choice(['物流很快', '包装完好', '性价比高'])}。",
        f"{rng.choice(['明明', '居然', '万一'])}{rng.choice(['说好的', '下雨', '坏了'])}，客服也没回复。",
        f"{rng.randint(2019, 2025)}年{rng.randint(1, 12)}月{rng.randint(1, 28)}日下单，快递单号SF{rng.randint(10**11, 10**12 - 1)}。",
    ]
    rng.shuffle(sentences)
    d.add("".join(sentences[: rng.randint(2, 4)]))
    return d


GENRES: dict[str, list[tuple[Callable[[Faker, random.Random, dict], Doc], float]]] = {
    "en": [(en_ticket, 0.25), (en_log, 0.15), (en_email, 0.2), (en_chat, 0.2), (en_clean, 0.2)],
    "zh": [(zh_review, 0.35), (zh_ticket, 0.2), (zh_chat, 0.25), (zh_clean, 0.2)],
}


def generate(n: int = 1000, *, seed: int = HELDOUT_SEED, lang: str = "both") -> list[Doc]:
    """``n`` documents per language (``en``, ``zh`` or ``both``), the same for the same seed."""
    rng = random.Random(seed)
    fakes = {"en": Faker("en_US"), "zh": Faker("zh_CN")}
    ibans = {code: Faker(code) for code in ("de_DE", "fr_FR", "en_GB", "nl_NL", "es_ES", "it_IT")}
    for i, fake in enumerate([*fakes.values(), *ibans.values()]):
        fake.seed_instance(seed + i)
    agent_fake = Faker("en_US")
    agent_fake.seed_instance(seed + 99)
    ctx = {"ibans": ibans, "agents": [agent_fake.user_agent() for _ in range(50)]}
    docs: list[Doc] = []
    for code in ("en", "zh") if lang == "both" else (lang,):
        makers, weights = zip(*GENRES[code], strict=True)
        for _ in range(n):
            docs.append(rng.choices(makers, weights)[0](fakes[code], rng, ctx))
    for doc in docs:  # the gold must point at the text it names
        for s in doc.spans:
            assert doc.text[s["start"] : s["end"]].strip() == doc.text[s["start"] : s["end"]], s
    return docs
