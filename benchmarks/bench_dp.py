"""DP-SGD: accuracy against epsilon, and how much a membership-inference attack gains.

Usage: python benchmarks/bench_dp.py [--epochs 30] [--seeds 2]

For each data set — the bundled income example (Adult census rows) and scikit-learn's breast
cancer table — trains the same MLP without DP and with train.privacy at epsilon 1, 3 and 8
(delta 1e-5), on a deliberately small training set so an unprotected model can memorize. Then
runs the loss-threshold membership-inference attack (Yeom et al. 2018): guess "member" when a
row's loss is below the model's mean training loss (the threshold Yeom et al. give the
attacker); its advantage is TPR - FPR, members being the training rows and non-members as many
held-out rows. 0 means the attacker learns nothing; DP bounds it by e^eps - 1 + delta. The
unprotected model is set up to memorize (no regularization, many epochs, and the epoch kept
is chosen on its own training rows), which is the case DP exists for.
"""

from __future__ import annotations

import argparse
import os
import time
import warnings
from importlib import resources

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np
import polars as pl
import torch

from datawheel.config import ModelConfig, TrainConfig, TrainPrivacyConfig
from datawheel.io import read_table
from datawheel.train import FeatureColumns, train_classifier

torch.set_num_threads(1)
warnings.filterwarnings("ignore", message="Optimal order is the largest alpha")


def _income() -> tuple[pl.DataFrame, str, FeatureColumns]:
    path = resources.files("datawheel.examples") / "income" / "data" / "adult.csv.gz"
    frame = read_table(str(path))
    numeric = ["age", "education_num", "hours_per_week", "capital_gain", "capital_loss"]
    categorical = ["workclass", "education", "marital_status", "occupation", "sex", "race"]
    columns = [c for c in numeric + categorical if c in frame.columns]
    features = FeatureColumns(
        numeric=[c for c in numeric if c in columns],
        categorical=[c for c in categorical if c in columns],
    )
    return frame.select([*columns, "income"]), "income", features


def _cancer() -> tuple[pl.DataFrame, str, FeatureColumns]:
    from sklearn.datasets import load_breast_cancer

    data = load_breast_cancer(as_frame=True)
    frame = pl.from_pandas(data.frame).rename(lambda c: c.replace(" ", "_"))
    frame = frame.with_columns(pl.col("target").cast(pl.String))
    numeric = [c for c in frame.columns if c != "target"]
    return frame, "target", FeatureColumns(numeric=numeric)


def _split(frame: pl.DataFrame, n_train: int, seed: int) -> tuple[pl.DataFrame, ...]:
    shuffled = frame.sample(fraction=1.0, shuffle=True, seed=seed)
    return shuffled.head(n_train), shuffled.slice(n_train, max(n_train, 300))


def _losses(model, frame: pl.DataFrame, target: str) -> np.ndarray:
    proba = model.predict_proba(frame)
    classes = list(model.classes)
    index = np.array([classes.index(v) for v in frame[target].cast(pl.String).to_list()])
    return -np.log(np.clip(proba[np.arange(len(index)), index], 1e-12, 1.0))


def _advantage(member_loss: np.ndarray, other_loss: np.ndarray) -> float:
    threshold = float(member_loss.mean())
    return float((member_loss <= threshold).mean() - (other_loss <= threshold).mean())


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--epochs", type=int, default=150)
    ap.add_argument("--seeds", type=int, default=2)
    args = ap.parse_args()
    sets = {"income (Adult)": (_income(), 500), "breast cancer": (_cancer(), 250)}
    print(
        f"{'data set':16} {'epsilon':>8} {'accuracy':>9} {'MIA adv.':>9} {'eps spent':>10} {'s':>6}"
    )
    for name, ((frame, target, features), n_train) in sets.items():
        for epsilon in (1.0, 3.0, 8.0, None):
            accs, advs, spent, secs = [], [], [], []
            for seed in range(args.seeds):
                train, test = _split(frame, n_train, seed)
                privacy = TrainPrivacyConfig(epsilon=epsilon, delta=1e-5) if epsilon else None
                cfg = TrainConfig(
                    epochs=args.epochs,
                    batch_size=64,
                    lr=0.01 if epsilon else 0.003,
                    weight_decay=0.0,
                    early_stopping=0,
                    seed=seed,
                    privacy=privacy,
                )
                model_cfg = ModelConfig(hidden=[256, 256], dropout=0.0)
                started = time.perf_counter()
                result = train_classifier(
                    train,
                    train,  # selection on its own rows keeps the most fitted epoch: memorizes
                    features=features,
                    target=target,
                    model_config=model_cfg,
                    train_config=cfg,
                    progress=False,
                )
                secs.append(time.perf_counter() - started)
                truth = test[target].cast(pl.String).to_numpy()
                accs.append(float((np.asarray(result.model.predict(test)) == truth).mean()))
                others = test.head(train.height)
                advs.append(_advantage(_losses(result.model, train, target),
                                       _losses(result.model, others, target)))  # fmt: skip
                spent.append(result.privacy["epsilon"] if result.privacy else float("inf"))
            label = "inf" if epsilon is None else f"{epsilon:g}"
            print(
                f"{name:16} {label:>8} {np.mean(accs):9.3f} {np.mean(advs):9.3f} "
                f"{np.mean(spent):10.2f} {np.mean(secs):6.1f}"
            )


if __name__ == "__main__":
    main()
