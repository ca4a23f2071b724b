"""Erasure with image and audio columns: the subject's photos and clips leave every dataset and
every artifact (checked decrypted, cell by cell), and access exports them as base64."""

from __future__ import annotations

import base64
from pathlib import Path

import polars as pl
import pytest

from datawheel.data.media.normalize import normalize_clip, normalize_image
from datawheel.errors import DataError
from datawheel.io import frame_from_parquet_bytes
from datawheel.privacy.erasure import erase_subject, export_subject
from datawheel.project.pipeline import Project
from datawheel.store.workspace import Workspace
from project.media_project import build

SUBJECT = "P3"


def _stored_cells(ws: Workspace) -> tuple[set[bytes], list[bytes]]:
    """Every binary cell of every artifact that still decrypts, and every decrypted artifact."""
    cells: set[bytes] = set()
    blobs = []
    for name in ws.artifacts.names():
        data = ws.artifacts.get(name)  # a shredded one comes back as ciphertext
        blobs.append(data)
        try:
            frame = frame_from_parquet_bytes(data)
        except DataError:
            continue  # not a table (model weights, an audit head …)
        for column, dtype in frame.schema.items():
            if dtype == pl.Binary:
                cells.update(frame[column].drop_nulls().to_list())
    return cells, blobs


def test_erase_when_subject_has_photo_and_clip_then_no_store_holds_them(tmp_path: Path):
    project = Project.load(build(tmp_path / "p"))
    photo = normalize_image((project.dir / "photos/p3.jpg").read_bytes())[0].data
    voice = normalize_clip((project.dir / "voice/v3.wav").read_bytes())[0].data
    with project.open_workspace() as ws:
        project.prepare(ws)
        cells, _ = _stored_cells(ws)
        assert photo in cells and voice in cells  # stored raw, clean, anonymized, one split

        exported = export_subject(ws, SUBJECT, id_column="person")
        rows = [r for d in exported["datasets"] for r in d["rows"]]
        assert rows and base64.b64decode(rows[0]["photo"]) == photo

        receipt = erase_subject(ws, SUBJECT, id_column="person")
        assert len(receipt.rows_removed) == 4  # raw, clean, anonymized and its split part
        cells, blobs = _stored_cells(ws)
    assert photo not in cells and voice not in cells
    assert not any(photo in blob or voice in blob for blob in blobs)
    others = normalize_image((project.dir / "photos/p4.jpg").read_bytes())[0].data
    assert others in cells  # the other subjects' photos stay


@pytest.mark.parametrize("column", ["photo", "voice"])
def test_export_subject_when_media_then_base64_json(tmp_path: Path, column: str):
    project = Project.load(build(tmp_path / "p"))
    with project.open_workspace() as ws:
        project.prepare(ws)
        exported = export_subject(ws, "P4", id_column="person")
    values = [r[column] for d in exported["datasets"] for r in d["rows"]]
    assert values and all(isinstance(v, str) and base64.b64decode(v) for v in values)
