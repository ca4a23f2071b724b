"""Vectorized MinHash machinery for near-duplicate detection: shingles, sketches, LSH, Jaccard."""

from __future__ import annotations

import functools
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import polars as pl

__all__ = [
    "CHAR_NGRAM",
    "EMPTY",
    "WORD_NGRAM",
    "candidate_pairs",
    "exact_jaccard",
    "features",
    "lsh_params",
    "minhash_signatures",
    "prepare",
    "shingle_hashes",
]

WORD_NGRAM = 5  # word 5-grams: the usual choice for web-scale dedup (datasketch, datatrove)
# Character 5-grams for CJK / unspaced text: about 2-3 Chinese words, so an edit disturbs about as
# many shingles as a word edit does with word 5-grams; character 3-grams in Chinese are mostly
# common phrases and make unrelated documents overlap.
CHAR_NGRAM = 5
EMPTY = np.uint32(0xFFFFFFFF)  # a sketch slot no shingle reached (only for empty documents)

_U64 = np.uint64
_MASK22 = _U64((1 << 22) - 1)
_MASK64 = _U64(0xFFFFFFFFFFFFFFFF)
_MAX_STAGES = 1 << 10  # the stage number sits in the top 10 bits of a sketch value
# Odd 64-bit constants (from splitmix64 / murmur3 / golden ratio) for mixing and n-gram weights.
_M1 = _U64(0xBF58476D1CE4E5B9)
_M2 = _U64(0x94D049BB133111EB)
_NGRAM_WEIGHTS = (
    0x9E3779B97F4A7C15,
    0xC2B2AE3D27D4EB4F,
    0x165667B19E3779F9,
    0xD6E8FEB86659FD93,
    0xFF51AFD7ED558CCD,
    0xC4CEB9FE1A85EC53,
    0x27D4EB2F165667C5,
    0x85EBCA77C2B2AE63,
)


def mix64(x: np.ndarray) -> np.ndarray:
    """splitmix64's finalizer, in place on a uint64 array: every output bit depends on every input
    bit, so later stages can take any bit slice of it as uniform."""
    with np.errstate(over="ignore"):
        x ^= x >> _U64(30)
        x *= _M1
        x ^= x >> _U64(27)
        x *= _M2
        x ^= x >> _U64(31)
    return x


def prepare(texts: Sequence[str | None] | pl.Series) -> list[str]:
    """NFKC and casefold each text (None becomes ""). Whitespace is collapsed later, at the byte
    level: exact keys hash the whitespace-separated tokens. NUL is the batch separator, so a
    NUL inside a text becomes a space."""
    items = texts.to_list() if isinstance(texts, pl.Series) else list(texts)
    out = []
    for t in items:
        if not t:
            out.append("")
            continue
        t = unicodedata.normalize("NFKC", t).casefold()
        out.append(t.replace("\x00", " ") if "\x00" in t else t)
    return out


@dataclass
class Features:
    """Per-document features of one batch."""

    exact_keys: np.ndarray  # uint64 [n]: hash of the text with whitespace collapsed (per process)
    hashes: np.ndarray  # uint64 [total]: shingle hashes, document by document
    offsets: np.ndarray  # int64 [n + 1]


def features(texts: list[str], ngram: int | None, seed: int) -> Features:
    """Exact keys and shingle hashes of prepared texts.

    Word mode (default): tokens are runs of ASCII letters, digits, "_" and non-ASCII characters
    (ASCII punctuation and whitespace separate words), hashed eight UTF-8 bytes at a time.
    Character mode (CJK or unspaced text, see _char_mode): tokens are code points that are
    letters, marks or numbers. Shingles are n-grams of tokens (one shingle of all tokens for
    shorter documents, none for empty ones).
    """
    n = len(texts)
    salt = _U64(seed) * _NGRAM_WEIGHTS[2]
    chars = np.zeros(n, dtype=bool)
    collapse = np.ones(n, dtype=bool)  # text whose whitespace may not be collapsed yet
    wide = np.flatnonzero([not t.isascii() for t in texts])
    points = None
    if len(wide):
        points, lengths = _code_points([texts[i] for i in wide.tolist()])
        is_char = _char_mode(points, lengths)
        chars[wide[is_char]] = True
    parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    if not chars.all():
        docs = np.flatnonzero(~chars)
        tokens, tok_counts, collapse[docs] = _word_tokens([texts[i] for i in docs.tolist()], salt)
        collapse[wide] = True  # Unicode spaces beyond ASCII: leave them to str.split
        parts.append((docs, *_ngrams(tokens, tok_counts, ngram or WORD_NGRAM)))
    if chars.any():
        tokens, tok_counts = _char_tokens(points, lengths, is_char, salt)
        parts.append((wide[is_char], *_ngrams(tokens, tok_counts, ngram or CHAR_NGRAM)))
    exact_keys = _exact_keys(texts, collapse)
    counts = np.zeros(n, dtype=np.int64)
    for docs, _, sh_counts in parts:
        counts[docs] = sh_counts
    offsets = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(counts, out=offsets[1:])
    if len(parts) == 1:
        return Features(exact_keys, parts[0][1], offsets)
    flat = np.empty(offsets[-1], dtype=_U64)
    for docs, hashes, _ in parts:
        flat[_ranges(offsets[docs], counts[docs])] = hashes
    return Features(exact_keys, flat, offsets)


def _exact_keys(texts: list[str], collapse: np.ndarray) -> np.ndarray:
    """Python's 64-bit string hash of each text with whitespace collapsed (split and join only
    where ``collapse`` says the text is not already collapsed)."""
    keys = [
        hash(" ".join(t.split())) if c else hash(t)
        for t, c in zip(texts, collapse.tolist(), strict=True)
    ]
    return np.array(keys, dtype=np.int64).view(_U64)


def shingle_hashes(
    texts: Sequence[str | None] | pl.Series, ngram: int | None = None, *, seed: int = 1
) -> tuple[np.ndarray, np.ndarray]:
    """Shingle hashes of each document (see ``features``): (hashes uint64 [total], offsets int64
    [n + 1]); document i owns hashes[offsets[i]:offsets[i + 1]], repeats included."""
    f = features(prepare(texts), ngram, seed)
    return f.hashes, f.offsets


_ODD_SPACE = np.zeros(256, dtype=bool)  # ASCII whitespace other than the space itself
_ODD_SPACE[[9, 10, 11, 12, 13, 28, 29, 30, 31]] = True


@functools.cache
def _code_point_tables() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """BMP tables: character-mode token (letter, mark, number), CJK (kana, ideograph), space."""
    cats = [unicodedata.category(chr(c)) for c in range(0x10000)]
    token = np.array([c[0] in "LMN" for c in cats], dtype=bool)
    space = np.array([c[0] == "Z" or chr(i).isspace() for i, c in enumerate(cats)], dtype=bool)
    cjk = np.zeros(0x10000, dtype=bool)
    cjk[0x3040:0x3100] = True  # hiragana, katakana
    cjk[0x3400:0x4DC0] = True  # CJK extension A
    cjk[0x4E00:0xA000] = True  # CJK unified ideographs
    cjk[0xF900:0xFB00] = True  # CJK compatibility ideographs
    return token, cjk, space


def _code_points(texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
    points = np.frombuffer("".join(texts).encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    return points, np.fromiter(map(len, texts), dtype=np.int64, count=len(texts))


def _per_doc(mask: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Count of True per document of a flat per-character mask."""
    doc = np.repeat(np.arange(len(lengths)), lengths)
    return np.bincount(doc[mask], minlength=len(lengths))


def _char_mode(points: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Which documents to shingle by characters: mostly CJK (>= 1/3 of non-space characters are
    kana or ideographs), or unspaced text (Thai, Lao) whose average whitespace-separated token
    exceeds 20 characters. Per document, so mixed corpora work."""
    _, cjk_table, space_table = _code_point_tables()
    bmp = np.minimum(points, 0xFFFF)
    cjk = _per_doc(cjk_table[bmp] & (points < 0x10000), lengths)
    spaces = _per_doc(space_table[bmp] & (points < 0x10000), lengths)
    solid = lengths - spaces
    return ((3 * cjk >= solid) & (solid > 0)) | ((solid >= 20) & (20 * (spaces + 1) < solid))


def _word_tokens(texts: list[str], salt: np.uint64) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Hashes of the word tokens of each text (flat), the count per text, and whether the text's
    whitespace may need collapsing before its exact key is taken."""
    buf = np.frombuffer("\x00".join(texts).encode("utf-8", "surrogatepass"), dtype=np.uint8)
    doc_start = np.concatenate([[0], np.flatnonzero(buf == 0) + 1])
    starts, lengths = _runs(_word_bytes(buf))
    counts = np.diff(np.searchsorted(starts, doc_start), append=len(starts))
    collapse = _uncollapsed(buf, starts, starts + lengths, counts)
    return _run_hashes(_u64_view(buf), starts, lengths, salt), counts, collapse


def _word_bytes(buf: np.ndarray) -> np.ndarray:
    """ASCII letters, digits, "_" and every byte of a non-ASCII character (arithmetic beats a
    table lookup on bytes)."""
    lower = buf | np.uint8(0x20)
    word = (lower - np.uint8(ord("a"))) < np.uint8(26)
    word |= (buf - np.uint8(ord("0"))) < np.uint8(10)
    word |= buf >= np.uint8(0x80)
    word |= buf == np.uint8(ord("_"))
    return word


def _uncollapsed(
    buf: np.ndarray, starts: np.ndarray, ends: np.ndarray, counts: np.ndarray
) -> np.ndarray:
    """Texts that may hold whitespace other than single spaces between words: judged on the gaps
    between words only (mostly " " or ". "), conservatively - a gap of 3+ bytes, or a text
    without words, counts as uncollapsed, which costs only a str.split."""
    n = len(counts)
    collapse = counts == 0
    if len(starts) == 0:
        return np.ones(n, dtype=bool)
    nul = np.zeros(2, dtype=np.uint8)
    padded = np.concatenate([nul[:1], buf, nul])  # a NUL before the first and after the last text
    gap_start = np.concatenate([np.zeros(1, dtype=np.int64), ends + 1])  # in padded coordinates
    gap_len = np.concatenate([starts + 1, [len(buf) + 1]]) - gap_start
    a, b = padded[gap_start], padded[gap_start + 1]
    odd_a, odd_b = _ODD_SPACE[a], _ODD_SPACE[b]
    bad = gap_len >= 3
    bad |= (gap_len >= 1) & odd_a
    two = gap_len == 2
    bad |= two & (odd_b | ((a == 32) & (b == 32)) | ((a == 0) & (b == 32)) | ((a == 32) & (b == 0)))
    gaps = np.flatnonzero(bad)  # gap g lies before word g: its text and the previous one's
    if len(gaps):
        doc_of_word = np.repeat(np.arange(n), counts)
        collapse[doc_of_word[np.minimum(gaps, len(starts) - 1)]] = True
        collapse[doc_of_word[np.maximum(gaps - 1, 0)]] = True
    return collapse


def _u64_view(buf: np.ndarray) -> np.ndarray:
    """Unaligned little-endian uint64 starting at every byte of buf (8 zero bytes of padding)."""
    padded = np.concatenate([buf, np.zeros(8, dtype=np.uint8)])
    return np.ndarray(shape=(len(buf),), dtype="<u8", buffer=padded, strides=(1,))


def _runs(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Start and length of every maximal run of True."""
    edges = np.flatnonzero(np.diff(mask.view(np.int8), prepend=np.int8(0), append=np.int8(0)))
    return edges[0::2], edges[1::2] - edges[0::2]  # rises and falls alternate


def _run_hashes(
    view: np.ndarray, starts: np.ndarray, lengths: np.ndarray, salt: np.uint64
) -> np.ndarray:
    """64-bit hash of the bytes of each run, eight bytes per step (runs are mostly short words)."""
    h = lengths.astype(_U64) * _NGRAM_WEIGHTS[1] + salt
    with np.errstate(over="ignore"):
        for k in range(0, int(lengths.max(initial=0)), 8):
            live = np.flatnonzero(lengths > k) if k else slice(None)
            left = np.minimum(lengths[live] - k, 8).astype(_U64)
            word = view[starts[live] + k] & (_MASK64 >> (_U64(64) - left * _U64(8)))
            if k:
                h[live] = (h[live] ^ word) * _NGRAM_WEIGHTS[3]
            else:
                h ^= word
                h *= _NGRAM_WEIGHTS[3]
    return mix64(h)


def _char_tokens(
    points: np.ndarray, lengths: np.ndarray, selected: np.ndarray, salt: np.uint64
) -> tuple[np.ndarray, np.ndarray]:
    """Hashes of the token code points (letters, marks, numbers) of the selected documents."""
    token_table, _, _ = _code_point_tables()
    doc = np.repeat(np.arange(len(lengths)), lengths)
    keep = selected[doc] & ((points >= 0x10000) | token_table[np.minimum(points, 0xFFFF)])
    counts = np.bincount(doc[keep], minlength=len(lengths))[selected]
    with np.errstate(over="ignore"):
        return mix64(points[keep].astype(_U64) * _NGRAM_WEIGHTS[5] + salt), counts


def _ngrams(tokens: np.ndarray, counts: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Hash of every window of n consecutive tokens of each document (one window of all tokens
    for documents shorter than n; none for empty ones). Returns flat hashes and per-doc counts."""
    total = len(tokens)
    starts = np.zeros(len(counts), dtype=np.int64)
    np.cumsum(counts[:-1], out=starts[1:])
    out_counts = np.where(counts >= n, counts - n + 1, np.minimum(counts, 1))
    padded = np.concatenate([tokens, np.zeros(n, dtype=_U64)])
    acc = np.zeros(total, dtype=_U64)
    with np.errstate(over="ignore"):
        for k in range(n):
            acc += padded[k : k + total] * _U64(_NGRAM_WEIGHTS[k % 8] + 2 * (k // 8))
        short = np.flatnonzero((counts < n) & (counts > 0))
        if len(short):  # windows of short documents stop at the document's end
            acc[starts[short]] = 0
            for k in range(n):
                inside = short[counts[short] > k]
                acc[starts[inside]] += padded[starts[inside] + k] * _U64(
                    _NGRAM_WEIGHTS[k % 8] + 2 * (k // 8)
                )
    valid = np.ones(total, dtype=bool)
    tail = np.flatnonzero(counts >= n)
    for k in range(1, n):  # the last n - 1 positions of each document start no full window
        valid[starts[tail] + counts[tail] - k] = False
    valid[_ranges(starts[short] + 1, counts[short] - 1)] = False
    return acc[valid], out_counts  # linear in the token hashes: minhash_signatures mixes it


def _ranges(starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Concatenation of arange(s, s + l) for each (s, l), vectorized."""
    keep = lengths > 0
    starts, lengths = starts[keep], lengths[keep]
    total = int(lengths.sum())
    if total == 0:
        return np.zeros(0, dtype=np.int64)
    step = np.ones(total, dtype=np.int64)
    firsts = np.cumsum(lengths) - lengths
    step[0] = starts[0]
    step[firsts[1:]] = starts[1:] - (starts[:-1] + lengths[:-1] - 1)
    return np.cumsum(step)


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
            keys *= _NGRAM_WEIGHTS[0]
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
        idx = _ranges(np.stack([starts[a], starts[b]], 1).ravel(), sizes_ab)
        both = np.sort((owner << _U64(40)) | uniq[idx])
        twice = both[1:][both[1:] == both[:-1]] >> _U64(40)
        inter = np.bincount(twice.astype(np.int64), minlength=hi - lo)
        union = sizes[a] + sizes[b] - inter
        out[lo:hi] = np.where(union > 0, inter / np.maximum(union, 1), 1.0)
        lo = hi
    return out
