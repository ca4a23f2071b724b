"""Exact and near-duplicate removal for text rows: normalized hashing, MinHash + LSH, clusters."""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import polars as pl

from datawheel.data._minhash import (
    EMPTY,
    candidate_pairs,
    estimated_jaccard,
    exact_jaccard,
    features,
    lsh_params,
    minhash_signatures,
    prepare,
    shingle_hashes,
)
from datawheel.errors import DataError, UsageError

__all__ = [
    "DedupStats",
    "candidate_pairs",
    "dedup",
    "dedup_with_stats",
    "lsh_params",
    "minhash_signatures",
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
    _check(frame, text, threshold, num_perm, ngram)
    n = frame.height
    column = frame.get_column(text).cast(pl.String)
    keys = np.empty(n, dtype=np.uint64)
    signatures = None if exact_only else np.empty((n, num_perm), dtype=np.uint32)
    for s in range(0, n, _BATCH):
        batch = features(prepare(column.slice(s, _BATCH)), ngram, seed)
        keys[s : s + _BATCH] = batch.exact_keys
        if signatures is not None:
            signatures[s : s + _BATCH] = minhash_signatures(
                batch.hashes, batch.offsets, num_perm, seed=seed
            )
        del batch
    _, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
    first_of = first[inverse].astype(np.int64)  # first row with the same normalized text
    cluster = first_of
    candidates = 0
    if signatures is not None and n:
        unique = np.flatnonzero(first_of == np.arange(n))
        pairs, candidates = _near_pairs(column, signatures, unique, threshold, ngram, seed, verify)
        roots = _components(n, pairs)  # smallest row of each component
        cluster = roots[first_of]
    keep = cluster == np.arange(n)
    kept = frame.filter(pl.Series(keep))
    exact = int(n - (first_of == np.arange(n)).sum())
    sizes = np.bincount(cluster, minlength=n)
    stats = DedupStats(
        rows_in=n,
        kept=int(keep.sum()),
        exact_duplicates=exact,
        near_duplicates=int(n - keep.sum()) - exact,
        clusters=int((sizes > 1).sum()),
        candidate_pairs=candidates,
        seconds=time.perf_counter() - started,
    )
    return kept, cluster.tolist(), stats


def _check(
    frame: pl.DataFrame, text: str, threshold: float, num_perm: int, ngram: int | None
) -> None:
    if text not in frame.columns:
        raise DataError(
            f"no text column {text!r}",
            hint=f"available columns: {', '.join(frame.columns) or '(none)'}",
        )
    dtype = frame.schema[text]
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
    column: pl.Series,
    signatures: np.ndarray,
    unique: np.ndarray,
    threshold: float,
    ngram: int | None,
    seed: int,
    verify: bool,
) -> tuple[np.ndarray, int]:
    """Near-duplicate pairs (row indices) among the rows ``unique``, and the LSH candidate count."""
    active = np.zeros(len(signatures), dtype=bool)
    active[unique] = signatures[unique, 0] != EMPTY  # rows with at least one shingle
    bands, rows = lsh_params(
        threshold, signatures.shape[1], fp_weight=_FP_WEIGHT, fn_weight=_FN_WEIGHT
    )
    pairs = candidate_pairs(signatures, bands, rows, active=active)
    if len(pairs) == 0 or not verify:
        return pairs[estimated_jaccard(signatures, pairs) >= threshold], len(pairs)
    # Re-shingle only the rows in candidate pairs: memory stays bounded by the signatures.
    rows_needed, local = np.unique(pairs, return_inverse=True)
    batch = features(prepare(column.gather(rows_needed)), ngram, seed)
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
