"""Exact explanations of the tree and linear families, per input column and per word.

Values are exact Shapley values in the model's margin: TreeSHAP for LightGBM (its
``pred_contrib``), the closed form ``w (x - E[x])`` for linear models. The margin is the
log-odds of the explained class for a binary model, the class score (a softmax input) for a
multiclass one, the value for a regression; ``scale`` says which. Each row's base value plus
the sum of its values equals that margin. Text columns also get per-word values: the
contributions of the n-grams the text contains, shared among their words; what the text's
*absent* n-grams contributed (trees split on absence too) is the ``rest``, so the words plus
the rest add up to the column's value.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import polars as pl

from datawheel.errors import UsageError
from datawheel.train.tfidf import word_attributions

__all__ = ["TOP_WORDS", "design_attributions", "explain_design_rows"]

TOP_WORDS = 20  # words kept per text column and row, by |value|


def _scale(model: Any) -> str:
    if model.is_regression:
        return "value"
    return "log_odds" if len(model.classes) == 2 else "class_score"


def design_attributions(
    model: Any, rows: Sequence[Mapping[str, Any]] | pl.DataFrame, *, label: str | None = None
) -> dict[str, Any]:
    """Arrays for ``rows``: labels [n], base [n], values [n, M], margin [n], and per row the
    position contributions of the explained margin (CSR), for the word breakdown."""
    from scipy import sparse

    network = model.network
    numeric, categorical = model.transform(rows)
    texts = model.preprocessor.texts(rows) if network.reads_text else None
    x = network.matrix(numeric, categorical, texts)
    base_all, per_margin = network.contributions(x)
    n = x.shape[0]
    if model.is_regression:
        which, sign, labels = np.zeros(n, dtype=np.int64), np.ones(n), [None] * n
    else:
        proba = network.output(numeric, categorical, texts)
        index = _label_index(model.classes, label, proba)
        labels = [model.classes[i] for i in index]
        if len(model.classes) == 2:  # one margin: the log-odds of classes[1]
            which, sign = np.zeros(n, dtype=np.int64), np.where(index == 1, 1.0, -1.0)
        else:
            which, sign = index, np.ones(n)
    owner = network.design.owner()
    grouping = sparse.csr_matrix(
        (np.ones(len(owner)), (np.arange(len(owner)), owner)),
        shape=(len(owner), len(network.design.players)),
    )
    values = np.empty((n, len(network.design.players)))
    base = np.empty(n)
    chosen = []
    for k, contrib in enumerate(per_margin):
        rows_k = np.flatnonzero(which == k)
        if not rows_k.size:
            continue
        part = contrib[rows_k]
        values[rows_k] = np.asarray((part @ grouping).todense()) * sign[rows_k, None]
        base[rows_k] = base_all[rows_k, k] * sign[rows_k]
    for i in range(n):
        chosen.append(per_margin[which[i]][i] * sign[i])
    return {
        "labels": labels,
        "base": base,
        "values": values,
        "contrib": chosen,
        "x": x,
        "texts": texts,
    }


def explain_design_rows(
    model: Any,
    rows: Sequence[Mapping[str, Any]] | pl.DataFrame,
    *,
    label: str | None = None,
    method: str = "shap",
    **_: Any,
) -> list[dict[str, Any]]:
    """``{"label", "base_value", "values", "scale", "tokens"?}`` per row (see the module)."""
    if method not in ("shap", "exact"):
        raise UsageError(
            f"a {model.family} model is explained exactly; method {method!r} does not apply",
            hint="use method='shap'",
        )
    parts = design_attributions(model, rows, label=label)
    design = model.network.design
    players = design.players
    out = []
    for i, row_label in enumerate(parts["labels"]):
        entry: dict[str, Any] = {
            "label": row_label,
            "base_value": float(parts["base"][i]),
            "values": {c: float(v) for c, v in zip(players, parts["values"][i], strict=True)},
            "scale": _scale(model),
        }
        if design.tfidf:
            entry["tokens"] = _tokens(design, parts, i)
        out.append(entry)
    return out


def _tokens(design: Any, parts: dict[str, Any], i: int) -> dict[str, Any]:
    contrib = parts["contrib"][i]  # [1, width] CSR
    present = set(parts["x"][i].indices.tolist())
    out = {}
    for j, (start, block) in enumerate(zip(design.text_offsets, design.tfidf, strict=True)):
        column = design.players[design.text_owner[j]]
        stop = start + block.width
        values: dict[int, float] = {}
        absent = 0.0
        for position, value in zip(contrib.indices, contrib.data, strict=True):
            if start <= position < stop:
                if position in present:
                    values[int(position) - start] = float(value)
                else:
                    absent += float(value)
        words, rest = word_attributions(str(parts["texts"][i][j] or ""), block, values)
        out[column] = {
            "values": [[w, float(v)] for w, v in words[:TOP_WORDS]],
            "rest": float(rest + absent + sum(v for _, v in words[TOP_WORDS:])),
            "method": "shapley",
        }
    return out


def _label_index(classes: list[str], label: str | None, proba: np.ndarray) -> np.ndarray:
    if label is None:
        return proba.argmax(axis=1)
    if str(label) not in classes:
        raise UsageError(f"label {label!r} is not one of the classes {classes}")
    return np.full(len(proba), classes.index(str(label)))
