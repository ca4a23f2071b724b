"""Bootstrap intervals: datawheel's ``bootstrap_ci`` against scipy and a scikit-learn loop.

The model card puts a 95 % percentile-bootstrap interval on every headline metric, so its cost
is paid on every evaluation. Peers, on the same predictions and the same number of resamples:

- accuracy: ``scipy.stats.bootstrap(method="percentile", vectorized=True)`` on the per-row
  "correct" indicator (the well-kept vectorized bootstrap);
- macro / positive-class F1: a loop of scikit-learn ``f1_score`` calls on resampled rows (what
  one writes without a confusion-matrix trick; scipy cannot vectorize F1).

Data: tables that ship with the libraries (scikit-learn's digits, 10 classes, and breast
cancer, binary) and the bundled UCI Adult income table (binary), predicted by a scikit-learn
logistic regression fitted on the other half. The endpoints of the two intervals differ only by
Monte Carlo noise (printed). Timings: best of ``--repeat`` runs, one thread.

    OMP_NUM_THREADS=1 python benchmarks/bench_metrics.py [--n-boot 200] [--repeat 5]
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np
from scipy import stats
from sklearn.datasets import load_breast_cancer, load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score
from sklearn.preprocessing import StandardScaler

from datawheel.evaluate.statistics import bootstrap_ci
from datawheel.io import read_table

ADULT = Path(__file__).resolve().parents[1] / "src/datawheel/examples/income/data/adult.csv.gz"
NUMERIC = ["age", "education_num", "capital_gain", "capital_loss", "hours_per_week"]


def _predicted(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Labels and probabilities on the second half, from a model fitted on the first."""
    half = len(y) // 2
    scaler = StandardScaler().fit(x[:half])
    model = LogisticRegression(max_iter=2000).fit(scaler.transform(x[:half]), y[:half])
    proba = model.predict_proba(scaler.transform(x[half:]))
    return y[half:], proba, [str(c) for c in model.classes_]


def datasets() -> dict[str, tuple[np.ndarray, np.ndarray, list[str]]]:
    digits, cancer = load_digits(), load_breast_cancer()
    adult = read_table(ADULT)
    return {
        "digits (10 classes)": _predicted(digits.data, digits.target.astype(str)),
        "breast cancer (binary)": _predicted(cancer.data, cancer.target.astype(str)),
        "adult income (binary)": _predicted(
            adult.select(NUMERIC).to_numpy().astype(float), adult["income"].to_numpy().astype(str)
        ),
    }


def best_of(repeat: int, fn: Callable[[], tuple]) -> tuple[float, tuple]:
    result, best = (), float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return best, result


def contenders(
    y: np.ndarray, proba: np.ndarray, classes: list[str], n_boot: int
) -> list[tuple[str, str, Callable[[], tuple]]]:
    """(metric, tool, run) for one data set: datawheel first, then its peer, per metric."""
    binary = len(classes) == 2
    predicted = np.asarray(classes)[proba.argmax(axis=1)]
    correct = (predicted == y).astype(float)
    rng = np.random.default_rng(0)

    def scipy_accuracy() -> tuple:
        result = stats.bootstrap(
            (correct,), np.mean, n_resamples=n_boot, method="percentile", vectorized=True,
            random_state=0,
        )  # fmt: skip
        return tuple(result.confidence_interval)

    def sklearn_f1_loop() -> tuple:
        values = []
        for _ in range(n_boot):
            idx = rng.integers(0, len(y), len(y))
            values.append(
                f1_score(
                    y[idx],
                    predicted[idx],
                    average="binary" if binary else "macro",
                    pos_label=classes[1] if binary else 1,
                    zero_division=0,
                )
            )
        return tuple(np.quantile(values, [0.025, 0.975]))

    def ours(metric: str) -> Callable[[], tuple]:
        return lambda: bootstrap_ci(list(y), proba, classes, metric, n_boot=n_boot)

    return [
        ("accuracy", "datawheel", ours("accuracy")),
        ("accuracy", "scipy.stats.bootstrap", scipy_accuracy),
        ("f1", "datawheel", ours("f1")),
        ("f1", "scikit-learn loop", sklearn_f1_loop),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-boot", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    print(f"{args.n_boot} resamples, best of {args.repeat}, 95 % percentile intervals")
    print(f"{'data':24} {'rows':>6} {'metric':9} {'tool':22} {'ms':>8} {'ratio':>7}  interval")
    for name, (y, proba, classes) in datasets().items():
        datawheel_seconds: dict[str, float] = {}
        for metric, tool, run in contenders(y, proba, classes, args.n_boot):
            seconds, (low, high) = best_of(args.repeat, run)
            ratio = seconds / datawheel_seconds.setdefault(metric, seconds)
            print(
                f"{name:24} {len(y):>6} {metric:9} {tool:22} {seconds * 1000:8.2f} "
                f"{ratio:6.1f}x  [{low:.4f}, {high:.4f}]"
            )
    print("ratio: the tool's time over datawheel's (higher: datawheel faster)")


if __name__ == "__main__":
    main()
