"""MinHash sketches, LSH banding and Jaccard similarity (exact and estimated) of shingle sets."""

from __future__ import annotations

import numpy as np

from datawheel.data._shingles import concat_ranges, mix64

__all__ = [
    "EMPTY",
    "band_keys",
    "candidate_pairs",
    "estimated_jaccard",
    "exact_jaccard",
    "lsh_params",
    "minhash_signatures",
]

EMPTY = np.uint32(0xFFFFFFFF)  # a sketch slot no shingle reached (only for empty documents)

_U64 = np.uint64
_MASK22 = _U64((1 << 22) - 1)
_MAX_STAGES = 1 << 10  # the stage number sits in the top 10 bits of a sketch value
_BAND_MULT = _U64(0x9E3779B97F4A7C15)  # odd (golden ratio): combines a band's rows into one key


def _stage_multipliers(seed: int) -> np.ndarray:
    rng = np.random.default_rng([seed, 0x5EED])
    return rng.integers(0, 2**62, _MAX_STAGES, dtype=np.uint64) * _U64(2) + _U64(1)


def minhash_signatures(
    hashes: np.ndarray, offsets: np.ndarray, num_perm: int = 128, *, seed: int = 1
) -> np.ndarray:
    """MinHash sketches [n, num_perm] uint32: two sketches agree in a slot with probability equal
    to the Jaccard similarity of the two shingle sets.

    Computed as "fast similarity sketching" (Dahlgaard, Knudsen, Thorup 2017) rather than with one
    hash function per slot: in stage r every shingle is hashed once, to one slot and a value
    (r, hash); a slot keeps its minimum; stages repeat only while a document has empty slots
    (about 5 at 175 shingles). Each slot is the minimum of i.i.d. per-shingle keys, so agreement
    is still an unbiased Jaccard estimate (with variance no higher than classic MinHash), at
    O(shingles) work instead of O(shingles x num_perm). Stopping early is exact: later stages only
    carry larger values. Documents without shingles stay EMPTY in every slot.
    """
    n = len(offsets) - 1
    sig = np.full((n, num_perm), EMPTY, dtype=np.uint32)
    mults = _stage_multipliers(seed)
    salt = _U64(seed * 0x9E3779B97F4A7C15 % 2**64)
    lo = 0
    while lo < n:  # chunks of about 2**17 shingles keep the temporaries in cache
        hi = max(lo + 1, int(np.searchsorted(offsets, offsets[lo] + (1 << 17), side="right")) - 1)
        hi = min(hi, n)
        x = mix64(np.asarray(hashes[offsets[lo] : offsets[hi]], dtype=_U64) ^ salt)
        _sketch(x, np.diff(offsets[lo : hi + 1]), sig[lo:hi], mults)
        lo = hi
    return sig


def _sketch(x: np.ndarray, counts: np.ndarray, out: np.ndarray, mults: np.ndarray) -> None:
    """Fill ``out`` [docs, num_perm] with the sketches of the documents owning ``x``."""
    n, num_perm = out.shape
    sig = out.reshape(-1)
    base = np.repeat(np.arange(n, dtype=np.int64) * num_perm, counts)  # first slot of the doc
    pow2 = num_perm & (num_perm - 1) == 0
    shift = _U64(64 - num_perm.bit_length() + 1)
    k = _U64(num_perm)
    with np.errstate(over="ignore"):
        for r in range(_MAX_STAGES):
            h = x * mults[r]
            if pow2:  # the top bits are the slot
                slot = (h >> shift).view(np.int64) + base
            else:  # multiply-high of the top 16 bits: any num_perm
                slot = (((h >> _U64(48)) * k) >> _U64(16)).view(np.int64) + base
            if r:  # filled slots hold smaller (earlier-stage) values: only empty ones can change
                hit = np.flatnonzero(sig[slot] == EMPTY)
                h, slot = h[hit], slot[hit]
            value = ((h >> _U64(26)) & _MASK22).astype(np.uint32) | np.uint32(r << 22)
            np.minimum.at(sig, slot, value)
            empty = (out == EMPTY).any(axis=1) & (counts > 0)
            if not empty.any():
                break
            keep = empty[base // num_perm]
            if keep.mean() < 0.5:  # drop filled documents' shingles once they dominate
                x, base = x[keep], base[keep]


def _false_rates(threshold: float, bands: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, ...]:
    """Areas under the LSH S-curve P(candidate | J=s) = 1 - (1 - s^r)^b below the threshold
    (false positives) and above it (false negatives), by the trapezoid rule."""
    lo = np.linspace(0.0, threshold, 257)
    hi = np.linspace(threshold, 1.0, 257)
    b, r = bands[:, None].astype(float), rows[:, None].astype(float)
    fp = np.trapezoid(1 - (1 - lo[None, :] ** r) ** b, lo, axis=1)
    fn = np.trapezoid((1 - hi[None, :] ** r) ** b, hi, axis=1)
    return fp, fn


def lsh_params(
    threshold: float,
    num_perm: int = 128,
    *,
    fp_weight: float = 0.5,
    fn_weight: float = 0.5,
) -> tuple[int, int]:
    """(bands, rows) with bands * rows <= num_perm minimizing the weighted false positive and
    false negative areas of the S-curve at the threshold (datasketch's criterion)."""
    b, r = np.meshgrid(np.arange(1, num_perm + 1), np.arange(1, num_perm + 1), indexing="ij")
    ok = b * r <= num_perm
    b, r = b[ok], r[ok]
    fp, fn = _false_rates(threshold, b, r)
    best = int(np.argmin(fp_weight * fp + fn_weight * fn))
    return int(b[best]), int(r[best])


def band_keys(signatures: np.ndarray, bands: int, rows: int) -> np.ndarray:
    """One uint64 per (document, band): a hash of the band's rows. [n, bands]."""
    n = len(signatures)
    keys = np.zeros((n, bands), dtype=_U64)
    with np.errstate(over="ignore"):
        for k in range(rows):
            cols = signatures[:, k : bands * rows : rows].astype(_U64)  # row k of every band
            keys *= _BAND_MULT
            keys += cols
        return mix64(keys)


def candidate_pairs(
    signatures: np.ndarray,
    bands: int,
    rows: int,
    *,
    max_neighbors: int = 16,
    active: np.ndarray | None = None,
) -> np.ndarray:
    """Unique pairs (i < j) of documents sharing a band, [m, 2] int64.

    Documents sharing a bucket are sorted by index; each is paired with its next max_neighbors
    in that order, so a bucket of m documents yields at most m * max_neighbors pairs (a bucket of
    thousands of identical boilerplate documents cannot explode) while staying connected.
    ``active`` (bool [n]) limits the documents considered.
    """
    keys = band_keys(signatures, bands, rows)
    index = np.arange(len(signatures), dtype=np.int64)
    if active is not None:
        keys, index = keys[active], index[active]
    found = []
    for band in range(bands):
        order = np.argsort(keys[:, band], kind="stable")
        sorted_keys = keys[order, band]
        for d in range(1, max_neighbors + 1):
            same = sorted_keys[d:] == sorted_keys[:-d]
            if not same.any():
                break
            found.append(np.stack([order[:-d][same], order[d:][same]], axis=1))
    if not found:
        return np.zeros((0, 2), dtype=np.int64)
    local = np.unique(np.sort(np.concatenate(found), axis=1), axis=0)
    return index[local]


def estimated_jaccard(signatures: np.ndarray, pairs: np.ndarray, chunk: int = 65536) -> np.ndarray:
    """Fraction of agreeing sketch slots for each pair."""
    out = np.empty(len(pairs), dtype=np.float64)
    for s in range(0, len(pairs), chunk):
        p = pairs[s : s + chunk]
        out[s : s + chunk] = (signatures[p[:, 0]] == signatures[p[:, 1]]).mean(axis=1)
    return out


def exact_jaccard(
    hashes: np.ndarray, offsets: np.ndarray, pairs: np.ndarray, chunk: int = 1 << 22
) -> np.ndarray:
    """Exact Jaccard similarity of the shingle sets of each pair (on the top 40 bits of each
    shingle hash: a false match needs a 40-bit collision inside one pair).

    Each document's set is sorted and deduplicated once; a pair's intersection is the number of
    values appearing twice in the concatenation of its two sets (one sort per chunk of pairs).
    """
    n = len(offsets) - 1
    counts = np.diff(offsets)
    low = _U64((1 << 40) - 1)
    doc = np.repeat(np.arange(n, dtype=_U64), counts)
    keys = np.sort((doc << _U64(40)) | (np.asarray(hashes, dtype=_U64) >> _U64(24)))
    keys = keys[np.concatenate([[True], keys[1:] != keys[:-1]])]
    uniq = keys & low
    sizes = np.bincount((keys >> _U64(40)).astype(np.int64), minlength=n)
    starts = np.zeros(n, dtype=np.int64)
    np.cumsum(sizes[:-1], out=starts[1:])
    out = np.empty(len(pairs), dtype=np.float64)
    pair_len = sizes[pairs[:, 0]] + sizes[pairs[:, 1]]
    lo = 0
    while lo < len(pairs):
        # Take pairs until the chunk holds about `chunk` values (and at most 2**24 pairs).
        hi = lo + max(1, min(1 << 24, int(np.searchsorted(np.cumsum(pair_len[lo:]), chunk))))
        a, b = pairs[lo:hi, 0], pairs[lo:hi, 1]
        sizes_ab = np.stack([sizes[a], sizes[b]], 1).ravel()  # a0, b0, a1, b1, ...
        owner = np.repeat(np.arange(hi - lo, dtype=_U64).repeat(2), sizes_ab)
        idx = concat_ranges(np.stack([starts[a], starts[b]], 1).ravel(), sizes_ab)
        both = np.sort((owner << _U64(40)) | uniq[idx])
        twice = both[1:][both[1:] == both[:-1]] >> _U64(40)
        inter = np.bincount(twice.astype(np.int64), minlength=hi - lo)
        union = sizes[a] + sizes[b] - inter
        out[lo:hi] = np.where(union > 0, inter / np.maximum(union, 1), 1.0)
        lo = hi
    return out
