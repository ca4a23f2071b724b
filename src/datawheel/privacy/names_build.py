"""Regenerate the name and street-suffix lists in ``privacy/data/`` from Faker and other packages.

Run ``python -m datawheel.privacy.names_build`` (with ``pip install names jieba`` in the build
environment) after upgrading a source; the files are package data, so nothing is read from these
packages (or downloaded) at scan time. Sources: Faker's person and address providers (MIT); the
US Census 1990 first- and last-name files shipped by the ``names`` package (public-domain data,
MIT package), last names with a frequency of at least 0.001 %; jieba's ``dict.txt`` (MIT) for the
Chinese words that shadow surnames (`names_zh_build`).
"""

from __future__ import annotations

import importlib
from importlib import resources
from pathlib import Path
from typing import Any

from datawheel.atomic import atomic_write
from datawheel.errors import MissingDependencyError
from datawheel.privacy.recognizers_address import STREET_ABBREVIATIONS

DATA = Path(__file__).parent / "data"

_EN_LOCALES = ("en_US", "en_GB", "en_IE", "en_NZ", "en_IN")
_COMPOUND_SURNAMES = [
    "欧阳",
    "司马",
    "上官",
    "诸葛",
    "东方",
    "皇甫",
    "尉迟",
    "公孙",
    "慕容",
    "长孙",
    "宇文",
    "司徒",
    "令狐",
    "夏侯",
    "轩辕",
    "端木",
    "独孤",
    "南宫",
    "西门",
    "百里",
    "呼延",
    "万俟",
    "澹台",
    "公冶",
    "太史",
    "申屠",
    "赫连",
    "钟离",
    "闻人",
    "濮阳",
    "东郭",
    "司空",
    "第五",
    "左丘",
    "拓跋",
]
# Characters frequent in modern given names, beyond Faker's lists.
_GIVEN_EXTRA = (
    "伟芳娜秀敏静丽强磊军洋勇艳杰娟涛明超兰霞平刚桂英华玉萍红鹏辉玲斌梅莉飞桂鑫波宇浩凯"
    "健俊帆帅旭宁龙林欢佳阳亮成建峰晨瑞博彬坤岩楠琳雪慧倩琴云洁柳莹欣瑜璐婷颖晶丹燕雯"
    "志国庆海忠德文荣军兵武春秋冬晓小立永思家子梓涵轩浩然一诺睿怡嘉欣雨萱紫晴语彤若汐"
    "宏毅诚信正和顺安康泰祥福贵珍珠凤娇媛琪琦瑶蕾蓉薇菲芸茜婉妍嫣姝娅曦昊天翔宸泽铭豪"
    "晨皓阳航远鸿鹤鹏程锦程瀚霖霏昕昱煜炜烨琛瑾璇玥钰铮锋磊森林彦哲逸凡达峻崇"
)


def _provider(kind: str, locale: str) -> Any:  # a Faker provider class; its lists vary by locale
    try:
        return importlib.import_module(f"faker.providers.{kind}.{locale}").Provider
    except ModuleNotFoundError:
        raise MissingDependencyError(
            "faker", "dev", purpose="rebuilding the name lists from Faker's providers"
        ) from None


def _write(name: str, words: set[str]) -> None:
    atomic_write(DATA / name, "\n".join(sorted(words)) + "\n")


def _census() -> tuple[set[str], set[str]]:
    """US Census 1990 first names (all) and last names with frequency >= 0.001 %, lower-cased."""
    files = resources.files("names")

    def read(name: str, min_freq: float) -> set[str]:
        out = set()
        for line in files.joinpath(name).read_text("ascii").splitlines():
            parts = line.split()
            if len(parts) >= 2 and float(parts[1]) >= min_freq and parts[0].isalpha():
                out.add(parts[0].lower())
        return out

    first = read("dist.male.first", 0.0) | read("dist.female.first", 0.0)
    return first, read("dist.all.last", 0.001)


def build() -> None:
    """Write the lists (sorted, one entry a line) under ``privacy/data/``."""
    first: set[str] = set()
    last: set[str] = set()
    for loc in _EN_LOCALES:
        p = _provider("person", loc)
        first |= {n for n in p.first_names if n.isalpha() or "-" in n or "'" in n}
        last |= {n for n in p.last_names if n.replace("-", "").replace("'", "").isalpha()}
    census_first, census_last = _census()
    _write("names_en_first.txt", {n.lower() for n in first} | census_first)
    _write("names_en_last.txt", {n.lower() for n in last} | census_last)

    zh = _provider("person", "zh_CN")
    tw = _provider("person", "zh_TW")
    surnames = set(zh.last_names) | set(_COMPOUND_SURNAMES)
    given = set(zh.first_names)  # whole given names ("秀英", "伟")
    _write("names_zh_surnames.txt", surnames)
    _write("names_zh_given_names.txt", given)
    chars = set("".join(given)) | set("".join(tw.first_names)) | set(_GIVEN_EXTRA)
    _write("names_zh_given_chars.txt", chars)

    suffixes = set(_provider("address", "en_US").street_suffixes) | set(STREET_ABBREVIATIONS)
    _write("street_suffixes_en.txt", suffixes)


if __name__ == "__main__":
    build()
