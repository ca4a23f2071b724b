"""`datawheel media check`, and the data commands with media columns, on real files."""

from __future__ import annotations

import base64
import csv
import json
from pathlib import Path

import polars as pl
import pytest
import yaml

from data.media.samples import OWNER, clip, encode, picture, tone
from datawheel.data.media.decode import load_image, media_bytes
from datawheel.io import read_table, write_table
from datawheel.secret import KEY_FILE, generate_key_file

from .test_data import _run


@pytest.fixture
def table(tmp_path: Path) -> Path:
    (tmp_path / "img").mkdir()
    (tmp_path / "img" / "ok.jpg").write_bytes(encode(picture(1), "JPEG", metadata=True))
    (tmp_path / "img" / "half.png").write_bytes(encode(picture(2), "PNG")[:120])
    (tmp_path / "hello.wav").write_bytes(clip(tone(0.5)))
    frame = pl.DataFrame(
        {
            "photo": ["img/ok.jpg", "img/half.png", "img/none.jpg",
                      base64.b64encode(encode(picture(3), "WEBP")).decode()],
            "voice": ["hello.wav", None, "hello.wav", "aGVsbG8gd29ybGQ="],
            "y": ["a", "b", "a", "b"],
        }
    )  # fmt: skip
    write_table(frame, tmp_path / "data.csv")
    return tmp_path / "data.csv"


def test_media_check_when_bad_files_then_counts_and_side_file(table: Path):
    result = _run("media", "check", str(table), "--images", "photo", "--audio", "voice",
                  cwd=table.parent)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "photo (image): 2 ok" in result.stdout and "truncated 1, missing 1" in result.stdout
    assert "voice (audio): 2 ok · 1 empty cells · rejected: corrupt 1" in result.stdout
    side = table.with_name("data.csv.media-rejects.csv")
    with side.open(newline="") as f:
        rows = [(r["row"], r["column"], r["reason"]) for r in csv.DictReader(f)]
    assert rows == [("1", "photo", "truncated"), ("2", "photo", "missing"),
                    ("3", "voice", "corrupt")]  # fmt: skip


def test_media_check_when_strict_and_bad_then_exit_1_and_json(table: Path):
    result = _run("media", "check", str(table), "--images", "photo", "--strict", "--json",
                  cwd=table.parent)  # fmt: skip
    assert result.returncode == 1
    out = json.loads(result.stdout)
    assert out["rows"] == 4 and out["columns"]["photo"]["rejected"] == {
        "truncated": 1, "missing": 1,
    }  # fmt: skip


def test_media_check_when_all_fine_then_no_side_file_and_exit_0(table: Path):
    side = table.with_name("data.csv.media-rejects.csv")
    side.write_text("stale")
    frame = read_table(table).head(1)
    write_table(frame, table)
    result = _run("media", "check", str(table), "--images", "photo", "--strict", cwd=table.parent)
    assert result.returncode == 0 and not side.exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((), "name at least one media column"),  # nothing to check
        (("--images", "foto"), "column 'foto' named in --images is not in the table"),
    ],
)
def test_media_check_when_bad_usage_then_one_line_exit_2(table: Path, args, message):
    result = _run("media", "check", str(table), *args, cwd=table.parent)
    assert result.returncode == 2 and message in result.stderr
    assert "Traceback" not in result.stderr


def test_media_check_when_project_file_then_takes_its_columns(table: Path):
    config = {"name": "m", "data": {"source": "data.csv", "target": "y", "images": ["photo"]}}
    (table.parent / "datawheel.yaml").write_text(yaml.safe_dump(config))
    result = _run("media", "check", str(table), cwd=table.parent)
    assert result.returncode == 0 and "photo (image)" in result.stdout
    assert "voice" not in result.stdout


def test_anonymize_when_images_then_output_stripped_base64_and_rejects_listed(table: Path):
    generate_key_file(table.parent / KEY_FILE)
    config = {"name": "m", "data": {"source": "data.csv", "target": "y",
                                    "images": ["photo"], "audio": ["voice"]}}  # fmt: skip
    (table.parent / "datawheel.yaml").write_text(yaml.safe_dump(config))
    result = _run("anonymize", str(table), "-o", "out.csv", cwd=table.parent)
    assert result.returncode == 0, result.stderr
    assert "photo (image): 2 ok" in result.stdout
    out = read_table(table.parent / "out.csv")
    stored = media_bytes(out["photo"][0], None)
    assert OWNER.encode() not in stored and load_image(stored).size == (48, 32)
    assert out["photo"][1] is None  # truncated: the row stays, without its photo
    assert (table.parent / "out.csv.media-rejects.csv").is_file()


def test_dedup_when_images_then_rows_with_copies_removed_and_clusters(tmp_path: Path):
    (tmp_path / "a.png").write_bytes(encode(picture(1), "PNG"))
    (tmp_path / "b.jpg").write_bytes(encode(picture(1), "JPEG", metadata=True))  # same photo
    (tmp_path / "c.png").write_bytes(encode(picture(2), "PNG"))
    frame = pl.DataFrame({"photo": ["a.png", "c.png", "b.jpg", "broken.png"], "n": [0, 1, 2, 3]})
    write_table(frame, tmp_path / "in.jsonl")
    result = _run("dedup", "in.jsonl", "-o", "out.jsonl", "--images", "photo",
                  "--clusters", "c.jsonl", cwd=tmp_path)  # fmt: skip
    assert result.returncode == 0, result.stderr
    out = read_table(tmp_path / "out.jsonl")
    assert out["photo"].to_list() == ["a.png", "c.png", "broken.png"]  # values as they were
    lines = [json.loads(x) for x in (tmp_path / "c.jsonl").read_text().splitlines()]
    assert [x["cluster"] for x in lines] == [0, 1, 0, 3]
    assert "near_duplicate_image 1" in result.stdout and "missing 1" in result.stdout
    exact = _run("dedup", "in.jsonl", "-o", "o2.jsonl", "--images", "photo", "--exact-only",
                 cwd=tmp_path)  # fmt: skip
    assert exact.returncode == 0
    assert read_table(tmp_path / "o2.jsonl").height == 4  # JPEG pixels differ from the PNG's


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((), "name the column to compare"),
        (("--images", "photo", "--text-field", "n"), "not both in one run"),
        (("--images", "photo", "--max-distance", "40"), "--max-distance must be between"),
    ],
)
def test_dedup_when_columns_misnamed_then_one_line_exit_2(tmp_path: Path, args, message):
    write_table(pl.DataFrame({"photo": ["a.png"], "n": ["x"]}), tmp_path / "in.csv")
    result = _run("dedup", "in.csv", "-o", "out.csv", *args, cwd=tmp_path)
    assert result.returncode == 2 and message in result.stderr


def test_pii_scan_when_images_then_faces_and_metadata_per_row(tmp_path: Path):
    skimage_data = pytest.importorskip("skimage.data", reason="the bench-media extra")
    from PIL import Image

    face = Image.fromarray(skimage_data.astronaut())
    (tmp_path / "face.png").write_bytes(encode(face, "PNG"))
    (tmp_path / "gps.jpg").write_bytes(encode(picture(1), "JPEG", metadata=True))
    frame = pl.DataFrame(
        {"photo": ["face.png", "gps.jpg", None, "gone.png"],
         "note": ["mail ada@example.com", "", "", ""]}
    )  # fmt: skip
    write_table(frame, tmp_path / "in.csv")
    result = _run("pii", "scan", "in.csv", "-o", "out.jsonl", "--images", "photo",
                  cwd=tmp_path)  # fmt: skip
    assert result.returncode == 0, result.stderr
    lines = [json.loads(x) for x in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert [s["type"] for s in lines[0]["spans"]] == ["EMAIL"]  # the text column still scanned
    assert [m["type"] for m in lines[0]["media"]] == ["FACE"]
    found = {(m["type"], m["field"]) for m in lines[1]["media"]}
    assert {("GPS_LOCATION", "GPSInfo"), ("DEVICE_SERIAL", "BodySerialNumber")} <= found
    assert not any(OWNER in json.dumps(m) for m in lines[1]["media"])  # fields, never values
    assert lines[2]["media"] == [] and lines[3]["media"] == [
        {"column": "photo", "error": "missing"}
    ]
