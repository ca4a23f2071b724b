"""Text to shingles for near-duplicate detection: normalization, tokens, n-gram hashes."""

from __future__ import annotations

import functools
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import polars as pl

__all__ = [
    "CHAR_NGRAM",
    "WORD_NGRAM",
    "Features",
    "concat_ranges",
    "features",
    "mix64",
    "prepare",
    "shingle_hashes",
]

WORD_NGRAM = 5  # word 5-grams: the usual choice for web-scale dedup (datasketch, datatrove)
# Character 5-grams for CJK / unspaced text: about 2-3 Chinese words, so an edit disturbs about as
# many shingles as a word edit does with word 5-grams; character 3-grams in Chinese are mostly
# common phrases and make unrelated documents overlap.
CHAR_NGRAM = 5

_U64 = np.uint64
_MASK64 = _U64(0xFFFFFFFFFFFFFFFF)
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
        assert points is not None  # character mode is only ever chosen for non-ASCII texts
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
        flat[concat_ranges(offsets[docs], counts[docs])] = hashes
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
    valid[concat_ranges(starts[short] + 1, counts[short] - 1)] = False
    return acc[valid], out_counts  # linear in the token hashes: minhash_signatures mixes it


def concat_ranges(starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
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
