"""Content-addressed artifacts: sha256 names, optional encryption at rest, local or in a bucket."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Collection
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Connection, Engine, delete, insert, select, update

from datawheel.errors import IntegrityError, NotFoundError
from datawheel.secret import SecretKey
from datawheel.store import crypto
from datawheel.store.db import artifact_keys, reading

if TYPE_CHECKING:
    from datawheel.store.blobs import BlobStore

__all__ = ["ArtifactStore", "rewrap_keys"]


class ArtifactStore:
    """Objects named by the sha256 of their stored bytes, in a :mod:`~datawheel.store.blobs`
    backend (files under ``root/ab/abcdef…`` by default, or an S3 bucket).

    Encrypted artifacts hold ``nonce ‖ AES-GCM ciphertext``; their data key, wrapped by the
    key-encryption key, lives in the database, so a key rotation re-wraps rows, not objects, and
    the bucket never sees plaintext.
    """

    def __init__(self, root: Path | BlobStore, engine: Engine, key: Callable[[], SecretKey]):
        if isinstance(root, Path):
            from datawheel.store.blobs import LocalBlobs  # blobs imports this module

            root = LocalBlobs(root)
        self.blobs: BlobStore = root
        self.location = self.blobs.location
        self._engine = engine
        self._key = key  # called lazily: unencrypted reads need no secret key

    def path(self, digest: str) -> Path:
        """The file of ``digest`` when the artifacts are local (tests and tools look at it)."""
        path = getattr(self.blobs, "path", None)
        if path is None:
            raise NotFoundError(f"artifacts live in {self.location}, not in local files")
        return path(digest)

    def names(self) -> list[str]:
        """Every stored object's name, for audits that nothing was left behind."""
        return list(self.blobs.names())

    def seal(self, data: bytes, key: SecretKey) -> tuple[str, bytes, str]:
        """Encrypt under a fresh data key: ``(digest, stored bytes, base64 wrapped data key)``."""
        data_key = crypto.new_data_key()
        stored = crypto.encrypt(data_key, data, context=b"datawheel/artifact")
        wrapped = crypto.wrap_key(key.key_encryption_key, data_key)
        return hashlib.sha256(stored).hexdigest(), stored, wrapped

    def write(self, digest: str, stored: bytes) -> bool:
        """Store already-named bytes unless present (create-if-absent); True when written."""
        return self.blobs.put_new(digest, stored)

    def remove(self, digest: str) -> None:
        """Delete the stored object only (its key row is the caller's business)."""
        self.blobs.delete(digest)

    def put(self, data: bytes, *, encrypt: bool = False) -> str:
        """Store bytes; returns their digest (the name to keep in the database)."""
        if encrypt:
            key = self._key()
            digest, stored, wrapped = self.seal(data, key)
            self.write(digest, stored)
            with self._engine.begin() as conn:
                conn.execute(
                    insert(artifact_keys).values(
                        digest=digest, wrapped_key=wrapped, key_fingerprint=key.fingerprint
                    )
                )
            return digest
        digest = hashlib.sha256(data).hexdigest()
        self.write(digest, data)
        return digest

    def get(self, digest: str) -> bytes:
        """Read, verify the hash, and decrypt when the artifact is encrypted."""
        stored = self.blobs.get(digest)
        if stored is None:
            raise NotFoundError(f"artifact {digest[:12]} is missing from {self.location}")
        if hashlib.sha256(stored).hexdigest() != digest:
            raise IntegrityError(
                f"artifact {digest[:12]} does not match its hash",
                where=f"{self.location}/{digest[:2]}/{digest}",
            )
        with reading(self._engine) as conn:
            wrapped = conn.execute(
                select(artifact_keys.c.wrapped_key).where(artifact_keys.c.digest == digest)
            ).scalar()
        if wrapped is None:
            return stored
        data_key = crypto.unwrap_key(self._key().key_encryption_key, wrapped)
        return crypto.decrypt(data_key, stored, context=b"datawheel/artifact", what="an artifact")

    def is_encrypted(self, digest: str) -> bool:
        with reading(self._engine) as conn:
            return (
                conn.execute(
                    select(artifact_keys.c.digest).where(artifact_keys.c.digest == digest)
                ).first()
                is not None
            )

    def delete(self, digest: str) -> None:
        """Remove the object and its wrapped key (crypto-shredding, then deleting)."""
        with self._engine.begin() as conn:
            conn.execute(delete(artifact_keys).where(artifact_keys.c.digest == digest))
        self.blobs.delete(digest)


def rewrap_keys(
    conn: Connection, old: SecretKey, new: SecretKey, *, skip: Collection[str | None] = ()
) -> int:
    """Re-wrap every artifact's data key under ``new``'s KEK inside ``conn``'s transaction (a
    key rotation: the files stay as they are); ``skip`` names digests to leave alone (e.g.
    artifacts the same rotation is replacing). Returns how many keys were re-wrapped."""
    rows = conn.execute(select(artifact_keys.c.digest, artifact_keys.c.wrapped_key)).all()
    count = 0
    for digest, wrapped in rows:
        if digest in skip:
            continue
        data_key = crypto.unwrap_key(old.key_encryption_key, wrapped)
        conn.execute(
            update(artifact_keys)
            .where(artifact_keys.c.digest == digest)
            .values(
                wrapped_key=crypto.wrap_key(new.key_encryption_key, data_key),
                key_fingerprint=new.fingerprint,
            )
        )
        count += 1
    return count
