"""Datasets: stored encrypted when asked, fingerprinted, with subjects recorded for lineage."""

from __future__ import annotations

import polars as pl
import sqlalchemy as sa

from datawheel.store.datasets import get_dataset, list_datasets, load_frame, save_dataset
from datawheel.store.db import lineage
from datawheel.store.workspace import Workspace


def test_save_dataset_when_encrypted_then_round_trips_and_records_lineage(workspace: Workspace):
    frame = pl.DataFrame({"person": ["P1", "P2"], "email": ["a@x.io", "b@y.io"], "y": [0, 1]})
    record = save_dataset(
        workspace,
        frame,
        name="raw",
        kind="raw",
        encrypted=True,
        subjects=["SUBJECT_a", "SUBJECT_b", "SUBJECT_a"],
    )
    assert load_frame(workspace, record.id).equals(frame)
    assert b"a@x.io" not in workspace.artifacts.path(record.artifact).read_bytes()
    assert get_dataset(workspace, record.id).rows == 2
    with workspace.engine.connect() as conn:
        subjects = (
            conn.execute(sa.select(lineage.c.subject).where(lineage.c.dataset_id == record.id))
            .scalars()
            .all()
        )
    assert sorted(subjects) == ["SUBJECT_a", "SUBJECT_b"]
    assert [d.id for d in list_datasets(workspace, kind="raw")] == [record.id]


def test_save_dataset_when_same_frame_then_same_fingerprint(workspace: Workspace):
    frame = pl.DataFrame({"a": [1, 2, 3]})
    first = save_dataset(workspace, frame, name="a", kind="clean", encrypted=True)
    second = save_dataset(workspace, frame.clone(), name="b", kind="clean", encrypted=True)
    assert first.fingerprint == second.fingerprint
    assert first.artifact != second.artifact  # fresh data key and nonce each time
