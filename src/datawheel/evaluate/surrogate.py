"""LIME-style local surrogates: a weighted ridge fitted to the model around each row.

The interpretable representation has one binary feature per input column: 1 = the row's own
value, 0 = the value of a background row. Perturbations switch off a uniformly drawn number of
columns at random; each is weighted by an exponential kernel on the number of switched-off
columns (LIME's kernel on the Euclidean distance of binary vectors, width 0.75·sqrt(M)).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from datawheel.evaluate.shapley import Background, Players, Predict, _compose, predict_label

__all__ = ["SurrogateFit", "lime_values"]


@dataclass(frozen=True)
class SurrogateFit:
    coef: np.ndarray  # [n, M]: effect of each column's own value against the background
    intercept: np.ndarray  # [n]: the surrogate with every column from the background
    local_prediction: np.ndarray  # [n]: the surrogate at the row itself (intercept + sum coef)
    r2: np.ndarray  # [n]: kernel-weighted R² of the surrogate on the perturbations


def lime_values(
    predict: Predict,
    players: Players,
    x_num: np.ndarray,
    x_cat: np.ndarray,
    bg: Background,
    label: np.ndarray,
    *,
    n_samples: int,
    alpha: float,
    seed: int,
    batch_rows: int,
) -> SurrogateFit:
    """Fit one ridge surrogate per row; all rows share the perturbation design (one fit)."""
    from sklearn.linear_model import Ridge

    n, m, b = x_num.shape[0], players.size, len(bg)
    rng = np.random.default_rng(seed)
    off = rng.integers(1, m + 1, size=n_samples - 1)  # columns switched off per perturbation
    ranks = np.argsort(rng.random((n_samples - 1, m)), axis=1)
    z = np.vstack([np.ones((1, m), bool), ranks >= off[:, None]])  # [N, M]; row 0 = the row
    bg_index = rng.integers(0, b, size=n_samples)  # [N]
    width2 = 0.5625 * m  # (0.75 · sqrt(M))²
    weight = np.exp(-(~z).sum(axis=1) / width2)  # [N]

    y = np.empty((n_samples, n))  # [N, n]: the model on each perturbation of each row
    step = max(1, batch_rows // n_samples)
    for start in range(0, n, step):
        rows = np.arange(start, min(n, start + step))
        row = np.repeat(rows, n_samples)
        masks = np.tile(z, (len(rows), 1))
        num, cat = _compose(players, x_num, x_cat, bg, masks, row, np.tile(bg_index, len(rows)))
        p = predict_label(predict, num, cat, label[row], batch_rows)
        y[:, start : start + len(rows)] = p.reshape(len(rows), n_samples).T

    design = z.astype(np.float64)
    ridge = Ridge(alpha=alpha).fit(design, y, sample_weight=weight)
    coef = np.atleast_2d(ridge.coef_)  # [n, M]
    intercept = np.broadcast_to(ridge.intercept_, (n,)).astype(np.float64)
    fitted = design @ coef.T + intercept  # [N, n]
    mean = weight @ y / weight.sum()
    total = weight @ (y - mean) ** 2
    residual = weight @ (y - fitted) ** 2
    r2 = np.where(total > 0, 1.0 - residual / np.where(total > 0, total, 1.0), 1.0)
    return SurrogateFit(coef, intercept, intercept + coef.sum(axis=1), r2)
