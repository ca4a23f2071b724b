"""The media stage: a batch of mixed values in, stored bytes out, every bad file counted."""

from __future__ import annotations

import base64
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from datawheel.config import MediaCleanConfig
from datawheel.data.media.decode import load_image
from datawheel.data.media.stage import MediaStage

from .samples import clip, encode, picture, tone


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    (tmp_path / "img").mkdir()
    (tmp_path / "img" / "a.jpg").write_bytes(encode(picture(1), "JPEG", metadata=True))
    (tmp_path / "img" / "cut.png").write_bytes(encode(picture(2), "PNG")[:200])
    (tmp_path / "voice.wav").write_bytes(clip(tone(2.0)))
    return tmp_path


def _frame() -> pl.DataFrame:
    png = encode(picture(3), "PNG")
    return pl.DataFrame(
        {
            "photo": [
                "img/a.jpg",  # 0 a path beside the data file
                base64.b64encode(png).decode(),  # 1 base64
                "img/cut.png",  # 2 truncated
                "img/gone.png",  # 3 missing
                None,  # 4 no photo: absent, not an error
                "data:image/png;base64," + base64.b64encode(png).decode(),  # 5 data URI
            ],
            "voice": ["voice.wav", None, None, "not audio at all", None, "voice.wav"],
            "label": ["a", "b", "a", "b", "a", "b"],
        }
    )


def test_normalize_when_mixed_values_then_bytes_or_null_and_counted(folder: Path):
    stage = MediaStage(images=["photo"], audio=["voice"], base_dir=folder, workers=2)
    out, bad, keys = stage.normalize(_frame(), start=10)
    assert out.schema["photo"] == pl.Binary and out.schema["voice"] == pl.Binary
    assert [v is not None for v in out["photo"]] == [True, True, False, False, False, True]
    assert bad.tolist() == [False, False, True, True, False, False]
    assert out["label"].to_list() == _frame()["label"].to_list()  # other columns untouched
    assert load_image(out["photo"][0]).size == (48, 32)
    assert b"Exif" not in out["photo"][0]
    scan = stage.scan
    assert scan.rejected == {"photo": {"truncated": 1, "missing": 1}, "voice": {"corrupt": 1}}
    assert [(r.row, r.column, r.reason) for r in scan.rejects] == [
        (12, "photo", "truncated"), (13, "photo", "missing"), (13, "voice", "corrupt"),
    ]  # fmt: skip
    assert scan.checked == {"photo": 3, "voice": 2} and scan.absent == {"photo": 1, "voice": 3}
    assert scan.sizes["photo"] == [(48, 32)] * 3
    assert scan.seconds["voice"] == pytest.approx([2.0, 2.0], abs=0.05)
    assert scan.formats["photo"] == {"JPEG": 1, "PNG": 2}
    assert [s.reason for s in scan.samples] == ["truncated", "missing"]
    # rows 1 and 5 hold the same PNG: the same stored bytes, the same keys
    assert keys.content["photo"][1] == keys.content["photo"][5] != 0
    assert keys.present["photo"].tolist() == [True, True, False, False, False, True]


def test_normalize_when_record_off_then_counts_stay(folder: Path):
    stage = MediaStage(images=["photo"], base_dir=folder)
    stage.normalize(_frame())
    first = stage.scan.summary()
    stage.normalize(_frame(), record=False)
    assert stage.scan.summary() == first
    assert first["photo"]["rejected"] == {"truncated": 1, "missing": 1}


def test_normalize_when_clip_too_long_then_cut_and_counted(folder: Path):
    (folder / "long.flac").write_bytes(clip(tone(3.0, 8_000), 8_000, "FLAC"))
    stage = MediaStage(audio=["voice"], base_dir=folder, config=MediaCleanConfig(max_seconds=1))
    frame = pl.DataFrame({"voice": ["long.flac", "voice.wav"]})
    _, bad, _ = stage.normalize(frame)
    assert not bad.any() and stage.scan.cut == {"voice": 2}
    assert stage.scan.seconds["voice"] == [1.0, 1.0]


def test_normalize_when_no_base_dir_then_paths_are_not_read(folder: Path):
    stage = MediaStage(images=["photo"], base_dir=None)
    _, bad, _ = stage.normalize(pl.DataFrame({"photo": [str(folder / "img" / "a.jpg")]}))
    assert bad.tolist() == [True] and stage.scan.rejects[0].reason == "corrupt"


def test_normalize_when_binary_column_then_decodes_bytes(folder: Path):
    frame = pl.DataFrame({"photo": [encode(picture(4), "WEBP"), b""]}, schema={"photo": pl.Binary})
    stage = MediaStage(images=["photo"], base_dir=None)
    out, bad, _ = stage.normalize(frame)
    assert bad.tolist() == [False, True] and stage.scan.rejects[0].reason == "empty"
    assert np.asarray(load_image(out["photo"][0])).shape == (32, 48, 3)
