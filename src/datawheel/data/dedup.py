"""Exact and near-duplicate removal for text rows: normalized hashing, MinHash + LSH, clusters."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import polars as pl

from datawheel.data._lsh import (
    EMPTY,
    candidate_pairs,
    estimated_jaccard,
    exact_jaccard,
    lsh_params,
    minhash_signatures,
)
from datawheel.data._shingles import features, prepare, shingle_hashes
from datawheel.errors import DataError, UsageError

__all__ = [
    "Clusters",
    "DedupStats",
    "Sketcher",
    "candidate_pairs",
    "check_dedup_args",
    "dedup",
    "dedup_with_stats",
    "lsh_params",
    "minhash_signatures",
    "resolve_clusters",
    "shingle_hashes",
]

# Documents per batch: bounds the transient memory of shingling (about 0.5 GB at 300 words per
# document) while keeping numpy calls large enough that Python overhead does not show.
_BATCH = 8192
# LSH favours recall: verification discards the extra candidates, a missed pair is lost for good.
_FP_WEIGHT, _FN_WEIGHT = 0.05, 0.95


@dataclass(frozen=True)
class DedupStats:
    """What a dedup run did; exact_duplicates + near_duplicates = rows_in - kept."""

    rows_in: int
    kept: int
    exact_duplicates: int  # rows whose normalized text equals an earlier row's
    near_duplicates: int  # further rows removed as near duplicates
    clusters: int  # clusters with more than one row
    candidate_pairs: int  # LSH candidate pairs before verification
    seconds: float


def dedup(
    frame: pl.DataFrame,
    *,
    text: str,
    threshold: float = 0.8,
    exact_only: bool = False,
    num_perm: int = 128,
    ngram: int | None = None,
    seed: int = 1,
    verify: bool = True,
) -> tuple[pl.DataFrame, list[int]]:
    """Drop duplicate rows of ``frame`` judged by its ``text`` column; see dedup_with_stats."""
    kept, clusters, _ = dedup_with_stats(
        frame,
        text=text,
        threshold=threshold,
        exact_only=exact_only,
        num_perm=num_perm,
        ngram=ngram,
        seed=seed,
        verify=verify,
    )
    return kept, clusters


def dedup_with_stats(
    frame: pl.DataFrame,
    *,
    text: str,
    threshold: float = 0.8,
    exact_only: bool = False,
    num_perm: int = 128,
    ngram: int | None = None,
    seed: int = 1,
    verify: bool = True,
) -> tuple[pl.DataFrame, list[int], DedupStats]:
    """Keep the first row of each duplicate cluster, in input order.

    Rows are exact duplicates when their texts match after NFKC, lowercasing and whitespace
    collapsing; near duplicates when the Jaccard similarity of their shingle sets (word n-grams,
    character n-grams for CJK / unspaced text; n = ``ngram`` or 5) is >= ``threshold``, found by
    MinHash + LSH. With ``verify`` each LSH candidate is checked on exact shingle sets; without,
    on the sketch estimate (faster, but misses some pairs just above the threshold). Clusters are
    connected components of the matching pairs. Null texts count as empty strings: they match
    each other (exactly), never anything else.

    Returns (kept rows, clusters, stats) where clusters[i] is the index of the kept row of row i's
    cluster (clusters[i] == i for a kept row).
    """
    started = time.perf_counter()
    check_dedup_args(frame.columns, frame.schema.get(text), text, threshold, num_perm, ngram)
    column = frame.get_column(text).cast(pl.String)
    sketcher = Sketcher(num_perm=num_perm, ngram=ngram, seed=seed, exact_only=exact_only)
    sketcher.add(column)
    found = resolve_clusters(
        *sketcher.finish(),
        threshold=threshold,
        fetch_texts=column.gather if verify else None,
        ngram=ngram,
        seed=seed,
    )
    keep = found.keep
    stats = DedupStats(
        rows_in=frame.height,
        kept=int(keep.sum()),
        exact_duplicates=found.exact_duplicates,
        near_duplicates=int(frame.height - keep.sum()) - found.exact_duplicates,
        clusters=found.clusters,
        candidate_pairs=found.candidate_pairs,
        seconds=time.perf_counter() - started,
    )
    return frame.filter(pl.Series(keep)), found.cluster.tolist(), stats


class Sketcher:
    """Exact keys (8 bytes per row) and MinHash signatures (num_perm x 4 bytes per row) of texts
    fed batch by batch; the texts themselves are not kept."""

    def __init__(
        self, *, num_perm: int = 128, ngram: int | None = None, seed: int = 1, exact_only: bool
    ):
        self.num_perm, self.ngram, self.seed, self.exact_only = num_perm, ngram, seed, exact_only
        self._keys: list[np.ndarray] = []
        self._signatures: list[np.ndarray] = []

    def add(self, texts: pl.Series) -> None:
        """Sketch the next rows (null counts as "")."""
        texts = texts.cast(pl.String)
        for s in range(0, texts.len(), _BATCH):
            batch = features(prepare(texts.slice(s, _BATCH)), self.ngram, self.seed)
            self._keys.append(batch.exact_keys)
            if not self.exact_only:
                self._signatures.append(
                    minhash_signatures(batch.hashes, batch.offsets, self.num_perm, seed=self.seed)
                )

    def finish(self) -> tuple[np.ndarray, np.ndarray | None]:
        """(exact keys uint64 [n], signatures uint32 [n, num_perm] or None when exact only)."""
        keys = np.concatenate(self._keys) if self._keys else np.zeros(0, dtype=np.uint64)
        if self.exact_only:
            return keys, None
        if not self._signatures:
            return keys, np.zeros((0, self.num_perm), dtype=np.uint32)
        return keys, np.concatenate(self._signatures)


@dataclass(frozen=True)
class Clusters:
    """Duplicate clusters of n rows; rows outside ``active`` are their own cluster."""

    cluster: np.ndarray  # int64 [n]: the first (kept) row of each row's cluster
    exact_duplicates: int  # active rows whose normalized text equals an earlier active row's
    candidate_pairs: int  # LSH candidate pairs before verification
    pairs: np.ndarray  # [m, 2] verified near-duplicate pairs (row indices, i < j)

    @property
    def keep(self) -> np.ndarray:
        return self.cluster == np.arange(len(self.cluster))

    @property
    def clusters(self) -> int:
        """Clusters with more than one row."""
        return int((np.bincount(self.cluster, minlength=len(self.cluster)) > 1).sum())


def resolve_clusters(
    keys: np.ndarray,
    signatures: np.ndarray | None,
    *,
    threshold: float,
    fetch_texts: Callable[[np.ndarray], pl.Series] | None,
    ngram: int | None = None,
    seed: int = 1,
    active: np.ndarray | None = None,
) -> Clusters:
    """Clusters from exact keys and (unless None) signatures: equal keys, then LSH candidates
    verified on exact shingle sets of the texts ``fetch_texts(sorted row indices)`` returns, or
    on the sketch estimate when ``fetch_texts`` is None. ``active`` (bool [n]) limits the rows
    compared; the others stay alone."""
    n = len(keys)
    rows = np.arange(n)
    first_of = rows.copy()  # first active row with the same normalized text
    idx = rows if active is None else np.flatnonzero(active)
    _, first, inverse = np.unique(keys[idx], return_index=True, return_inverse=True)
    first_of[idx] = idx[first[inverse]]
    exact = int((first_of[idx] != idx).sum())
    cluster, candidates, pairs = first_of, 0, np.zeros((0, 2), dtype=np.int64)
    if signatures is not None and n:
        unique = idx[first_of[idx] == idx]
        pairs, candidates = _near_pairs(signatures, unique, threshold, fetch_texts, ngram, seed)
        cluster = _components(n, pairs)[first_of]  # smallest row of each component
    return Clusters(cluster, exact, candidates, pairs)


def check_dedup_args(
    columns: list[str],
    dtype: pl.DataType | None,
    text: str,
    threshold: float,
    num_perm: int = 128,
    ngram: int | None = None,
) -> None:
    """Raise on a missing or non-text column (naming the available ones) or a bad parameter."""
    if text not in columns:
        raise DataError(
            f"no text column {text!r}",
            hint=f"available columns: {', '.join(columns) or '(none)'}",
        )
    if dtype not in (pl.String, pl.Categorical, pl.Null):
        raise DataError(
            f"column {text!r} must hold text, got {dtype}",
            hint="pass the name of a string column as the text field",
        )
    if not 0.0 < threshold < 1.0:
        raise UsageError(
            f"threshold must be strictly between 0 and 1, got {threshold}",
            hint="use e.g. 0.8 (Jaccard similarity of shingle sets)",
        )
    if num_perm < 16:
        raise UsageError(f"num_perm must be >= 16, got {num_perm}", hint="use 128")
    if ngram is not None and ngram < 1:
        raise UsageError(f"ngram must be >= 1, got {ngram}", hint="use 5, or leave it unset")


def _near_pairs(
    signatures: np.ndarray,
    unique: np.ndarray,
    threshold: float,
    fetch_texts: Callable[[np.ndarray], pl.Series] | None,
    ngram: int | None,
    seed: int,
) -> tuple[np.ndarray, int]:
    """Near-duplicate pairs (row indices) among the rows ``unique``, and the LSH candidate count."""
    active = np.zeros(len(signatures), dtype=bool)
    active[unique] = signatures[unique, 0] != EMPTY  # rows with at least one shingle
    bands, rows = lsh_params(
        threshold, signatures.shape[1], fp_weight=_FP_WEIGHT, fn_weight=_FN_WEIGHT
    )
    pairs = candidate_pairs(signatures, bands, rows, active=active)
    if len(pairs) == 0 or fetch_texts is None:
        return pairs[estimated_jaccard(signatures, pairs) >= threshold], len(pairs)
    # Re-shingle only the rows in candidate pairs: memory stays bounded by the signatures.
    rows_needed, local = np.unique(pairs, return_inverse=True)
    batch = features(prepare(fetch_texts(rows_needed)), ngram, seed)
    similar = exact_jaccard(batch.hashes, batch.offsets, local.reshape(-1, 2)) >= threshold
    return pairs[similar], len(pairs)


def _components(n: int, pairs: np.ndarray) -> np.ndarray:
    """Connected components by union-find; each node maps to its component's smallest node."""
    roots = np.arange(n, dtype=np.int64)
    if len(pairs) == 0:
        return roots
    nodes, local = np.unique(pairs, return_inverse=True)  # only paired nodes need the loop
    parent = list(range(len(nodes)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, j in local.reshape(-1, 2).tolist():
        ri, rj = find(i), find(j)
        if ri != rj:
            parent[max(ri, rj)] = min(ri, rj)  # the smaller index stays root: first occurrence
    roots[nodes] = nodes[[find(i) for i in range(len(nodes))]]
    return roots
