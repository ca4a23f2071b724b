"""Per-row explanations of a trained model over its input columns: SHAP (exact or sampled), LIME.

``explain_rows(model, rows)`` is what ``TrainedModel.explain`` calls. Each explanation is
``{"label", "base_value", "values": {column: v}}`` where base value + sum of values equals the
model's probability for ``label`` (the row's predicted class unless ``label=`` names one).
"""

from __future__ import annotations

import math
import weakref
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import polars as pl

from datawheel.errors import Cancelled, UsageError
from datawheel.evaluate.shapley import Background, Players, exact_shapley, sampled_shapley
from datawheel.evaluate.surrogate import lime_values

__all__ = [
    "EXACT_MAX_EVALS",
    "METHODS",
    "Attributions",
    "explain_arrays",
    "explain_rows",
    "global_importance",
    "players_of",
]

METHODS = ("shap", "exact", "sampling", "lime")
#: ``shap`` is exact while 2^M coalitions × B background rows fit in this many model rows per
#: explained row (M <= 10 with the 100-row background, M <= 13 with 10 rows); sampled beyond.
EXACT_MAX_EVALS = 1 << 17
DEFAULT_PAIRS = 100  # antithetic order pairs per row (rounded up to a multiple of the background)
DEFAULT_LIME_SAMPLES = 1000
BATCH_ROWS = 65_536  # model rows per forward pass: large enough to amortize, ~10 MB of inputs


class ExplainableModel(Protocol):
    classes: list[str]
    preprocessor: Any
    background: tuple[np.ndarray, np.ndarray] | None

    def transform(self, rows: Any) -> tuple[np.ndarray, np.ndarray]: ...

    def predict_proba_arrays(self, numeric: np.ndarray, categorical: np.ndarray) -> np.ndarray: ...


@dataclass
class Attributions:
    """Attributions for n rows over M input columns; base_values + values.sum(1) = outputs."""

    columns: list[str]
    labels: list[Any]  # [n] the class explained per row (None for a regression)
    base_values: np.ndarray  # [n]
    values: np.ndarray  # [n, M]
    outputs: np.ndarray  # [n] the model's probability of the label
    method: str  # "exact" | "sampling" | "lime"
    surrogate: list[dict[str, float]] = field(default_factory=list)  # lime: one per row
    label_index: np.ndarray | None = None  # [n] the explained output's column

    @property
    def scale(self) -> str:
        """What the values add up to: the label's ``probability``, or a regression's ``value``."""
        return "value" if self.labels and self.labels[0] is None else "probability"

    def to_dicts(self) -> list[dict[str, Any]]:
        out = []
        for i, label in enumerate(self.labels):
            entry: dict[str, Any] = {
                "label": label,
                "base_value": float(self.base_values[i]),
                "values": {c: float(v) for c, v in zip(self.columns, self.values[i], strict=True)},
                "scale": self.scale,
            }
            if self.surrogate:
                entry["surrogate"] = self.surrogate[i]
            out.append(entry)
        return out


def players_of(preprocessor: Any) -> Players:
    """One player per input column, owning its array positions.

    A numeric column owns its standardized value and, when it has one, its missing indicator;
    a text column owns its whole block (a hashed bag or an embedding) after the indicators. A
    preprocessor may declare other groupings with
    ``column_positions() -> {column: (numeric positions, categorical positions)}``.
    """
    columns = preprocessor.columns
    if callable(getattr(preprocessor, "column_positions", None)):
        positions = preprocessor.column_positions()
    else:
        numeric = list(columns.numeric)
        positions = {name: [[j], []] for j, name in enumerate(numeric)}
        for k, name in enumerate(preprocessor.missing_indicator_):
            positions[name][0].append(len(numeric) + k)
        positions.update({name: [[], [j]] for j, name in enumerate(columns.categorical)})
        start = len(numeric) + len(preprocessor.missing_indicator_)
        width = getattr(preprocessor, "text_width", 0) if getattr(columns, "text", None) else 0
        for t, name in enumerate(getattr(columns, "text", [])):
            positions[name] = [list(range(start + t * width, start + (t + 1) * width)), []]
    names = list(positions)
    num_owner = np.full(preprocessor.n_numeric_features, -1)
    cat_owner = np.full(len(columns.categorical), -1)
    for p, name in enumerate(names):
        num_owner[list(positions[name][0])] = p
        cat_owner[list(positions[name][1])] = p
    assert (num_owner >= 0).all() and (cat_owner >= 0).all(), "every position needs a column"
    return Players(names, num_owner, cat_owner)


def explain_rows(
    model: ExplainableModel, rows: Sequence[Mapping[str, Any]] | pl.DataFrame, **options: Any
) -> list[dict[str, Any]]:
    """Explain raw rows (a list of dicts or a polars DataFrame); options as ``explain_arrays``.

    A text column's value is also split over the text's words (``tokens``, see
    ``evaluate.explain_text``)."""
    numeric, categorical = model.transform(rows)
    result = explain_arrays(model, numeric, categorical, **options)
    out = result.to_dicts()
    text = list(getattr(model.preprocessor.columns, "text", []) or [])
    width = int(getattr(model.preprocessor, "text_width", 0) or 0)  # 0: no array form of text
    if text and result.label_index is not None and width:
        from datawheel.evaluate.explain_text import text_tokens

        position = {name: p for p, name in enumerate(result.columns)}
        tokens = text_tokens(
            model, model.preprocessor.texts(rows), numeric, categorical, result.label_index,
            {name: result.values[:, position[name]] for name in text},
            should_stop=options.get("should_stop"),
        )  # fmt: skip
        for entry, words in zip(out, tokens, strict=True):
            entry["tokens"] = words
    return out


def explain_arrays(
    model: ExplainableModel,
    numeric: np.ndarray,
    categorical: np.ndarray,
    *,
    method: str = "shap",
    label: str | None = None,
    background: Any = None,
    pairs: int = DEFAULT_PAIRS,
    n_samples: int = DEFAULT_LIME_SAMPLES,
    alpha: float = 1.0,
    exact_max_evals: int = EXACT_MAX_EVALS,
    seed: int = 0,
    batch_rows: int = BATCH_ROWS,
    should_stop: Callable[[], bool] | None = None,
) -> Attributions:
    """Attributions for transformed rows.

    ``method``: ``shap`` (exact when 2^M·B <= ``exact_max_evals``, else sampling), ``exact``
    (every coalition), ``sampling`` (``pairs`` antithetic permutation pairs) or ``lime``
    (a ridge surrogate on ``n_samples`` perturbations, penalty ``alpha``). ``background``:
    None (the model's own), an int k (k of the model's rows, seeded), arrays
    ``(numeric, categorical)``, or raw rows. ``should_stop`` is asked before every forward
    pass; once it answers True the work stops with `Cancelled` (a served request's timeout).
    """
    if method not in METHODS:
        raise UsageError(f"unknown explanation method {method!r}", hint=f"use one of {METHODS}")
    for name, value in (("pairs", pairs), ("n_samples", n_samples), ("batch_rows", batch_rows)):
        if value < 1:
            raise UsageError(f"{name} must be >= 1, got {value}")
    players, bg = _cached(model, background, seed)
    predict = _stoppable(_predict_fn(model), should_stop)
    x_num = np.ascontiguousarray(numeric, dtype=np.float32)
    x_cat = np.ascontiguousarray(categorical, dtype=np.int64)
    proba = np.asarray(predict(x_num, x_cat), dtype=np.float64)  # [n, K] (or [n, 1] values)
    if _is_regression(model):  # one output, the value: no label to choose
        label_index = np.zeros(len(proba), dtype=np.int64)
        labels: list[Any] = [None] * len(proba)
    else:
        label_index = _label_index(model.classes, label, proba)
        labels = [model.classes[i] for i in label_index]
    output = proba[np.arange(len(proba)), label_index]
    base = bg.base_values(label_index)
    if method == "shap":
        exact_cost = (1 << players.size) * len(bg)  # model rows per explained row
        method = "exact" if players.size <= 20 and exact_cost <= exact_max_evals else "sampling"
    if method == "lime":
        fit = lime_values(predict, players, x_num, x_cat, bg, label_index,
                          n_samples=max(n_samples, 2), alpha=alpha, seed=seed,
                          batch_rows=batch_rows)  # fmt: skip
        surrogate = [
            {"intercept": float(a), "local_prediction": float(p), "r2": float(r)}
            for a, p, r in zip(fit.intercept, fit.local_prediction, fit.r2, strict=True)
        ]
        # the contract (base + sum = the model's output) holds by taking the base as the
        # output minus the surrogate's column effects; its own intercept is reported beside
        base = output - fit.coef.sum(axis=1)
        return Attributions(players.names, labels, base, fit.coef, output, "lime", surrogate,
                            label_index)  # fmt: skip
    if method == "exact":
        if players.size > 20:
            raise UsageError(
                f"exact Shapley values over {players.size} columns need 2^{players.size} "
                "coalitions per row", hint="use method='sampling' (or 'shap') beyond 20 columns"
            )  # fmt: skip
        split = getattr(model, "additive_network", None)
        values = exact_shapley(predict, players, x_num, x_cat, bg, label_index, output,
                               batch_rows=batch_rows,
                               additive=split() if split is not None else None,
                               checkpoint=_checkpoint(should_stop))  # fmt: skip
    else:
        values = sampled_shapley(predict, players, x_num, x_cat, bg, label_index, output,
                                 pairs=pairs, seed=seed, batch_rows=batch_rows)  # fmt: skip
    return Attributions(players.names, labels, base, values, output, method, [], label_index)


def _checkpoint(should_stop: Callable[[], bool] | None) -> Callable[[], None] | None:
    if should_stop is None:
        return None

    def check() -> None:
        if should_stop():
            raise Cancelled("the explanation was stopped before it finished")

    return check


def _stoppable(predict: Any, should_stop: Callable[[], bool] | None) -> Any:
    if should_stop is None:
        return predict

    def checked(numeric: np.ndarray, categorical: np.ndarray) -> np.ndarray:
        if should_stop():
            raise Cancelled("the explanation was stopped before it finished")
        return predict(numeric, categorical)

    return checked


def global_importance(
    model: ExplainableModel,
    rows: Sequence[Mapping[str, Any]] | pl.DataFrame,
    *,
    max_rows: int = 200,
    seed: int = 0,
    **options: Any,
) -> dict[str, float]:
    """Mean |SHAP value| per input column over up to ``max_rows`` rows (seeded sample)."""
    n = rows.height if isinstance(rows, pl.DataFrame) else len(rows)
    if n > max_rows:  # sampled before the transform: hashing text is the costly part of it
        pick = np.sort(np.random.default_rng(seed).choice(n, size=max_rows, replace=False))
        rows = rows[pick] if isinstance(rows, pl.DataFrame) else [rows[i] for i in pick]
    numeric, categorical = model.transform(rows)
    result = explain_arrays(model, numeric, categorical, seed=seed, **options)
    means = np.abs(result.values).mean(axis=0)
    return {c: float(v) for c, v in zip(result.columns, means, strict=True)}


def _is_regression(model: Any) -> bool:
    return getattr(model, "task", "classification") == "regression"


def _predict_fn(model: Any) -> Any:
    """What is attributed: probabilities, or the value of a regression (``output_arrays``)."""
    return getattr(model, "output_arrays", None) or model.predict_proba_arrays


def _label_index(classes: list[str], label: str | None, proba: np.ndarray) -> np.ndarray:
    if label is None:
        return proba.argmax(axis=1)
    if str(label) not in classes:
        raise UsageError(f"label {label!r} is not one of the classes {classes}")
    return np.full(len(proba), classes.index(str(label)))


_CACHE: weakref.WeakKeyDictionary[Any, dict[Any, tuple[Any, Players, Background]]] = (
    weakref.WeakKeyDictionary()
)


def _cached(model: ExplainableModel, background: Any, seed: int) -> tuple[Players, Background]:
    """Players and background of a model, kept while the model lives (a served model explains
    many requests against the same background; its probabilities and designs are reused)."""
    if background is not None and not isinstance(background, int):
        return players_of(model.preprocessor), _background(model, background, seed)
    key = (background, seed if isinstance(background, int) else None)
    source = (model.preprocessor, model.background)
    try:
        entries = _CACHE.setdefault(model, {})
    except TypeError:  # a model type that cannot be weakly referenced: no caching
        return players_of(model.preprocessor), _background(model, background, seed)
    hit = entries.get(key)
    if hit is None or hit[0][0] is not source[0] or hit[0][1] is not source[1]:
        hit = entries[key] = (
            source,
            players_of(model.preprocessor),
            _background(model, background, seed),
        )
    return hit[1], hit[2]


def _background(model: ExplainableModel, background: Any, seed: int) -> Background:
    """The reference rows as arrays, with the model's probabilities on them."""
    if background is None or isinstance(background, int):
        if model.background is None:
            raise UsageError(
                "the model carries no background rows to explain against",
                hint="pass background=(numeric, categorical) or raw rows",
            )
        numeric, categorical = model.background
        if isinstance(background, int):
            if background < 1:
                raise UsageError(f"background must be >= 1 rows, got {background}")
            if background < len(numeric):
                rng = np.random.default_rng(seed)
                pick = np.sort(rng.choice(len(numeric), size=background, replace=False))
                numeric, categorical = numeric[pick], categorical[pick]
    elif isinstance(background, tuple) and len(background) == 2:
        numeric, categorical = background
    else:
        numeric, categorical = model.transform(background)
    numeric = np.ascontiguousarray(numeric, dtype=np.float32)
    categorical = np.ascontiguousarray(categorical, dtype=np.int64)
    if len(numeric) == 0 or len(numeric) != len(categorical):
        raise UsageError("the background needs >= 1 row, as many numeric as categorical")
    proba = np.asarray(_predict_fn(model)(numeric, categorical), dtype=np.float64)
    if not math.isfinite(float(proba.sum())):
        raise UsageError("the model gives non-finite probabilities on the background rows")
    return Background(numeric, categorical, proba)
