"""`clean_file` with image and audio columns: streamed, checked, deduplicated, reported."""

from __future__ import annotations

import csv
from pathlib import Path

import polars as pl
import pytest
from PIL import Image

from data.media.samples import OWNER, clip, encode, picture, tone
from datawheel.config import CleanConfig, DataConfig, MediaCleanConfig
from datawheel.data import clean_media
from datawheel.data.clean_file import clean_file
from datawheel.data.media.decode import load_audio, load_image, media_bytes
from datawheel.io import read_table, write_table

DATA = DataConfig(source="in.csv", target="y", images=["photo"], audio=["voice"])


@pytest.fixture
def source(tmp_path: Path) -> Path:
    """Ten rows: 0-5 distinct photos; 6 a copy of 0's photo, 7 a resized 1, 8 truncated,
    9 missing; rows 0 and 2 share a clip, row 1 has another."""
    (tmp_path / "p").mkdir()
    for i in range(6):
        (tmp_path / "p" / f"{i}.jpg").write_bytes(
            encode(picture(i, (64, 48)), "JPEG", metadata=True)
        )
    (tmp_path / "p" / "6.jpg").write_bytes(encode(picture(0, (64, 48)), "JPEG"))
    small = picture(1, (64, 48)).resize((48, 36), Image.Resampling.LANCZOS)
    (tmp_path / "p" / "7.png").write_bytes(encode(small, "PNG"))
    (tmp_path / "p" / "8.png").write_bytes(encode(picture(8), "PNG")[:100])
    (tmp_path / "v.flac").write_bytes(clip(tone(0.4), fmt="FLAC"))
    (tmp_path / "w.flac").write_bytes(clip(tone(0.4, freq=300), fmt="FLAC"))
    frame = pl.DataFrame(
        {
            "photo": [f"p/{i}.jpg" for i in range(7)] + ["p/7.png", "p/8.png", "p/9.png"],
            "voice": ["v.flac", "w.flac", "v.flac"] + [None] * 7,
            "x": [float(i) for i in range(10)],
            "y": ["a", "b"] * 5,
        }
    )
    write_table(frame, tmp_path / "in.csv")
    return tmp_path / "in.csv"


@pytest.mark.parametrize("cache", [clean_media.CACHE_BYTES, 0])  # held between passes, or not
@pytest.mark.parametrize("batch_rows", [100_000, 3])  # one batch, or copies across batches
def test_clean_file_when_media_then_stored_deduplicated_and_listed(
    source: Path, monkeypatch, cache: int, batch_rows: int
):
    monkeypatch.setattr(clean_media, "CACHE_BYTES", cache)
    out = source.with_name("out.parquet")
    result = clean_file(
        source, out, data=DATA, batch_rows=batch_rows, report=source.with_name("q.html")
    )
    cleaned = read_table(out)
    assert cleaned["x"].to_list() == [0.0, 1.0, 3.0, 4.0, 5.0, 8.0, 9.0]
    assert cleaned.schema["photo"] == pl.Binary
    assert cleaned["photo"][5] is None and cleaned["photo"][6] is None  # rejected: row kept
    assert all(OWNER.encode() not in v for v in cleaned["photo"].drop_nulls())
    assert load_image(cleaned["photo"][0]).size == (64, 48)
    assert result.stats.dropped == {
        "duplicate_image": 1, "duplicate_audio": 1, "near_duplicate_image": 1,
    }  # fmt: skip
    with result.media_rejects.open(newline="") as f:
        listed = [(r["row"], r["reason"]) for r in csv.DictReader(f)]
    assert listed == [("8", "truncated"), ("9", "missing")]
    page = source.with_name("q.html").read_text()
    assert "Rejected files" in page and "Duplicate files" in page
    assert page.count("data:image/png;base64,") >= 3  # a truncated preview + a pair
    assert "photo: width" in page and "voice: duration" in page


def test_clean_file_when_csv_output_then_media_as_base64(source: Path):
    out = source.with_name("out.csv")
    clean_file(source, out, data=DATA)
    cleaned = read_table(out)
    assert cleaned.schema["photo"] == pl.String
    assert load_image(media_bytes(cleaned["photo"][0], None)).size == (64, 48)
    assert len(load_audio(media_bytes(cleaned["voice"][0], None))) > 0


def test_clean_file_when_on_error_drop_then_rows_with_bad_files_removed(source: Path):
    config = CleanConfig(media=MediaCleanConfig(on_error="drop"))
    result = clean_file(source, source.with_name("o.parquet"), config=config, data=DATA)
    assert result.stats.dropped["bad_media"] == 2
    assert 8.0 not in read_table(source.with_name("o.parquet"))["x"].to_list()
