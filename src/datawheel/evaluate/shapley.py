"""Interventional Shapley values over input columns: exact over every coalition, or sampled.

Both estimators work on the network's input arrays and call the model only in large batches.
A *player* is one input column; it may own several array positions (a numeric column and its
missing indicator, or a text column's embedding), which always move together. The value of a
coalition S for row x is the interventional one (shap's Exact/Kernel explainers with a
background dataset): ``v(S) = mean_b f(x_S, b_rest)`` over the background rows b, so
``v(∅)`` is the base value and ``v(all) = f(x)``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

__all__ = [
    "Additive",
    "Background",
    "Players",
    "exact_shapley",
    "predict_label",
    "sampled_shapley",
]

#: (numeric float32 [n, d], categorical int64 [n, c]) -> class probabilities [n, K]
Predict = Callable[[np.ndarray, np.ndarray], np.ndarray]


class Additive(Protocol):
    """A network whose first layer is a sum over input positions, then a head (``FoldedMLP``).

    A composed row's first layer is then the sum of its players' terms, each taken from x or
    from the background row: no d-wide row is built or multiplied, and the text block of a
    hashed bag (a thousand positions) costs what one numeric column costs.
    """

    @property
    def first_bias(self) -> np.ndarray: ...  # [h]

    def group_terms(
        self,
        numeric: np.ndarray,
        categorical: np.ndarray,
        numeric_group: np.ndarray,
        categorical_group: np.ndarray,
        groups: int,
    ) -> np.ndarray: ...  # [n, groups, h]

    def head_proba(self, pre: np.ndarray) -> np.ndarray: ...  # [R, h] -> [R, K]


@dataclass(frozen=True)
class Players:
    """The input columns being attributed and the array positions each one owns."""

    names: list[str]
    numeric_owner: np.ndarray  # [d] int: the player of each numeric position
    categorical_owner: np.ndarray  # [c] int: the player of each categorical position

    @property
    def size(self) -> int:
        return len(self.names)


@dataclass(frozen=True)
class Background:
    """Transformed reference rows and the model's probabilities on them."""

    numeric: np.ndarray  # [B, d] float32
    categorical: np.ndarray  # [B, c] int64
    proba: np.ndarray  # [B, K] float64
    cache: dict = field(default_factory=dict, compare=False, repr=False)  # row-free designs

    def __len__(self) -> int:
        return self.numeric.shape[0]

    def base_values(self, label: np.ndarray) -> np.ndarray:
        """``v(∅)`` per explained row: the mean background probability of its label [n]."""
        return self.proba.mean(axis=0)[label]


def predict_label(
    predict: Predict, numeric: np.ndarray, categorical: np.ndarray, label: np.ndarray, batch: int
) -> np.ndarray:
    """Probability of ``label[r]`` for each composed row r, float64 [R], in chunks of ``batch``."""
    out = np.empty(len(label), dtype=np.float64)
    for start in range(0, len(label), batch):
        stop = start + batch
        proba = predict(numeric[start:stop], categorical[start:stop])  # [chunk, K]
        out[start:stop] = proba[np.arange(len(proba)), label[start:stop]]
    return out


def _compose(
    players: Players,
    x_num: np.ndarray,
    x_cat: np.ndarray,
    bg: Background,
    masks: np.ndarray,
    x_index: np.ndarray,
    bg_index: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Rows that take player p from ``x[x_index]`` where ``masks[r, p]``, else from background."""
    take_num = masks[:, players.numeric_owner]  # [R, d]
    take_cat = masks[:, players.categorical_owner]  # [R, c]
    numeric = np.where(take_num, x_num[x_index], bg.numeric[bg_index])  # [R, d]
    categorical = np.where(take_cat, x_cat[x_index], bg.categorical[bg_index])  # [R, c]
    return numeric, categorical


def _passes(units: int, rows_per_unit: int, batch_rows: int) -> Iterator[tuple[int, int]]:
    """[start, stop) ranges of units such that one pass holds about ``batch_rows`` model rows."""
    step = max(1, batch_rows // max(1, rows_per_unit))
    for start in range(0, units, step):
        yield start, min(units, start + step)


def exact_shapley(
    predict: Predict,
    players: Players,
    x_num: np.ndarray,
    x_cat: np.ndarray,
    bg: Background,
    label: np.ndarray,
    output: np.ndarray,
    *,
    batch_rows: int,
    additive: Additive | None = None,
    checkpoint: Callable[[], None] | None = None,
) -> np.ndarray:
    """Exact Shapley values [n, M] from all 2^M coalitions, each averaged over the background.

    Costs ``n · 2^M · B`` model rows; with ``additive`` (the same network, split at its first
    layer) each costs only the head. ``v(∅)`` and ``v(all)`` are pinned to the base value and
    ``output`` (the model on the row alone), so base + sum(values) = output to rounding.
    ``checkpoint`` runs before each pass of the split network (``predict`` is not called
    there): it may raise to stop the work.
    """
    n, m, b = x_num.shape[0], players.size, len(bg)
    ids = np.arange(1 << m)
    masks = ((ids[:, None] >> np.arange(m)) & 1).astype(bool)  # [2^M, M], coalition = bitmask
    v = np.empty((n, 1 << m))  # v[i, S]
    if additive is not None:
        _additive_values(additive, players, x_num, x_cat, bg, label, masks, v, batch_rows,
                         checkpoint)  # fmt: skip
    units = 0 if additive is not None else n << m  # unit = (row, coalition) × B background rows
    for start, stop in _passes(units, b, batch_rows):
        unit = np.repeat(np.arange(start, stop), b)  # [U·B]
        row, coalition = unit >> m, unit & ((1 << m) - 1)
        bg_index = np.tile(np.arange(b), stop - start)  # [U·B]
        num, cat = _compose(players, x_num, x_cat, bg, masks[coalition], row, bg_index)
        p = predict_label(predict, num, cat, label[row], batch_rows)  # [U·B]
        v.reshape(-1)[start:stop] = p.reshape(-1, b).mean(axis=1)
    v[:, 0] = bg.base_values(label)
    v[:, -1] = output
    return _shapley_from_values(v, m)


def _additive_values(
    net: Additive,
    players: Players,
    x_num: np.ndarray,
    x_cat: np.ndarray,
    bg: Background,
    label: np.ndarray,
    masks: np.ndarray,
    v: np.ndarray,
    batch_rows: int,
    checkpoint: Callable[[], None] | None = None,
) -> None:
    """Fill ``v[i, S]`` through the split network. With X[i, p] and G[b, p] the players' first-
    layer terms, row i's coalition S over background row b starts the head from
    ``bias + Σ_p G[b, p] - Σ_{p∈S} G[b, p] + Σ_{p∈S} X[i, p]``: a background part [B, 2^M, h]
    built once, plus a row part [n, 2^M, h]."""
    m, b = players.size, len(bg)
    coalitions = masks.astype(np.float32)  # [2^M, M]
    groups = (players.numeric_owner, players.categorical_owner, m)
    key = ("coalition terms", tuple(players.names))
    hit = bg.cache.get(key)
    if hit is None or hit[0] is not net:  # the background part serves every row after
        terms = net.group_terms(bg.numeric, bg.categorical, *groups)  # [B, M, h]
        base = terms.sum(axis=1) + net.first_bias  # [B, h]
        hit = bg.cache[key] = (net, base[:, None, :] - coalitions @ terms)  # [B, 2^M, h]
    bg_part = hit[1]
    x_part = coalitions @ net.group_terms(x_num, x_cat, *groups)  # [n, 2^M, h]
    for start, stop in _passes(len(x_num), b << m, batch_rows):
        if checkpoint is not None:
            checkpoint()
        pre = x_part[start:stop, None] + bg_part[None]  # [U, B, 2^M, h]
        proba = net.head_proba(pre.reshape(-1, pre.shape[-1]))  # [U·B·2^M, K]
        proba = proba.reshape(stop - start, b, 1 << m, -1)  # [U, B, 2^M, K]
        own = label[start:stop, None, None, None]  # [U, 1, 1, 1]: each row's label
        v[start:stop] = np.take_along_axis(proba, own, axis=3)[..., 0].mean(axis=1)


def _shapley_from_values(v: np.ndarray, m: int) -> np.ndarray:
    """phi_i = sum over S without i of |S|!(M-|S|-1)!/M! · (v(S+i) - v(S)); v is [n, 2^M]."""
    ids = np.arange(1 << m)
    size = np.bitwise_count(ids)
    weight = np.array([math.factorial(s) * math.factorial(m - s - 1) for s in range(m)])
    weight = weight / math.factorial(m)
    phi = np.empty((v.shape[0], m))
    for i in range(m):
        without = ids[((ids >> i) & 1) == 0]  # [2^(M-1)]
        phi[:, i] = (v[:, without | (1 << i)] - v[:, without]) @ weight[size[without]]
    return phi


def antithetic_permutations(m: int, pairs: int, seed: int) -> np.ndarray:
    """``2·pairs`` orders of the M players [2P, M]: each order followed by its reverse.

    The forward orders are rows of random Latin squares (a cyclic square with its rows, columns
    and symbols shuffled), so within each block of M orders every player joins at every step
    exactly once: a stratification that cuts the estimator's variance a little at no cost.
    """
    rng = np.random.default_rng(seed)
    blocks = []
    for _ in range(-(-pairs // m)):
        r, c, s = rng.permutation(m), rng.permutation(m), rng.permutation(m)
        blocks.append(s[(r[:, None] + c[None, :]) % m])  # [M, M], a Latin square
    forward = np.concatenate(blocks)[:pairs]  # [P, M]
    return np.stack([forward, forward[:, ::-1]], axis=1).reshape(2 * pairs, m)


@dataclass(frozen=True)
class _Walks:
    """The row-independent part of the sampling estimator, built once per background."""

    ranks: np.ndarray  # [W, M]: the step at which each player joins each walk
    walk_bg: np.ndarray  # [W]: the background row of each walk
    take_num: np.ndarray  # [W(M-1), d] bool: numeric positions taken from x, interior steps
    take_cat: np.ndarray  # [W(M-1), c] bool
    bg_num: np.ndarray  # [W(M-1), d]: the background values of those rows
    bg_cat: np.ndarray  # [W(M-1), c]


def _walks(players: Players, bg: Background, pairs: int, seed: int) -> _Walks:
    key = ("walks", tuple(players.names), pairs, seed)
    if key not in bg.cache:
        m, b = players.size, len(bg)
        orders = antithetic_permutations(m, pairs, seed)  # [W, M]
        ranks = np.argsort(orders, axis=1)
        walk_bg = np.repeat(np.arange(pairs) % b, 2)  # an order and its reverse share a row
        # interior coalitions k = 1..M-1 of every walk: the players that joined before step k
        inner = (ranks[:, None, :] < np.arange(1, m)[None, :, None]).reshape(-1, m)
        inner_bg = np.repeat(walk_bg, m - 1)
        bg.cache[key] = _Walks(
            ranks,
            walk_bg,
            inner[:, players.numeric_owner],
            inner[:, players.categorical_owner],
            bg.numeric[inner_bg],
            bg.categorical[inner_bg],
        )
    return bg.cache[key]


def sampled_shapley(
    predict: Predict,
    players: Players,
    x_num: np.ndarray,
    x_cat: np.ndarray,
    bg: Background,
    label: np.ndarray,
    output: np.ndarray,
    *,
    pairs: int,
    seed: int,
    batch_rows: int,
) -> np.ndarray:
    """Antithetic permutation sampling [n, M]; additive by construction.

    Each sampled order is paired with one background row b and walked from ``f(b)`` (no player
    from x) to ``f(x)`` (all players from x), adding players in that order; each step's change
    goes to the player added. A walk's steps sum to ``f(x) - f(b)``. ``pairs`` is rounded up to
    a multiple of B and the background rows are used in turn, so every row is used equally
    often and the average walk sums to exactly ``f(x) - base value``. The same orders serve
    every explained row, so a row's values do not depend on the rows explained with it.
    Costs ``n · 2·pairs · (M-1)`` model rows.
    """
    n, m, b = x_num.shape[0], players.size, len(bg)
    pairs = b * max(1, math.ceil(pairs / b))
    walks = _walks(players, bg, pairs, seed)
    v = np.empty((n, 2 * pairs, m + 1))  # v[i, walk, step]
    v[:, :, 0] = bg.proba[walks.walk_bg][:, label].T  # f(b) for the label of each row
    v[:, :, m] = output[:, None]
    per_row = walks.take_num.shape[0]
    for start, stop in _passes(n, per_row, batch_rows) if m > 1 else []:
        u = stop - start
        num = np.where(walks.take_num, x_num[start:stop, None, :], walks.bg_num)  # [U, R, d]
        cat = np.where(walks.take_cat, x_cat[start:stop, None, :], walks.bg_cat)  # [U, R, c]
        rows = np.repeat(label[start:stop], per_row)
        p = predict_label(predict, num.reshape(u * per_row, -1), cat.reshape(u * per_row, -1),
                          rows, batch_rows)  # fmt: skip
        v[start:stop, :, 1:m] = p.reshape(u, 2 * pairs, m - 1)
    steps = np.diff(v, axis=2)  # [n, W, M]: steps[i, w, k] = gain of the k-th player of walk w
    return np.take_along_axis(steps, walks.ranks[None], axis=2).mean(axis=1)  # [n, M]
