"""SHAP speed and accuracy: datawheel's explainer against shap's Kernel, Permutation and Exact.

One TabularMLP (20 numeric features → 64 → 64 → 2) trained with datawheel on
``make_classification`` data; every explainer explains the probability of class "1" for the
same rows, one thread each (OMP_NUM_THREADS=1, torch.set_num_threads(1)).

- speed: 20 rows, the model's 100-row background (shap: ``shap.kmeans(X, 100)`` for Kernel with
  nsamples="auto", ``shap.sample(X, 100)`` for Permutation with max_evals=500, whose first call
  compiles and is timed apart);
- accuracy: mean absolute error against exact Shapley values from shap's ExactExplainer on a
  10-row background (a 100-row one does not fit in memory), for a few rows; datawheel's own
  exact explainer must match it within 1e-4. The samplers are compared at their default budget
  and at a matched time budget.

Run: python benchmarks/bench_explain.py [--exact-rows 4]
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np
import polars as pl
import torch

from datawheel.config import ModelConfig, TrainConfig
from datawheel.evaluate.explain import explain_arrays
from datawheel.train import FeatureColumns, train_classifier

N_FEATURES = 20
N_ROWS = 20


def build_model():
    from sklearn.datasets import make_classification

    x, y = make_classification(
        n_samples=6000, n_features=N_FEATURES, n_informative=10, n_redundant=4, random_state=0
    )
    names = [f"f{i}" for i in range(N_FEATURES)]
    frame = pl.DataFrame({n: x[:, i] for i, n in enumerate(names)}).with_columns(
        pl.Series("label", y.astype(str))
    )
    train, val, test = frame[:4000], frame[4000:5000], frame[5000:]
    result = train_classifier(
        train,
        val,
        features=FeatureColumns(numeric=names),
        target="label",
        model_config=ModelConfig(hidden=[64, 64], dropout=0.0),
        train_config=TrainConfig(epochs=8, device="cpu", precision="fp32", lr=3e-3),
        progress=False,
    )
    model = result.model
    x_train = model.transform(train)[0]
    x_rows = model.transform(test[:N_ROWS])[0]
    return model, x_train, x_rows


def per_row_ms(fn, rows: np.ndarray) -> list[float]:
    times = []
    for i in range(len(rows)):
        started = time.perf_counter()
        fn(rows[i : i + 1])
        times.append((time.perf_counter() - started) * 1000)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--exact-rows", type=int, default=4, help="rows with exact references")
    args = parser.parse_args()
    torch.set_num_threads(1)
    import shap

    model, x_train, x_rows = build_model()
    no_cat = np.zeros((0, 0), np.int64)

    def f(z: np.ndarray) -> np.ndarray:
        z = np.asarray(z, np.float32)
        return model.predict_proba_arrays(z, no_cat.reshape(len(z), 0))[:, 1]

    def ours(rows, **options):
        return explain_arrays(model, rows, no_cat.reshape(len(rows), 0), label="1", **options)

    table = []  # (method, background, p50 ms/row, mean ms/row, MAE vs exact)

    # -- speed: 100-row backgrounds -----------------------------------------------------------
    ours(x_rows[:1])  # warm-up: background probabilities and the sampling design are cached
    t_ours = per_row_ms(ours, x_rows)
    started = time.perf_counter()
    ours(x_rows)
    batch_ms = (time.perf_counter() - started) * 1000 / len(x_rows)
    table.append(("datawheel sampled (100 pairs)", "model's 100 rows", t_ours))

    kernel = shap.KernelExplainer(f, shap.kmeans(x_train, 100))
    t_kernel = per_row_ms(lambda r: kernel.shap_values(r, nsamples="auto", silent=True), x_rows)
    table.append(("shap Kernel (nsamples=auto)", "kmeans 100", t_kernel))

    perm = shap.PermutationExplainer(f, shap.sample(x_train, 100, random_state=0))
    started = time.perf_counter()
    perm(x_rows[:1], max_evals=500, silent=True)
    perm_first_s = time.perf_counter() - started
    t_perm = per_row_ms(lambda r: perm(r, max_evals=500, silent=True), x_rows)
    table.append(("shap Permutation (max_evals=500)", "sample 100", t_perm))

    # -- accuracy: exact references on a 10-row background ------------------------------------
    k = args.exact_rows
    bg10 = shap.sample(x_train, 10, random_state=0)
    bg10_arrays = (bg10.astype(np.float32), no_cat.reshape(10, 0))
    started = time.perf_counter()
    reference = shap.explainers.Exact(f, bg10)(x_rows[:k], max_evals=1 << 21, silent=True).values
    t_shap_exact = (time.perf_counter() - started) * 1000 / k
    started = time.perf_counter()
    exact = ours(x_rows[:k], method="exact", background=bg10_arrays).values
    t_exact = (time.perf_counter() - started) * 1000 / k
    exact_gap = float(np.abs(exact - reference).max())

    def mae(values: np.ndarray) -> float:
        return float(np.abs(values - reference).mean())

    acc = []  # (method, ms/row, MAE) on the 10-row background
    ours10 = lambda r, pairs=100: ours(r, method="sampling", background=bg10_arrays, pairs=pairs)  # noqa: E731
    ours10(x_rows[:1])
    t = np.median(per_row_ms(ours10, x_rows[:k]))
    acc.append(("datawheel sampled (100 pairs)", t, mae(ours10(x_rows[:k]).values)))
    perm10 = shap.PermutationExplainer(f, bg10)

    def perm_values(evals: int):
        run = lambda r: perm10(r, max_evals=evals, silent=True)  # noqa: E731
        ms = np.median(per_row_ms(run, x_rows[:k]))
        return ms, run(x_rows[:k]).values

    t_p, v_p = perm_values(500)
    acc.append(("shap Permutation (max_evals=500)", t_p, mae(v_p)))
    pairs = max(10, round(100 * t_p / max(t, 1e-9) / 10) * 10)  # our budget at its time
    t_m = np.median(per_row_ms(lambda r: ours10(r, pairs=pairs), x_rows[:k]))
    acc.append((f"datawheel sampled ({pairs} pairs, time-matched)", t_m,
                mae(ours10(x_rows[:k], pairs=pairs).values)))  # fmt: skip
    evals = max(2 * N_FEATURES + 2, int(500 * t / max(t_p, 1e-9)))  # its budget at our time
    t_pm, v_pm = perm_values(evals)
    acc.append((f"shap Permutation (max_evals={evals}, time-matched)", t_pm, mae(v_pm)))

    # -- report -------------------------------------------------------------------------------
    print(f"\nSpeed: {N_FEATURES} features, {N_ROWS} rows, one thread\n")
    print(f"{'method':<36} {'background':<18} {'p50 ms/row':>11} {'mean ms/row':>12}")
    for name, bg, times in table:
        print(f"{name:<36} {bg:<18} {np.median(times):>11.2f} {np.mean(times):>12.2f}")
    print(f"datawheel, all {N_ROWS} rows in one call: {batch_ms:.2f} ms/row")
    print(f"shap Permutation first call (compiles): {perm_first_s:.2f} s")
    p50 = np.median(t_ours)
    print(f"\nratios (p50): Kernel / datawheel = {np.median(t_kernel) / p50:.1f}x, "
          f"Permutation / datawheel = {np.median(t_perm) / p50:.1f}x")  # fmt: skip
    print(
        f"target p50 <= 10 ms: {'met' if p50 <= 10 else 'MISSED'} ({p50:.2f} ms); "
        f">= 20x faster than Kernel: {'met' if np.median(t_kernel) / p50 >= 20 else 'MISSED'}"
    )
    print(f"\nAccuracy: {k} rows, 10-row background, exact reference = shap ExactExplainer "
          f"({t_shap_exact:.0f} ms/row); datawheel exact {t_exact:.0f} ms/row, "
          f"max |diff| = {exact_gap:.2e} ({'OK' if exact_gap <= 1e-4 else 'FAIL'})\n")  # fmt: skip
    print(f"{'method':<48} {'p50 ms/row':>11} {'MAE vs exact':>13}")
    for name, ms, err in acc:
        print(f"{name:<48} {ms:>11.2f} {err:>13.5f}")


if __name__ == "__main__":
    main()
