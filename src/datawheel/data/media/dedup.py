"""Duplicate images and clips: exact by content hash, near (images) by perceptual hash.

Keys are computed from the stored bytes (``media.normalize``: the same content always gives
the same bytes), so a photo saved as PNG and re-saved with new metadata is an exact duplicate.
Near duplicates compare 64-bit pHashes (the ImageHash library) by Hamming distance — a
resize, a re-encode or a small edit moves a few bits; another picture moves about half.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from datawheel.config import MediaDedupConfig

if TYPE_CHECKING:
    import polars as pl
    from PIL.Image import Image

__all__ = [
    "MediaDuplicates",
    "MediaKeys",
    "content_key",
    "find_duplicates",
    "hamming_pairs",
    "media_keys",
    "perceptual_hash",
]

_CHUNK = 512  # rows compared against all others at once: 512 x n bytes of distances


def content_key(data: bytes) -> int:
    """The first 64 bits of the SHA-256 of the stored bytes (collisions: ~1 in 10^19 pairs)."""
    return int.from_bytes(hashlib.sha256(data).digest()[:8], "big")


def perceptual_hash(image: Image) -> int:
    """The 64-bit DCT hash (pHash) of a picture, as an unsigned integer."""
    try:
        import imagehash
    except ImportError:
        from datawheel.errors import MissingDependencyError

        raise MissingDependencyError("ImageHash", "media", purpose="image dedup") from None
    bits = imagehash.phash(image, hash_size=8).hash.flatten()  # [64] bool
    return int(np.packbits(bits).view(">u8")[0])


@dataclass
class MediaKeys:
    """Per row and media column: a content key, whether a value is there, and (images) a
    perceptual hash. Arrays are aligned with the frame's rows."""

    rows: int = 0
    content: dict[str, np.ndarray] = field(default_factory=dict)  # column -> uint64 [rows]
    present: dict[str, np.ndarray] = field(default_factory=dict)  # column -> bool [rows]
    perceptual: dict[str, np.ndarray] = field(default_factory=dict)  # image column -> uint64

    @classmethod
    def concat(cls, parts: Sequence[MediaKeys]) -> MediaKeys:
        """The keys of consecutive batches as one."""
        out = cls(rows=sum(p.rows for p in parts))
        for name in ("content", "present", "perceptual"):
            columns = getattr(parts[0], name) if parts else {}
            merged = {c: np.concatenate([getattr(p, name)[c] for p in parts]) for c in columns}
            setattr(out, name, merged)
        return out

    def take(self, rows: np.ndarray) -> MediaKeys:
        """The keys of ``rows`` (indices or a boolean mask), in that order."""
        picked = {name: {c: a[rows] for c, a in getattr(self, name).items()}
                  for name in ("content", "present", "perceptual")}  # fmt: skip
        count = int(rows.sum()) if rows.dtype == bool else len(rows)
        return MediaKeys(count, **picked)


def media_keys(
    frame: pl.DataFrame, *, images: Sequence[str] = (), audio: Sequence[str] = ()
) -> MediaKeys:
    """Keys of stored media columns (bytes; null where a row has none)."""
    import io

    from PIL import Image as pil_image

    keys = MediaKeys(rows=frame.height)
    for column in [*images, *audio]:
        values = frame.get_column(column).to_list()
        keys.present[column] = np.array([v is not None for v in values], dtype=bool)
        keys.content[column] = np.array(
            [content_key(v) if v is not None else 0 for v in values], dtype=np.uint64
        )
        if column in images:
            hashes = np.zeros(len(values), dtype=np.uint64)
            for i, value in enumerate(values):
                if value is not None:
                    with pil_image.open(io.BytesIO(value)) as image:
                        hashes[i] = perceptual_hash(image.convert("RGB"))
            keys.perceptual[column] = hashes
    return keys


def hamming_pairs(hashes: np.ndarray, active: np.ndarray, max_distance: int) -> np.ndarray:
    """Every pair (i < j) of active rows whose 64-bit hashes differ in <= ``max_distance`` bits:
    int64 [pairs, 2]. Exhaustive, in chunks (exact, no missed pair)."""
    index = np.flatnonzero(active)
    values = hashes[index]
    found: list[np.ndarray] = []
    for lo in range(0, len(index), _CHUNK):
        block = values[lo : lo + _CHUNK, None] ^ values[None, lo:]  # [b, n - lo]
        close = np.argwhere(np.bitwise_count(block) <= max_distance)
        close = close[close[:, 1] > close[:, 0]]  # j after i within the block's view
        if len(close):
            found.append(np.stack([index[lo + close[:, 0]], index[lo + close[:, 1]]], axis=1))
    return np.concatenate(found) if found else np.zeros((0, 2), dtype=np.int64)


def _components(rows: int, pairs: np.ndarray) -> np.ndarray:
    """For each row, the smallest row index of its connected component (itself if alone)."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    if not len(pairs):
        return np.arange(rows)
    graph = coo_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(rows, rows))
    _, labels = connected_components(graph, directed=False)
    first = np.full(labels.max() + 1, rows)
    np.minimum.at(first, labels, np.arange(rows))
    return first[labels]


def _exact_pairs(keys: np.ndarray, active: np.ndarray) -> np.ndarray:
    """Pairs (first row with the key, later row with the same key) among active rows."""
    index = np.flatnonzero(active)
    _, first, inverse = np.unique(keys[index], return_index=True, return_inverse=True)
    owner = index[first][inverse]  # [active]: the first active row with the same key
    later = owner != index
    return np.stack([owner[later], index[later]], axis=1)


@dataclass
class MediaDuplicates:
    """Which rows survive media dedup, and why the others do not."""

    keep: np.ndarray  # bool [rows]
    cluster: np.ndarray  # int [rows]: the kept row each row duplicates (itself when kept)
    dropped: dict[str, int] = field(default_factory=dict)  # reason -> rows
    # (reason, column, kept row, removed row) for the first few removed rows
    examples: list[tuple[str, str, int, int]] = field(default_factory=list)

    def labels(self) -> np.ndarray:
        """Cluster labels that bind copies into one part of the split."""
        return self.cluster


def find_duplicates(
    keys: MediaKeys,
    config: MediaDedupConfig,
    *,
    active: np.ndarray | None = None,
    examples: int = 12,
) -> MediaDuplicates:
    """Exact duplicates (any media column with the content of an earlier row's), then near
    duplicate images (pHash within ``config.max_distance`` bits). The first row of each
    cluster, in row order, is kept; rows outside ``active`` are neither kept nor compared."""
    rows = keys.rows
    keep = np.ones(rows, dtype=bool) if active is None else active.copy()
    out = MediaDuplicates(keep, np.arange(rows))
    all_pairs: list[np.ndarray] = []
    for reason, column in _steps(keys, config):
        compared = keep & keys.present[column]
        if reason.startswith("near"):
            pairs = hamming_pairs(keys.perceptual[column], compared, config.max_distance)
        else:
            pairs = _exact_pairs(keys.content[column], compared)
        all_pairs.append(pairs)
        cluster = _components(rows, pairs)
        removed = keep & (cluster != np.arange(rows))
        if removed.any():
            out.dropped[reason] = out.dropped.get(reason, 0) + int(removed.sum())
            for j in np.flatnonzero(removed)[: max(0, examples - len(out.examples))]:
                out.examples.append((reason, column, int(cluster[j]), int(j)))
        keep &= ~removed
    out.keep = keep
    if all_pairs:
        out.cluster = _components(rows, np.concatenate(all_pairs))
    return out


def _steps(keys: MediaKeys, config: MediaDedupConfig) -> list[tuple[str, str]]:
    """(reason, column) in the order they run: exact per column, then near per image column."""
    steps = []
    if config.exact:
        for column in keys.content:
            kind = "image" if column in keys.perceptual else "audio"
            steps.append((f"duplicate_{kind}", column))
    if config.near:
        steps += [("near_duplicate_image", column) for column in keys.perceptual]
    return steps
