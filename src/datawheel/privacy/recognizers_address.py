"""ADDRESS recognizers: US street addresses and mainland-China addresses.

US: a house number, one to three capitalized street words and a USPS street suffix ("Kyle
Stream", "Main St"), an optional unit (Apt., Suite, Unit, #), then optionally ", City, ST 12345".
China: a province-level name (北京市, 广东省, 新疆维吾尔自治区 …) or a "…市" then administrative
units (市/区/县/州/旗/镇/乡), a road (路/街/大道/巷/弄/胡同), a number (号, 座, 栋, 室) and an
optional six-digit postcode.

Limits: PO boxes, military addresses (APO/FPO), rural routes, addresses written on several lines
or without a street suffix, and Chinese addresses that start below the city level ("文三路90号"
alone) are not found; a city or a country name alone is not an address here.
"""

from __future__ import annotations

import re
from functools import cache
from importlib import resources

from datawheel.privacy.recognizers_base import CONTEXT_WINDOW
from datawheel.privacy.spans import Span

__all__ = ["STREET_ABBREVIATIONS", "CnAddressRecognizer", "UsAddressRecognizer"]

# fmt: off
_US_STATES = [
    "AL", "AK", "AZ", "AR", "CA", "CO", "CT", "DE", "DC", "FL", "GA", "HI", "ID", "IL", "IN", "IA",
    "KS", "KY", "LA", "ME", "MD", "MA", "MI", "MN", "MS", "MO", "MT", "NE", "NV", "NH", "NJ", "NM",
    "NY", "NC", "ND", "OH", "OK", "OR", "PA", "RI", "SC", "SD", "TN", "TX", "UT", "VT", "VA", "WA",
    "WV", "WI", "WY", "AS", "GU", "MH", "FM", "MP", "PW", "PR", "VI", "AA", "AE", "AP",
]
# fmt: on
# Abbreviated suffixes ("Main St."): the only ones whose trailing period belongs to the address.
# fmt: off
STREET_ABBREVIATIONS = [
    "St", "Ave", "Rd", "Blvd", "Dr", "Ln", "Ct", "Pl", "Sq", "Ter", "Cir", "Hwy", "Pkwy", "Expy",
    "Trl", "Aly", "Plz",
]
# fmt: on
# fmt: off
_ADDRESS_CONTEXT = (
    "address", "live at", "lives at", "located at", "ship to", "deliver", "mail to", "send to",
    "street", "地址", "住在", "住址", "寄到", "送到", "收货", "位于", "居住",
)
# fmt: on


@cache
def _street_suffixes() -> list[str]:
    text = resources.files("datawheel.privacy.data").joinpath("street_suffixes_en.txt")
    return [w for w in text.read_text("utf-8").split() if w]


@cache
def _us_pattern() -> re.Pattern[str]:
    words = sorted(set(_street_suffixes()) - set(STREET_ABBREVIATIONS), key=len, reverse=True)
    abbrevs = sorted(STREET_ABBREVIATIONS, key=len, reverse=True)
    suffix = "(?:" + "|".join(words) + "|(?:" + "|".join(abbrevs) + r")\.?)"
    word = r"(?:[A-Z][A-Za-z'-]*\.?|\d+(?:st|nd|rd|th))"
    states = "(?:" + "|".join(_US_STATES) + ")"
    return re.compile(
        r"(?<![A-Za-z0-9_-])(?P<street>\d{1,6}(?:-\d{1,4})?\s+(?:[NSEW]\.?\s+)?(?:"
        + word
        + r"\s+){1,3}"
        + suffix
        + r"(?![A-Za-z])"
        r"(?:\s+(?:[NSEW]|NE|NW|SE|SW)\b)?"
        r"(?:,?\s+(?:(?:Apt|Apartment|Suite|Ste|Unit|Room|Fl|Floor)(?![A-Za-z])\.?|#)\s*#?"
        r"[A-Za-z0-9-]{1,6})?)"
        r"(?P<city>,?\s+[A-Z][A-Za-z'.-]*(?:\s+[A-Z][A-Za-z'.-]*){0,2},?\s+"
        + states
        + r"(?:\s+\d{5}(?:-\d{4})?)?(?![A-Za-z0-9_]))?"
    )


class UsAddressRecognizer:
    """US street addresses (street line, optional unit, optional city/state/zip)."""

    entity = "ADDRESS"
    name = "address_en"

    def trigger(self, text: str) -> bool:
        return _NUMBER_WORD.search(text) is not None

    def find(self, text: str, lower: str) -> list[Span]:
        out = []
        for m in _us_pattern().finditer(text):
            score = 0.85 if m.group("city") else 0.6
            if _context(lower, m.start()):
                score += 0.15
            out.append(Span(m.start(), m.end(), self.entity, round(min(score, 1.0), 3), self.name))
        return out


# fmt: off
_PROVINCES = [
    "北京市", "上海市", "天津市", "重庆市", "内蒙古自治区", "广西壮族自治区", "宁夏回族自治区",
    "新疆维吾尔自治区", "西藏自治区", "香港特别行政区", "澳门特别行政区", "河北省", "山西省",
    "辽宁省", "吉林省", "黑龙江省", "江苏省", "浙江省", "安徽省", "福建省", "江西省", "山东省",
    "河南省", "湖北省", "湖南省", "广东省", "海南省", "四川省", "贵州省", "云南省", "陕西省",
    "甘肃省", "青海省", "台湾省", "北京", "上海", "天津", "重庆", "内蒙古", "广西", "宁夏", "新疆",
    "西藏", "香港", "澳门",
]
# fmt: on
_HAN = "\u4e00-\u9fff"
_NUMBER_WORD = re.compile(r"[0-9]\s+[A-Z]")
_ROAD = re.compile(r"[路街道巷弄]")
_CN_TAIL = (
    r"(?:[" + _HAN + r"]{1,7}?(?:市|县|区|州|盟|旗|镇|乡)){0,3}"
    r"(?:[" + _HAN + r"0-9]{1,10}?(?:大道|胡同|路|街|巷|弄|道)){1,2}"
    r"(?:[0-9０-９]{1,5}(?:号|弄))?"
    r"(?:[0-9A-Za-z]{1,4}座|[0-9]{1,4}(?:号楼|栋|幢|单元|层|楼|室|号))*"
    r"(?:\s?[0-9]{6}(?![0-9]))?"
)
_CN_ADDRESS = re.compile(
    r"(?P<prov>"
    + "|".join(sorted(_PROVINCES, key=len, reverse=True))
    + r")"
    + _CN_TAIL
    + r"|(?P<city>["
    + _HAN
    + r"]{2,4}?市)"
    + _CN_TAIL
)
_CN_LEAD = set("我你他她住在于到是的址寄送往自从：: 为")


class CnAddressRecognizer:
    """Mainland-China addresses anchored on a province-level name or a city ("…市")."""

    entity = "ADDRESS"
    name = "address_zh"

    def trigger(self, text: str) -> bool:
        return _ROAD.search(text) is not None

    def find(self, text: str, lower: str) -> list[Span]:
        out = []
        for m in _CN_ADDRESS.finditer(text):
            start, end = m.span()
            if m.group("prov"):
                score = 0.8
            else:
                while start < end and text[start] in _CN_LEAD:
                    start += 1  # "在杭州市…": the anchor ran into the words before the city
                score = 0.65
            if _CN_NOT_ADDRESS.search(text, start, end):
                continue
            if _context(lower, start):
                score += 0.15
            out.append(Span(start, end, self.entity, round(min(score, 1.0), 3), self.name))
        return out


# Ordinary words that end in a road character: "知道", "渠道" … (not a road)
_CN_NOT_ADDRESS = re.compile("知道|道理|报道|渠道|频道|通道|味道|难道|街道办")


def _context(lower: str, start: int) -> bool:
    before = lower[max(0, start - CONTEXT_WINDOW) : start]
    return any(w in before for w in _ADDRESS_CONTEXT)
