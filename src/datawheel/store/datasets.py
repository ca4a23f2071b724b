"""Datasets: immutable Parquet tables in the artifact store, with schema, stats and lineage."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import insert, select

from datawheel.errors import NotFoundError
from datawheel.store.db import datasets, lineage, now_iso, reading
from datawheel.store.workspace import Workspace

if TYPE_CHECKING:
    import polars as pl

__all__ = ["DatasetRecord", "get_dataset", "list_datasets", "load_frame", "save_dataset"]


@dataclass(frozen=True)
class DatasetRecord:
    id: str
    name: str
    kind: str
    parent_id: str | None
    artifact: str | None
    encrypted: bool
    rows: int
    schema: dict[str, Any]
    stats: dict[str, Any]
    fingerprint: str
    run_id: str | None
    created_at: str


def save_dataset(
    ws: Workspace,
    frame: pl.DataFrame,
    *,
    name: str,
    kind: str,
    encrypted: bool,
    schema: dict[str, Any] | None = None,
    stats: dict[str, Any] | None = None,
    parent_id: str | None = None,
    run_id: str | None = None,
    subjects: Iterable[str] = (),
) -> DatasetRecord:
    """Store ``frame`` (encrypted when it may hold PII) and record it with its subjects."""
    from datawheel.io import frame_to_parquet_bytes  # polars: only where a frame is

    data = frame_to_parquet_bytes(frame)
    digest = ws.artifacts.put(data, encrypt=encrypted)
    record = DatasetRecord(
        id=f"ds_{uuid.uuid4().hex[:12]}",
        name=name,
        kind=kind,
        parent_id=parent_id,
        artifact=digest,
        encrypted=encrypted,
        rows=frame.height,
        schema=schema or {c: {"dtype": str(t)} for c, t in frame.schema.items()},
        stats=stats or {},
        fingerprint=hashlib.sha256(data).hexdigest(),
        run_id=run_id,
        created_at=now_iso(),
    )
    unique_subjects = sorted({s for s in subjects if s})
    with ws.engine.begin() as conn:
        conn.execute(insert(datasets).values(**record.__dict__))
        if unique_subjects:
            conn.execute(
                insert(lineage), [{"dataset_id": record.id, "subject": s} for s in unique_subjects]
            )
        ws.record(
            conn,
            "dataset.create",
            record.id,
            {
                "name": name,
                "kind": kind,
                "rows": frame.height,
                "encrypted": encrypted,
                "fingerprint": record.fingerprint,
                "parent": parent_id,
            },
        )
    return record


def _to_record(row: Any) -> DatasetRecord:
    return DatasetRecord(**{k: row._mapping[k] for k in DatasetRecord.__dataclass_fields__})


def get_dataset(ws: Workspace, dataset_id: str) -> DatasetRecord:
    with reading(ws.engine) as conn:
        row = conn.execute(select(datasets).where(datasets.c.id == dataset_id)).first()
    if row is None:
        raise NotFoundError(f"no dataset {dataset_id!r}", hint="`datawheel status` lists them")
    return _to_record(row)


def list_datasets(ws: Workspace, *, kind: str | None = None) -> list[DatasetRecord]:
    stmt = select(datasets).order_by(datasets.c.created_at)
    if kind:
        stmt = stmt.where(datasets.c.kind == kind)
    with reading(ws.engine) as conn:
        return [_to_record(r) for r in conn.execute(stmt).all()]


def load_frame(ws: Workspace, dataset: str | DatasetRecord) -> pl.DataFrame:
    """The stored table (decrypted when needed)."""
    record = get_dataset(ws, dataset) if isinstance(dataset, str) else dataset
    if record.artifact is None:
        raise NotFoundError(f"dataset {record.id} has no stored table (it was erased)")
    from datawheel.io import frame_from_parquet_bytes

    return frame_from_parquet_bytes(ws.artifacts.get(record.artifact))
