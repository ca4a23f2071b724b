"""Which words of a text moved the network: per-word values for the MLP's text columns.

In the row's Shapley values a text column is one player; this module splits that column's
value over the text's words, by the method the text's encoding allows:

- **hashed n-grams** — integrated gradients (Sundararajan et al., 2017) of the explained
  output along the straight line from the empty text (an all-zero bag) to the row's bag, the
  other columns held at the row's values. A bucket's attribution is shared by the n-gram
  occurrences hashed into it, an n-gram's by the words it overlaps. By completeness the words
  add up to f(row) − f(row with an empty text), less what n-grams of spaces and punctuation
  alone carried and the integration error (a few thousandths; see ``IG_STEPS``).
- **MiniLM sentence vectors** — leave-one-word-out occlusion: a word's value is f(row) −
  f(row with every occurrence of the word deleted from the text), the shorter text encoded
  again. It measures what each word adds given all the others; the values need not add up.

A word is a run of letters and digits, or one Chinese or Japanese character (scripts written
without spaces), lowercased. Per text column the result is ``{"values": [[word, v], …],
"rest": r, "method": m}``, the ``TOP_WORDS`` largest by |v|; ``rest`` is the column's value
minus the words shown, so the words plus the rest equal the column's value in ``values``.
"""

from __future__ import annotations

import re
import zlib
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from datawheel.errors import Cancelled
from datawheel.train.text import minilm_embed, ngram_spans

__all__ = ["IG_STEPS", "MAX_OCCLUDED", "TOP_WORDS", "text_tokens", "words_of"]

TOP_WORDS = 20  # words kept per text column and row, by |value|
# Midpoint-rule steps of the path integral. The gradient jumps where a ReLU switches, so the
# error falls as 1/steps: a few thousandths of probability at 128 (it lands in the rest).
IG_STEPS = 128
# Words occluded per text (MiniLM: one encoding each), in text order: the encoder reads only
# the first 256 word pieces, so the words it can hear come first.
MAX_OCCLUDED = 64
_PATH_ROWS = 4096  # interpolated rows per forward/backward pass
_SCRIPTS = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"  # kana, CJK ideographs
_WORD = re.compile(rf"[{_SCRIPTS}]|[^\W{_SCRIPTS}]+")
_SPACES = re.compile(r"\s+")


def words_of(text: str) -> list[tuple[str, int, int]]:
    """The words of ``text`` as (lowercased word, start, end)."""
    return [(m.group().lower(), m.start(), m.end()) for m in _WORD.finditer(text)]


def text_tokens(
    model: Any,
    texts: Sequence[Sequence[str]],
    numeric: np.ndarray,
    categorical: np.ndarray,
    label_index: np.ndarray,
    column_values: dict[str, np.ndarray],
    *,
    should_stop: Callable[[], bool] | None = None,
) -> list[dict[str, dict[str, Any]]]:
    """Per row, per text column, the words' values (see the module).

    ``texts`` ``[n][len(text columns)]`` as ``Preprocessor.texts`` gives them; ``numeric`` and
    ``categorical`` the rows' transformed arrays; ``label_index`` [n] the explained output
    (0 for a regression); ``column_values`` each text column's value [n] in the explanation.
    """
    pre = model.preprocessor
    width = pre.text_width
    first = pre.n_numeric_features - len(pre.columns.text) * width
    out: list[dict[str, dict[str, Any]]] = [{} for _ in range(len(numeric))]
    for j, column in enumerate(pre.columns.text):
        start = first + j * width
        column_texts = [row[j] for row in texts]
        if pre.text_encoder == "hashed":
            method = "integrated_gradients"
            gradients = _integrated_gradients(
                model, numeric, categorical, (start, start + width), label_index, should_stop
            )  # [n, width]
            per_row = [
                _hashed_words(text, gradients[i], pre.text_buckets)
                for i, text in enumerate(column_texts)
            ]
        else:
            method = "occlusion"
            per_row = _occlusion(
                model, numeric, categorical, (start, start + width), label_index, column_texts,
                should_stop,
            )  # fmt: skip
        for i, words in enumerate(per_row):
            ranked = sorted(words.items(), key=lambda kv: abs(kv[1]), reverse=True)[:TOP_WORDS]
            shown: list[tuple[str, float]] = [(w, float(v)) for w, v in ranked]
            rest = float(column_values[column][i]) - sum(v for _, v in shown)
            out[i][column] = {"values": [list(p) for p in shown], "rest": rest, "method": method}
    return out


def _check(should_stop: Callable[[], bool] | None) -> None:
    if should_stop is not None and should_stop():
        raise Cancelled("the explanation was stopped before it finished")


def _integrated_gradients(
    model: Any,
    numeric: np.ndarray,
    categorical: np.ndarray,
    block: tuple[int, int],
    label_index: np.ndarray,
    should_stop: Callable[[], bool] | None,
) -> np.ndarray:
    """(x − 0) ⊙ the mean gradient at the ``IG_STEPS`` midpoints of the path 0 → x, over the
    positions ``block`` of each row; float64 [n, width]."""
    import torch

    start, stop = block
    network = model.network  # TabularMLP: differentiable in its inputs
    alphas = ((np.arange(IG_STEPS) + 0.5) / IG_STEPS).astype(np.float32)  # [S]
    scale = model.target_scale[1] if model.is_regression else 1.0
    out = np.zeros((len(numeric), stop - start))
    chunk = max(1, _PATH_ROWS // IG_STEPS)
    for first in range(0, len(numeric), chunk):
        _check(should_stop)
        rows = slice(first, first + chunk)
        x = np.asarray(numeric[rows], dtype=np.float32)  # [r, d]
        path = np.repeat(x, IG_STEPS, axis=0)  # [r*S, d]
        path[:, start:stop] *= np.tile(alphas, len(x))[:, None]
        cats = torch.from_numpy(np.repeat(np.asarray(categorical[rows], np.int64), IG_STEPS, 0))
        which = torch.from_numpy(np.repeat(label_index[rows], IG_STEPS))  # [r*S]
        inputs = torch.from_numpy(path).requires_grad_(True)
        with torch.enable_grad():
            logits = network(inputs, cats)  # [r*S, K]
            if model.is_regression:
                explained = logits[:, 0] * scale
            else:
                explained = torch.softmax(logits, dim=1).gather(1, which[:, None])[:, 0]
            (grad,) = torch.autograd.grad(explained.sum(), inputs)  # [r*S, d]
        mean = grad[:, start:stop].numpy().reshape(len(x), IG_STEPS, -1).mean(axis=1)
        out[rows] = mean * x[:, start:stop]  # the baseline is 0: x − 0
    return out


def _hashed_words(text: str, contributions: np.ndarray, buckets: int) -> dict[str, float]:
    """A bag's per-bucket contributions spread over the words of ``text`` (module docstring);
    n-grams of spaces or punctuation alone go to no word."""
    normal, units = ngram_spans(text)
    words = words_of(normal)
    owner = np.full(len(normal), -1)
    for k, (_, begin, end) in enumerate(words):
        owner[begin:end] = k
    hashed = [zlib.crc32(unit.encode("utf-8")) % buckets for unit, _, _ in units]
    per_bucket = Counter(hashed)
    totals: dict[str, float] = {}
    for (_, begin, end), bucket in zip(units, hashed, strict=True):
        hit = [k for k in dict.fromkeys(owner[begin:end].tolist()) if k >= 0]
        if not hit:
            continue
        share = float(contributions[bucket]) / per_bucket[bucket] / len(hit)
        for k in hit:
            totals[words[k][0]] = totals.get(words[k][0], 0.0) + share
    return totals


def _without(text: str, word: str, spans: list[tuple[str, int, int]]) -> str:
    """``text`` with every occurrence of ``word`` deleted, runs of space made one."""
    pieces, last = [], 0
    for w, begin, end in spans:
        if w == word:
            pieces.append(text[last:begin])
            last = end
    pieces.append(text[last:])
    return _SPACES.sub(" ", " ".join(p.strip() for p in pieces if p.strip()))


def _occlusion(
    model: Any,
    numeric: np.ndarray,
    categorical: np.ndarray,
    block: tuple[int, int],
    label_index: np.ndarray,
    texts: Sequence[str],
    should_stop: Callable[[], bool] | None,
) -> list[dict[str, float]]:
    """f(row) − f(row without the word) per distinct word of each text (first
    ``MAX_OCCLUDED``); every shorter text is encoded in one batch, uncached."""
    start, stop = block
    variants: list[str] = []
    owners: list[tuple[int, str]] = []
    for i, text in enumerate(texts):
        spans = words_of(text)
        for word in list(dict.fromkeys(w for w, _, _ in spans))[:MAX_OCCLUDED]:
            variants.append(_without(text, word, spans))
            owners.append((i, word))
    out: list[dict[str, float]] = [{} for _ in texts]
    if not variants:
        return out
    _check(should_stop)
    vectors = minilm_embed(variants, cache=False)  # [m, 384]: not worth keeping on disk
    rows = np.asarray([i for i, _ in owners])
    changed = np.asarray(numeric, dtype=np.float32)[rows]  # [m, d]
    changed[:, start:stop] = vectors
    full = model.output_arrays(numeric, categorical)  # [n, K]
    labels = np.asarray(label_index)
    values = np.empty(len(rows))
    for first in range(0, len(rows), _PATH_ROWS):
        _check(should_stop)
        part = slice(first, first + _PATH_ROWS)
        proba = model.output_arrays(changed[part], np.asarray(categorical)[rows[part]])
        values[part] = proba[np.arange(len(proba)), labels[rows[part]]]
    for (i, word), value in zip(owners, values, strict=True):
        out[i][word] = float(full[i, labels[i]] - value)
    return out
