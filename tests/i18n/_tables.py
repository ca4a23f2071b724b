"""Chinese customer tables from Faker (zh_CN, zh_TW): the text is not ours, the shape is Excel's."""

from __future__ import annotations

import random
from pathlib import Path

import polars as pl
from faker import Faker


def customer_table(rows: int = 200, *, seed: int = 0) -> pl.DataFrame:
    """客户姓名, 手机号, 身份证号 (some end in X), 邮编, 评价内容, 是否流失 — all text, as typed."""
    fake = Faker("zh_CN")
    fake.seed_instance(seed)
    rng = random.Random(seed)
    ids = [fake.ssn() for _ in range(rows)]
    ids[1] = ids[1][:17] + "X"  # a check digit of 10 is written X: about one card in eleven
    return pl.DataFrame(
        {
            "客户姓名": [fake.name() for _ in range(rows)],
            "手机号": [fake.phone_number() for _ in range(rows)],
            "身份证号": ids,
            "邮编": ["010010", *(fake.postcode() for _ in range(rows - 1))],  # 呼和浩特: a 0
            "评价内容": [fake.sentence() for _ in range(rows)],
            "是否流失": [rng.choice(["是", "否"]) for _ in range(rows)],
        }
    )


def taiwan_table(rows: int = 200, *, seed: int = 0) -> pl.DataFrame:
    """客戶姓名, 地址, 評價內容 in traditional characters that Big5 (cp950) can encode."""
    fake = Faker("zh_TW")
    fake.seed_instance(seed)
    out: dict[str, list[str]] = {"客戶姓名": [], "地址": [], "評價內容": []}
    while len(out["客戶姓名"]) < rows:
        row = [fake.name(), fake.address(), fake.sentence()]
        try:
            "".join(row).encode("cp950")
        except UnicodeEncodeError:
            continue  # a rare character outside Big5
        for key, value in zip(out, row, strict=True):
            out[key].append(value)
    return pl.DataFrame(out)


CENSUS = Path(__file__).resolve().parents[2] / "src/datawheel/examples/income/data/adult.csv.gz"


def census_zh(rows: int = 600, *, seed: int = 0) -> pl.DataFrame:
    """The bundled census rows as a Chinese team's customer table: Chinese headers, Chinese
    sex and label values, and Faker zh_CN names, phones, ID numbers and review texts."""
    from datawheel.io import read_table

    census = read_table(CENSUS).head(rows)
    fake = Faker("zh_CN")
    fake.seed_instance(seed)
    ids = [fake.ssn() for _ in range(rows)]
    ids[0] = ids[0][:17] + "X"
    return pl.DataFrame(
        {
            "客户编号": [f"C{i:06d}" for i in range(rows)],
            "客户姓名": [fake.name() for _ in range(rows)],
            "手机号": [fake.phone_number() for _ in range(rows)],
            "身份证号": ids,
            "年龄": census["age"],
            "学历": census["education"],
            "职业": census["occupation"],
            "每周工时": census["hours_per_week"],
            "性别": census["sex"].replace_strict({"Male": "男", "Female": "女"}),
            "评价内容": [fake.sentence() for _ in range(rows)],
            "是否高收入": census["income"].replace_strict({">50K": "是", "<=50K": "否"}),
        }
    )


ZH_PROJECT = """\
name: 客户收入
data:
  source: data/客户.csv
  target: 是否高收入
  id: 客户编号
  text: [评价内容]
  sensitive: [性别]
privacy:
  columns: {客户姓名: pseudonymize, 手机号: {mask: 4}, 身份证号: encrypt}
train: {epochs: 2, batch_size: 128}
"""
