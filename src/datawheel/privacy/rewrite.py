"""Rewriting stored datasets in place (same dataset id, new artifact) inside one DB transaction.

Erasure and key rotation both replace a dataset's table: the new artifact is written (and its
data key inserted) within the caller's transaction, the old artifact's wrapped key is deleted in
that same transaction (crypto-shredding: without the key the old object is noise), and the old
object is deleted (from the folder or the bucket) only after the commit. If the transaction
fails, the new objects are removed and the workspace is exactly as before.
"""

from __future__ import annotations

import hashlib

import polars as pl
from sqlalchemy import Connection, delete, insert, select, update

from datawheel.io import frame_to_parquet_bytes
from datawheel.secret import SecretKey
from datawheel.store.datasets import DatasetRecord
from datawheel.store.db import artifact_keys, datasets, model_versions
from datawheel.store.workspace import Workspace

__all__ = ["StoreRewrite"]


class StoreRewrite:
    """Collects the files one transaction creates and retires; see the module docstring."""

    def __init__(self, ws: Workspace, key: SecretKey):
        self.ws = ws
        self.key = key  # the key new artifacts are wrapped with
        self.created: list[str] = []  # digests this rewrite stored
        self.retired: list[str] = []  # old digests, deleted by `finish`

    def put(self, conn: Connection, data: bytes, *, encrypt: bool) -> str:
        """Store bytes as an artifact whose key row belongs to ``conn``'s transaction."""
        if not encrypt:
            digest = hashlib.sha256(data).hexdigest()
            if self.ws.artifacts.write(digest, data):
                self.created.append(digest)
            return digest
        digest, stored, wrapped = self.ws.artifacts.seal(data, self.key)
        self.ws.artifacts.write(digest, stored)
        self.created.append(digest)
        conn.execute(
            insert(artifact_keys).values(
                digest=digest, wrapped_key=wrapped, key_fingerprint=self.key.fingerprint
            )
        )
        return digest

    def replace(self, conn: Connection, record: DatasetRecord, frame: pl.DataFrame) -> str:
        """Store ``frame`` as the new table of ``record`` (same id); returns the new digest."""
        data = frame_to_parquet_bytes(frame)
        digest = self.put(conn, data, encrypt=record.encrypted)
        conn.execute(
            update(datasets)
            .where(datasets.c.id == record.id)
            .values(
                artifact=digest, rows=frame.height, fingerprint=hashlib.sha256(data).hexdigest()
            )
        )
        if record.artifact and record.artifact != digest:
            conn.execute(delete(artifact_keys).where(artifact_keys.c.digest == record.artifact))
            self.retired.append(record.artifact)
        return digest

    def discard(self) -> None:
        """After a failed transaction: remove the files it wrote (their keys were never kept)."""
        for digest in self.created:
            self.ws.artifacts.remove(digest)
        self.created.clear()

    def finish(self) -> None:
        """After the commit: unlink retired files nothing refers to any more (under the write
        lock, so no row can start pointing at a file between the check and the unlink)."""
        with self.ws.engine.begin() as conn:
            for digest in self.retired:
                used = (
                    conn.execute(
                        select(datasets.c.id).where(datasets.c.artifact == digest).limit(1)
                    ).first()
                    or conn.execute(
                        select(model_versions.c.id)
                        .where(model_versions.c.artifact == digest)
                        .limit(1)
                    ).first()
                )
                if used is None:
                    self.ws.artifacts.remove(digest)
        self.retired.clear()
        self.created.clear()
