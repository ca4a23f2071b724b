"""Media dedup: exact by content, near by pHash distance, first row of a cluster kept."""

from __future__ import annotations

import io

import imagehash
import numpy as np
import polars as pl
import pytest
from PIL import Image

from datawheel.config import MediaDedupConfig
from datawheel.data.media.dedup import (
    MediaKeys,
    find_duplicates,
    hamming_pairs,
    media_keys,
    perceptual_hash,
)
from datawheel.data.media.normalize import normalize_image

from .samples import encode, picture


def _stored(image: Image.Image, fmt: str = "PNG") -> bytes:
    return normalize_image(encode(image, fmt))[0].data


def test_perceptual_hash_when_compared_with_imagehash_then_same_bits():
    image = picture(1, (64, 64))
    assert perceptual_hash(image) == int(str(imagehash.phash(image)), 16)


def test_hamming_pairs_when_brute_forced_then_same_pairs():
    rng = np.random.default_rng(0)
    base = rng.integers(0, 2**63, size=40, dtype=np.uint64)
    flips = np.uint64(1) << rng.integers(0, 64, size=40).astype(np.uint64)
    hashes = np.concatenate([base, base ^ flips])  # each base has a copy 1 bit away
    active = np.ones(len(hashes), dtype=bool)
    active[3] = False  # an inactive row is never paired
    got = {tuple(p) for p in hamming_pairs(hashes, active, 2).tolist()}
    want = {
        (i, j)
        for i in range(len(hashes))
        for j in range(i + 1, len(hashes))
        if active[i] and active[j] and bin(int(hashes[i] ^ hashes[j])).count("1") <= 2
    }
    assert got == want and len(got) >= 39


def _frame() -> pl.DataFrame:
    a, b = picture(10, (96, 64)), picture(11, (96, 64))
    resized = a.resize((72, 48), Image.Resampling.LANCZOS)  # the same photo, smaller
    return pl.DataFrame(
        {
            "photo": [
                _stored(a),  # 0 kept
                _stored(b),  # 1 kept: another picture
                _stored(a),  # 2 exact copy of 0
                _stored(resized),  # 3 near copy of 0
                None,  # 4 no photo: never a duplicate
                None,  # 5
                _stored(a, "JPEG"),  # 6 near copy of 0 (JPEG artefacts)
                _stored(a.crop((3, 2, 93, 62)).resize((96, 64))),  # 7 cropped: 8 bits from 0
            ]
        },
        schema={"photo": pl.Binary},
    )


def test_find_duplicates_when_copies_then_keeps_first_and_counts_by_reason():
    keys = media_keys(_frame(), images=["photo"])
    found = find_duplicates(keys, MediaDedupConfig())
    assert found.keep.tolist() == [True, True, False, False, True, True, False, True]
    assert found.dropped == {"duplicate_image": 1, "near_duplicate_image": 2}
    assert found.cluster.tolist() == [0, 1, 0, 0, 4, 5, 0, 7]
    assert ("duplicate_image", "photo", 0, 2) in found.examples


@pytest.mark.parametrize(
    ("config", "kept"),
    [
        (MediaDedupConfig(near=False), [0, 1, 3, 4, 5, 6, 7]),  # exact only
        (MediaDedupConfig(exact=False, near=False), [0, 1, 2, 3, 4, 5, 6, 7]),  # off
        # resizing and JPEG left every pHash bit of this picture as it was
        (MediaDedupConfig(max_distance=0), [0, 1, 4, 5, 7]),
        (MediaDedupConfig(max_distance=10), [0, 1, 4, 5]),  # the crop is a copy too
    ],
)
def test_find_duplicates_when_configured_then_follows_the_config(config, kept):
    found = find_duplicates(media_keys(_frame(), images=["photo"]), config)
    assert np.flatnonzero(found.keep).tolist() == kept


def test_find_duplicates_when_rows_inactive_then_not_compared():
    keys = media_keys(_frame(), images=["photo"])
    active = np.array([False, True, True, True, True, True, True, True])
    found = find_duplicates(keys, MediaDedupConfig(), active=active)
    assert found.keep.tolist() == [False, True, True, False, True, True, False, True]


def test_find_duplicates_when_audio_then_exact_only():
    clip = b"fLaC-same-bytes"
    frame = pl.DataFrame({"voice": [clip, b"other", clip]}, schema={"voice": pl.Binary})
    found = find_duplicates(media_keys(frame, audio=["voice"]), MediaDedupConfig())
    assert found.keep.tolist() == [True, True, False]
    assert found.dropped == {"duplicate_audio": 1}


def test_media_keys_when_concatenated_and_taken_then_stay_aligned():
    keys = media_keys(_frame(), images=["photo"])
    halves = MediaKeys.concat([keys.take(np.arange(0, 3)), keys.take(np.arange(3, 8))])
    assert halves.rows == 8
    assert np.array_equal(halves.perceptual["photo"], keys.perceptual["photo"])
    picked = keys.take(np.array([False, True, True, False, False, False, False, False]))
    assert picked.rows == 2 and picked.present["photo"].all()
    with Image.open(io.BytesIO(_frame()["photo"][1])) as image:
        assert picked.perceptual["photo"][0] == perceptual_hash(image.convert("RGB"))
