"""Explanations of the fusion network: exact Shapley values over modality groups, an occlusion
heatmap per image and time-segment occlusion per audio clip.

The players are the modalities a model reads — ``tabular`` (numeric and categorical columns),
``text``, ``image``, ``audio`` — at most four, so every coalition is evaluated: 2^G forward
passes give exact Shapley values. A modality left out of a coalition is *masked*: images and
clips switch to the network's learned missing embedding (what a row without them gets), the
tabular and text inputs to the training background's mean (categories: its most frequent
code). The base value is the output with everything masked; base + Σ values = the output.

Occlusion answers "where": an image is cut into a grid, each cell painted mid-grey in turn
(the encoder's zero), and the drop of the explained output is the cell's heat — positive where
the cell supported the answer. A clip is cut into equal time segments, each silenced in turn.
"""

from __future__ import annotations

import base64
import io
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from itertools import combinations
from typing import Any

import numpy as np
import polars as pl

from datawheel.data.media.decode import AUDIO_RATE
from datawheel.errors import Cancelled

__all__ = [
    "AUDIO_SEGMENTS",
    "MODALITIES",
    "explain_media_rows",
    "heatmap_png",
    "modality_groups",
]

MODALITIES = ("tabular", "text", "image", "audio")
AUDIO_SEGMENTS = 10  # equal time segments a clip is cut into for occlusion
GREY = 0.5  # the occluding colour: the image encoder's zero after normalization


@dataclass
class _Inputs:
    numeric: np.ndarray  # [n, d]
    categorical: np.ndarray  # [n, c]
    media: Any  # MediaArrays


def modality_groups(model: Any) -> list[str]:
    """The modalities ``model`` reads, in ``MODALITIES`` order."""
    pre = model.preprocessor
    columns = pre.columns
    present = {
        "tabular": bool(columns.numeric or columns.categorical),
        "text": bool(columns.text) and pre.text_width > 0,
        "image": bool(columns.images),
        "audio": bool(columns.audio),
    }
    return [m for m in MODALITIES if present[m]]


def explain_media_rows(
    model: Any,
    rows: Sequence[Mapping[str, Any]] | pl.DataFrame,
    *,
    method: str = "shap",
    occlusion: bool = True,
    grid: int | None = None,
    should_stop: Callable[[], bool] | None = None,
    **_: Any,
) -> list[dict[str, Any]]:
    """Per row ``{"label", "base_value", "values": {modality: v}, "scale", "heatmaps"?,
    "segments"?}``; ``heatmaps`` maps an image column to a base64 PNG (the image with its
    heat laid over, red = supported the answer, blue = argued against), ``segments`` an audio
    column to ``[{"start", "end", "value"}]`` (seconds). ``method`` is accepted for the
    common signature: the values are exact Shapley values whatever it says."""
    del method
    numeric, categorical = model.transform(rows)
    inputs = _Inputs(numeric, categorical, model.media_arrays(rows))
    n = len(numeric)
    full = _output(model, inputs)  # [n, K]
    picks = np.zeros(n, dtype=np.int64) if model.is_regression else full.argmax(axis=1)
    groups = modality_groups(model)
    baseline = _baseline(model)
    outputs: dict[frozenset[str], np.ndarray] = {frozenset(groups): full}
    for size in range(len(groups)):
        for kept in combinations(groups, size):
            _check(should_stop)
            masked = _masked(model, inputs, set(groups) - set(kept), baseline)
            outputs[frozenset(kept)] = _output(model, masked)
    rows_idx = np.arange(n)
    picked = {k: v[rows_idx, picks] for k, v in outputs.items()}  # coalition → [n]
    values = _shapley(groups, picked)
    explanations = []
    for i in range(n):
        label = None if model.is_regression else model.classes[int(picks[i])]
        explanations.append({
            "label": label,
            "base_value": float(picked[frozenset()][i]),
            "values": {g: float(values[g][i]) for g in groups},
            "scale": "value" if model.is_regression else "probability",
        })  # fmt: skip
    if occlusion:
        _occlude_images(model, inputs, picks, full, explanations, grid, should_stop)
        _occlude_audio(model, inputs, picks, full, explanations, should_stop)
    return explanations


def _check(should_stop: Callable[[], bool] | None) -> None:
    if should_stop is not None and should_stop():
        raise Cancelled("the explanation was stopped")


def _output(model: Any, inputs: _Inputs) -> np.ndarray:
    return np.asarray(
        model.fused_output_arrays(inputs.numeric, inputs.categorical, inputs.media),
        dtype=np.float64,
    )  # [n, K]


def _baseline(model: Any) -> tuple[np.ndarray, np.ndarray]:
    """The tabular / text reference: the background's mean numerics and modal categories."""
    pre = model.preprocessor
    width, n_cat = pre.n_numeric_features, len(pre.columns.categorical)
    if model.background is None:
        return np.zeros(width, dtype=np.float32), np.zeros(n_cat, dtype=np.int64)
    numeric, categorical = model.background
    modes = [np.bincount(categorical[:, j]).argmax() for j in range(categorical.shape[1])]
    return numeric.mean(axis=0).astype(np.float32), np.asarray(modes, dtype=np.int64)


def _masked(
    model: Any, inputs: _Inputs, masked: set[str], baseline: tuple[np.ndarray, np.ndarray]
) -> _Inputs:
    """A copy of ``inputs`` with the ``masked`` modalities replaced by their reference."""
    import copy

    numeric, categorical = inputs.numeric.copy(), inputs.categorical.copy()
    tabular_width = model.preprocessor._n_tabular
    if "tabular" in masked:
        numeric[:, :tabular_width] = baseline[0][:tabular_width]
        categorical[:] = baseline[1]
    if "text" in masked:
        numeric[:, tabular_width:] = baseline[0][tabular_width:]
    media = copy.copy(inputs.media)
    if "image" in masked:
        media.image_present = [np.zeros_like(p) for p in media.image_present]
    if "audio" in masked:
        media.audio_present = [np.zeros_like(p) for p in media.audio_present]
    return _Inputs(numeric, categorical, media)


def _shapley(
    groups: list[str], picked: Mapping[frozenset[str], np.ndarray]
) -> dict[str, np.ndarray]:
    """Exact Shapley values from every coalition's output: φ_g = Σ_S |S|!(G-|S|-1)!/G! ·
    (v(S ∪ {g}) − v(S)) over the coalitions S without g."""
    g_count = len(groups)
    values = {}
    for g in groups:
        others = [h for h in groups if h != g]
        total = np.zeros_like(next(iter(picked.values())))
        for size in range(len(others) + 1):
            weight = (
                math.factorial(size) * math.factorial(g_count - size - 1) / math.factorial(g_count)
            )
            for coalition in combinations(others, size):
                s = frozenset(coalition)
                total = total + weight * (picked[s | {g}] - picked[s])
        values[g] = total
    return values


# -- occlusion ---------------------------------------------------------------------------------


def _occlude_images(
    model: Any,
    inputs: _Inputs,
    picks: np.ndarray,
    full: np.ndarray,
    explanations: list[dict[str, Any]],
    grid: int | None,
    should_stop: Callable[[], bool] | None,
) -> None:
    spec = model.preprocessor.media
    size = spec.image_size
    cells = grid or max(2, min(8, size // 4))
    edges = np.linspace(0, size, cells + 1).round().astype(int)
    for j, column in enumerate(spec.images):
        for i, explanation in enumerate(explanations):
            if not inputs.media.image_present[j][i]:
                continue
            _check(should_stop)
            variants = _row_variants(inputs, i, cells * cells)
            pixels = variants.media.images[j]  # [cells², S, S, 3]
            for k in range(cells * cells):
                r, c = divmod(k, cells)
                pixels[k, edges[r] : edges[r + 1], edges[c] : edges[c + 1]] = round(GREY * 255)
            dropped = _output(model, variants)[:, picks[i]]  # [cells²]
            heat = (full[i, picks[i]] - dropped).reshape(cells, cells)
            original = inputs.media.images[j][i]
            explanation.setdefault("heatmaps", {})[column] = heatmap_png(original, heat)


def _occlude_audio(
    model: Any,
    inputs: _Inputs,
    picks: np.ndarray,
    full: np.ndarray,
    explanations: list[dict[str, Any]],
    should_stop: Callable[[], bool] | None,
) -> None:
    spec = model.preprocessor.media
    bounds = np.linspace(0, spec.audio_samples, AUDIO_SEGMENTS + 1).round().astype(int)
    rate = AUDIO_RATE
    for j, column in enumerate(spec.audio):
        for i, explanation in enumerate(explanations):
            if not inputs.media.audio_present[j][i]:
                continue
            _check(should_stop)
            variants = _row_variants(inputs, i, AUDIO_SEGMENTS)
            waves = variants.media.audio[j]  # [segments, samples]
            for k in range(AUDIO_SEGMENTS):
                waves[k, bounds[k] : bounds[k + 1]] = 0.0
            dropped = _output(model, variants)[:, picks[i]]
            explanation.setdefault("segments", {})[column] = [
                {"start": float(bounds[k] / rate), "end": float(bounds[k + 1] / rate),
                 "value": float(full[i, picks[i]] - dropped[k])}
                for k in range(AUDIO_SEGMENTS)
            ]  # fmt: skip


def _row_variants(inputs: _Inputs, i: int, copies: int) -> _Inputs:
    """``copies`` copies of row ``i`` (every array), to be occluded one way each."""
    import copy

    media = copy.copy(inputs.media)
    media.images = [np.repeat(a[i : i + 1], copies, axis=0) for a in inputs.media.images]
    media.image_present = [np.repeat(p[i : i + 1], copies) for p in inputs.media.image_present]
    media.audio = [np.repeat(a[i : i + 1], copies, axis=0) for a in inputs.media.audio]
    media.audio_present = [np.repeat(p[i : i + 1], copies) for p in inputs.media.audio_present]
    return _Inputs(
        np.repeat(inputs.numeric[i : i + 1], copies, axis=0),
        np.repeat(inputs.categorical[i : i + 1], copies, axis=0),
        media,
    )


def heatmap_png(pixels: np.ndarray, heat: np.ndarray, *, side: int = 160) -> str:
    """The image (uint8 ``[S, S, 3]``) scaled to ``side`` pixels with ``heat`` (``[g, g]``) laid
    over it — red where occluding the cell lowered the output, blue where it raised it,
    transparent where it did nothing — as a base64 PNG."""
    from PIL import Image

    base = Image.fromarray(pixels, "RGB").resize((side, side), Image.Resampling.NEAREST)
    scale = float(np.abs(heat).max()) or 1.0
    unit = np.clip(heat / scale, -1.0, 1.0)  # [g, g]
    overlay = np.zeros((*unit.shape, 4), dtype=np.uint8)
    overlay[..., 0] = np.where(unit > 0, 230, 30)
    overlay[..., 2] = np.where(unit > 0, 30, 230)
    overlay[..., 3] = (np.abs(unit) * 170).astype(np.uint8)
    layer = Image.fromarray(overlay, "RGBA").resize((side, side), Image.Resampling.BILINEAR)
    picture = base.convert("RGBA")
    picture.alpha_composite(layer)
    out = io.BytesIO()
    picture.convert("RGB").save(out, "PNG", optimize=True)
    return base64.b64encode(out.getvalue()).decode("ascii")
