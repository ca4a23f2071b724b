"""A small labeled support-ticket corpus in English and Chinese, built from templates."""

from __future__ import annotations

import random

import polars as pl

INTENTS = {
    "refund": (
        ["I want my money back for order {n}", "please refund the charge of {n} dollars",
         "refund request: the item {n} arrived broken", "how do I get a refund for {n}"],
        ["我要退款，订单{n}", "请把{n}元退给我", "订单{n}的商品坏了，申请退款", "怎么退款{n}"],
    ),
    "login": (
        ["I cannot log in to my account {n}", "password reset does not work for user {n}",
         "locked out after {n} attempts", "the login page shows error {n}"],
        ["我登录不了账号{n}", "密码重置失败，用户{n}", "尝试{n}次后账号被锁", "登录页面报错{n}"],
    ),
    "shipping": (
        ["where is my package {n}", "delivery of order {n} is late",
         "tracking number {n} shows no update", "when will parcel {n} ship"],
        ["我的包裹{n}在哪里", "订单{n}的快递延误了", "运单号{n}没有更新", "包裹{n}什么时候发货"],
    ),
}  # fmt: skip


def ticket_frame(per_class: int, *, seed: int) -> pl.DataFrame:
    """``per_class`` tickets per intent, half English and half Chinese, shuffled."""
    rng = random.Random(seed)
    rows = []
    for intent, (english, chinese) in INTENTS.items():
        for i in range(per_class):
            template = rng.choice(english if i % 2 == 0 else chinese)
            rows.append({"message": template.format(n=rng.randint(1, 9999)), "intent": intent})
    rng.shuffle(rows)
    return pl.DataFrame(rows)


FILLER = ["the", "parcel", "arrived", "today", "order", "box", "was", "my", "item", "and",
          "it", "with", "blue", "shop", "late", "again"]  # fmt: skip


def refund_reviews(n: int, *, seed: int) -> pl.DataFrame:
    """Reviews of 4-8 filler words and their length; the label is "yes" exactly when the word
    "refund" is among them: the word every explanation must find."""
    rng = random.Random(seed)
    rows = []
    for _ in range(n):
        words = [rng.choice(FILLER) for _ in range(rng.randint(4, 8))]
        yes = rng.random() < 0.5
        if yes:
            words.insert(rng.randint(0, len(words)), "refund")
        rows.append({"message": " ".join(words), "length": float(len(words)),
                     "label": "yes" if yes else "no"})  # fmt: skip
    return pl.DataFrame(rows)
