"""The pipeline with image and audio columns: ingest checks every file, stores stripped bytes,
lists the bad ones, binds and removes duplicates without leaking across the split."""

from __future__ import annotations

import csv
from pathlib import Path

import polars as pl
import pytest

from datawheel.data.media.decode import AUDIO_RATE, load_audio
from datawheel.data.media.normalize import normalize_image
from datawheel.project.pipeline import Project
from datawheel.store.datasets import load_frame

from .media_project import (
    COPY_OF_0,
    CORRUPT_CLIP,
    LONG_CLIP,
    MISSING,
    NO_PHOTO,
    RESIZED_OF_1,
    ROWS,
    TRUNCATED,
    build,
)


@pytest.fixture(scope="module")
def prepared(tmp_path_factory: pytest.TempPathFactory):
    project = Project.load(build(tmp_path_factory.mktemp("media") / "p"))
    with project.open_workspace() as ws:
        data = project.prepare(ws)
        frames = {kind: load_frame(ws, record) for kind, record in data.records.items()}
        yield project, data, frames


def test_prepare_when_bad_files_then_counted_listed_and_rows_kept(prepared):
    _, data, frames = prepared
    media = data.media
    assert media["photo"]["rejected"] == {"truncated": 1, "missing": 1}
    assert media["voice"]["rejected"] == {"corrupt": 1}
    assert media["photo"]["absent"] == 1 and media["photo"]["checked"] == ROWS - 3
    assert media["voice"]["cut"] == 1
    with open(media["rejects_file"], newline="") as f:
        listed = [(int(r["row"]), r["column"], r["reason"]) for r in csv.DictReader(f)]
    assert listed == [(TRUNCATED, "photo", "truncated"), (MISSING, "photo", "missing"),
                      (CORRUPT_CLIP, "voice", "corrupt")]  # fmt: skip
    assert Path(media["rejects_file"]).stat().st_mode & 0o077 == 0
    raw = frames["raw"]
    assert raw.height == ROWS  # on_error: keep — the rows stay, without the file
    assert raw.schema["photo"] == pl.Binary
    nulls = raw.filter(pl.col("photo").is_null())["person"].to_list()
    assert sorted(nulls) == sorted(f"P{i}" for i in (TRUNCATED, MISSING, NO_PHOTO))


def test_prepare_when_stored_then_no_metadata_and_clips_at_one_rate(prepared):
    _, _, frames = prepared
    for kind, frame in frames.items():
        for value in frame["photo"].drop_nulls():
            assert b"Exif" not in value and b"Ada Lovelace" not in value, kind
    long = frames["raw"].filter(pl.col("person") == f"P{LONG_CLIP}")["voice"][0]
    assert len(load_audio(long)) == 30 * AUDIO_RATE  # clean.media.max_seconds


def test_prepare_when_duplicate_photos_then_same_part_and_one_kept(prepared):
    _, data, frames = prepared
    people = {kind: set(frames[kind]["person"].to_list()) for kind in ("train", "val", "test")}
    # rows 0 and 7 hold the same photo, rows 1 and 8 the same photo resized: each pair went to
    # one part (no copy on both sides of the split) and only the first of it is left there
    for first, copy in ((0, COPY_OF_0), (1, RESIZED_OF_1)):
        token_rows = frames["clean"]["person"].to_list()
        assert f"P{first}" in token_rows and f"P{copy}" not in token_rows
    assert data.cleaning["dropped"]["duplicate_image"] == 1
    assert data.cleaning["dropped"]["near_duplicate_image"] == 1
    assert sum(len(p) for p in people.values()) == ROWS - 2


def test_prepare_when_split_then_stored_images_decode_in_every_part(prepared):
    _, _, frames = prepared
    first = frames["raw"].filter(pl.col("person") == "P0")["photo"][0]
    assert first == normalize_image(Path(prepared[0].dir / "photos/p0.jpg").read_bytes())[0].data
    for kind in ("train", "val", "test"):
        assert frames[kind]["photo"].drop_nulls().len() > 0


def test_prepare_when_on_error_drop_then_rows_with_bad_files_go(tmp_path: Path):
    path = build(tmp_path / "p", clean={"media": {"on_error": "drop"}})
    project = Project.load(path)
    with project.open_workspace() as ws:
        data = project.prepare(ws)
        raw = load_frame(ws, data.records["raw"])
    assert raw.height == ROWS - 3 and data.media["rows_dropped"] == 3
    assert f"P{NO_PHOTO}" in raw["person"].to_list()  # no photo is not a bad photo


def test_prepare_when_faces_blur_then_anonymized_sets_hold_no_face(tmp_path: Path):
    skimage_data = pytest.importorskip("skimage.data", reason="the bench-media extra")
    from PIL import Image

    from data.media.samples import encode
    from datawheel.data.media.decode import load_image
    from datawheel.data.media.faces import detect_faces

    path = build(tmp_path / "p", privacy={"images": {"faces": "blur"}})
    astronaut = Image.fromarray(skimage_data.astronaut())
    (path.parent / "photos/p2.jpg").write_bytes(encode(astronaut, "JPEG", metadata=True))
    project = Project.load(path)
    with project.open_workspace() as ws:
        data = project.prepare(ws)
        frames = {kind: load_frame(ws, record) for kind, record in data.records.items()}

    def faces(kind: str) -> int:
        return sum(len(detect_faces(load_image(v))) for v in frames[kind]["photo"].drop_nulls())

    assert faces("raw") == faces("clean") == 1  # kept as sent, encrypted at rest
    assert faces("anonymized") == 0 and faces("train") + faces("val") + faces("test") == 0
    assert data.anonymized_columns["photo"] == "faces:blur"
