"""The media keys of the project file: data.images/audio, clean.media, clean.dedup.media,
clean.augment.images/audio and privacy.images — valid ones load, broken ones say the fix."""

from __future__ import annotations

import pytest

from datawheel.config import parse_config
from datawheel.data.schema import infer_schema
from datawheel.errors import ConfigError

BASE = {"name": "p", "data": {"source": "data.csv", "target": "y"}}


def _with(data: dict | None = None, **sections: object) -> dict[str, object]:
    return {**BASE, "data": {**BASE["data"], **(data or {})}, **sections}


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        # a media column cannot also be the target, the id or a text column
        (_with({"images": ["y"]}), ["data.images", "'y' is also in data.target"]),
        (_with({"id": "p", "audio": ["p"]}), ["data.audio", "'p' is also in data.id"]),
        (_with({"text": ["c"], "images": ["c"]}), ["data.images", "data.text"]),
        # nor an image and an audio column at once
        (_with({"images": ["m"], "audio": ["m"]}), ["data.audio", "data.images"]),
        # a typo'd media key gets its close match
        (_with(clean={"media": {"max_second": 5}}), ["clean.media.max_second", "max_seconds"]),
        (_with(clean={"dedup": {"media": {"max_dist": 3}}}), ["max_distance"]),
        # bounds: a Hamming distance of 64 bits would call every picture a copy
        (_with(clean={"dedup": {"media": {"max_distance": 40}}}), ["max_distance", "40"]),
        (_with(clean={"media": {"on_error": "skip"}}), ["clean.media.on_error", "'skip'"]),
        # ranges must be [low, high] within bounds
        (_with(clean={"augment": {"images": {"crop_scale": [0.9, 0.5]}}}),
         ["clean.augment.images.crop_scale", "low <= high"]),
        (_with(clean={"augment": {"audio": {"speed": [0.1, 1.0]}}}),
         ["clean.augment.audio.speed", "0.5 <= low"]),
        # metadata is always stripped
        (_with(privacy={"images": {"strip_metadata": False}}),
         ["privacy.images.strip_metadata", "always stripped"]),
        (_with(privacy={"images": {"faces": "pixelate"}}), ["privacy.images.faces", "'blur'"]),
    ],
)  # fmt: skip
def test_parse_config_when_media_key_invalid_then_error_names_key_and_fix(raw, expected):
    with pytest.raises(ConfigError) as caught:
        parse_config(raw)
    for part in expected:
        assert part in str(caught.value)


def test_parse_config_when_media_keys_then_typed_with_defaults():
    config = parse_config(
        _with(
            {"images": ["photo"], "audio": ["voice"]},
            clean={"augment": {"images": True, "audio": {"speed": [0.8, 1.2]}}},
            privacy={"images": {"faces": "blur"}},
        )
    )
    assert config.data.images == ["photo"] and config.data.audio == ["voice"]
    assert config.clean.augment.images.enabled and config.clean.augment.images.flip == 0.5
    assert config.clean.augment.audio.enabled and config.clean.augment.audio.speed == (0.8, 1.2)
    assert config.clean.media.on_error == "keep" and config.clean.media.max_seconds == 30.0
    assert config.clean.dedup.media.max_distance == 6
    assert config.privacy.images.faces == "blur" and config.privacy.images.strip_metadata
    plain = parse_config(BASE)
    assert not plain.clean.augment.images.enabled and plain.privacy.images.faces == "none"


def test_infer_schema_when_media_columns_then_roles_image_and_audio_not_features():
    import polars as pl

    config = parse_config(_with({"images": ["photo"], "audio": ["voice"]}))
    frame = pl.DataFrame({"photo": ["a.png"] * 3, "voice": [b"x"] * 3, "y": ["a", "b", "a"]})
    roles = {c: i.role for c, i in infer_schema(frame, config.data).items()}
    assert roles == {"photo": "image", "voice": "audio", "y": "target"}
