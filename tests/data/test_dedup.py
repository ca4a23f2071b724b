"""Tests for datawheel.data.dedup: exact and near-duplicate clusters, sketches, LSH."""

from __future__ import annotations

import random

import numpy as np
import polars as pl
import pytest

from datawheel.data.dedup import (
    DedupStats,
    candidate_pairs,
    dedup,
    dedup_with_stats,
    lsh_params,
    minhash_signatures,
    shingle_hashes,
)
from datawheel.errors import DataError, UsageError

_VOCAB = [f"w{i}" for i in range(3000)]
_ZH = "的一是不了人我在有他这为之大来以个中上们到说时地也子就而要出会可年生自那下能对着事"


def _doc(rng: random.Random, words: int = 100) -> list[str]:
    return [rng.choice(_VOCAB) for _ in range(words)]


def _edit(words: list[str], edits: int, rng: random.Random) -> list[str]:
    out = list(words)
    for _ in range(edits):
        out[rng.randrange(len(out))] = rng.choice(_VOCAB)
    return out


def _jaccard(a: np.ndarray, b: np.ndarray) -> float:
    sa, sb = set(a.tolist()), set(b.tolist())
    return len(sa & sb) / len(sa | sb)


@pytest.mark.parametrize(
    "variant",
    [
        "HELLO World,  this is a test.",  # case and repeated spaces
        "  hello world, this\tis a test.\n",  # tabs, newlines, leading / trailing space
        "ｈｅｌｌｏ world, this is a test.",  # fullwidth letters: NFKC
    ],
)
def test_dedup_when_normalized_texts_equal_then_exact_duplicates(variant: str) -> None:
    frame = pl.DataFrame({"m": ["hello world, this is a test.", "something else", variant]})
    kept, clusters, stats = dedup_with_stats(frame, text="m", exact_only=True)
    assert clusters == [0, 1, 0]
    assert kept["m"].to_list() == ["hello world, this is a test.", "something else"]
    assert stats == DedupStats(3, 2, 1, 0, 1, 0, stats.seconds)


def test_dedup_when_two_word_edits_in_100_then_near_duplicate() -> None:
    rng = random.Random(1)
    original = _doc(rng)
    edited = _edit(original, 2, rng)
    texts = [" ".join(_doc(rng)), " ".join(original), " ".join(edited), " ".join(_doc(rng))]
    kept, clusters = dedup(pl.DataFrame({"m": texts, "id": [0, 1, 2, 3]}), text="m")
    assert clusters == [0, 1, 1, 3]
    assert kept["id"].to_list() == [0, 1, 3]


def test_dedup_when_chinese_near_duplicates_then_character_shingles_cluster_them() -> None:
    rng = random.Random(2)
    base = "".join(rng.choice(_ZH) for _ in range(300))
    chars = list(base)
    chars[100] = "龙" if chars[100] != "龙" else "虎"  # one character replaced
    other = "".join(rng.choice(_ZH) for _ in range(300))
    texts = [other, base + "。", "".join(chars) + "。"]
    _, clusters = dedup(pl.DataFrame({"m": texts}), text="m")
    assert clusters == [0, 1, 1]
    _, offsets = shingle_hashes([base])
    assert offsets[1] == len(base) - 4  # character 5-grams


def test_dedup_when_clusters_then_map_to_first_occurrence_in_input_order() -> None:
    rng = random.Random(3)
    a, b = _doc(rng), _doc(rng)
    texts = [" ".join(_edit(a, 1, rng)), " ".join(b), " ".join(a), None, " ".join(b), "", None]
    kept, clusters, stats = dedup_with_stats(pl.DataFrame({"m": texts}), text="m")
    assert clusters == [0, 1, 0, 3, 1, 3, 3]  # nulls and "" match each other, exactly
    assert kept["m"].to_list() == [texts[0], texts[1], None]
    assert (stats.exact_duplicates, stats.near_duplicates, stats.clusters) == (3, 1, 3)


def test_minhash_signatures_when_random_pairs_then_estimate_within_0_1_of_exact() -> None:
    rng = random.Random(4)
    texts, pairs = [], []
    for i in range(60):  # pairs over the whole similarity range
        base = _doc(rng, 60 + 4 * i)
        texts += [" ".join(base), " ".join(_edit(base, i % 30, rng))]
        pairs.append((2 * i, 2 * i + 1))
    hashes, offsets = shingle_hashes(texts)
    sig = minhash_signatures(hashes, offsets, 128, seed=7)
    assert sig.shape == (120, 128) and sig.dtype == np.uint32
    errors = []
    for i, j in pairs:
        exact = _jaccard(hashes[offsets[i] : offsets[i + 1]], hashes[offsets[j] : offsets[j + 1]])
        errors.append(abs((sig[i] == sig[j]).mean() - exact))
    assert max(errors) < 0.1
    assert np.mean(errors) < 0.03


@pytest.mark.parametrize("threshold", [0.5, 0.8, 0.9])
def test_lsh_params_when_threshold_then_bands_times_rows_fit_and_curve_crosses_near_it(
    threshold: float,
) -> None:
    bands, rows = lsh_params(threshold, 128)
    assert 1 <= bands * rows <= 128
    midpoint = (1 / bands) ** (1 / rows)  # where the S-curve rises
    assert abs(midpoint - threshold) < 0.1


def test_candidate_pairs_when_identical_signatures_then_paired() -> None:
    sig = np.arange(4 * 128, dtype=np.uint32).reshape(4, 128)
    sig[3] = sig[1]
    assert candidate_pairs(sig, 16, 8).tolist() == [[1, 3]]


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"text": "missing"}, DataError),  # unknown column: lists the available ones
        ({"text": "m", "threshold": 1.0}, UsageError),  # threshold must be inside (0, 1)
        ({"text": "m", "threshold": 0.0}, UsageError),
    ],
)
def test_dedup_when_bad_arguments_then_raises(kwargs: dict, error: type) -> None:
    with pytest.raises(error) as info:
        dedup(pl.DataFrame({"m": ["a"], "n": ["b"]}), **kwargs)
    if error is DataError:
        assert "m, n" in str(info.value)


def test_dedup_when_empty_frame_then_empty_result() -> None:
    kept, clusters = dedup(pl.DataFrame({"m": []}, schema={"m": pl.String}), text="m")
    assert kept.height == 0 and clusters == []


def test_candidate_pairs_when_compared_with_datasketch_then_recall_at_least_as_high() -> None:
    datasketch = pytest.importorskip("datasketch")
    rng = random.Random(5)
    texts = []
    for _ in range(150):
        base = _doc(rng, 120)
        texts.append(base)
        for edits in (1, 2, 3):  # true Jaccard roughly 0.92, 0.85, 0.78
            texts.append(_edit(base, edits, rng))
    hashes, offsets = shingle_hashes([" ".join(t) for t in texts])
    sets = [set(hashes[offsets[i] : offsets[i + 1]].tolist()) for i in range(len(texts))]
    truth = {
        (i, j)
        for i in range(len(texts))
        for j in range(i + 1, min(i + 4, len(texts)))
        if len(sets[i] & sets[j]) / len(sets[i] | sets[j]) >= 0.8
    }
    assert len(truth) > 100
    lsh = datasketch.MinHashLSH(threshold=0.8, num_perm=128)
    sketches = []
    for i, words in enumerate(texts):
        m = datasketch.MinHash(num_perm=128)
        m.update_batch([" ".join(words[k : k + 5]).encode() for k in range(len(words) - 4)])
        lsh.insert(i, m)
        sketches.append(m)
    theirs = {(min(i, j), max(i, j)) for i in range(len(texts)) for j in lsh.query(sketches[i])}
    sig = minhash_signatures(hashes, offsets, 128)
    params = lsh_params(0.8, 128, fp_weight=0.05, fn_weight=0.95)  # as dedup uses it
    ours = {tuple(p) for p in candidate_pairs(sig, *params).tolist()}
    assert len(truth & ours) >= len(truth & theirs)


def test_dedup_when_verify_off_then_sketch_estimate_decides() -> None:
    rng = random.Random(6)
    original = _doc(rng)
    texts = [" ".join(original), " ".join(_edit(original, 1, rng)), " ".join(_doc(rng))]
    _, clusters, stats = dedup_with_stats(pl.DataFrame({"m": texts}), text="m", verify=False)
    assert clusters == [0, 0, 2]
    assert stats.candidate_pairs >= 1


def test_dedup_when_text_column_not_string_then_data_error() -> None:
    with pytest.raises(DataError, match="must hold text"):
        dedup(pl.DataFrame({"m": [1, 2]}), text="m")
