"""Content-addressed artifact files: atomic writes, sha256 names, optional encryption at rest."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Collection
from pathlib import Path

from sqlalchemy import Connection, Engine, delete, insert, select, update

from datawheel.atomic import atomic_write
from datawheel.errors import IntegrityError, NotFoundError
from datawheel.secret import SecretKey
from datawheel.store import crypto
from datawheel.store.db import artifact_keys, reading

__all__ = ["ArtifactStore", "rewrap_keys"]


class ArtifactStore:
    """Files named by the sha256 of their stored bytes under ``root/ab/abcdef…``.

    Encrypted artifacts hold ``nonce ‖ AES-GCM ciphertext``; their data key, wrapped by the
    key-encryption key, lives in the database, so a key rotation re-wraps rows, not files.
    """

    def __init__(self, root: Path, engine: Engine, key: Callable[[], SecretKey]):
        self.root = root
        self._engine = engine
        self._key = key  # called lazily: unencrypted reads need no secret key

    def path(self, digest: str) -> Path:
        return self.root / digest[:2] / digest

    def put(self, data: bytes, *, encrypt: bool = False) -> str:
        """Store bytes; returns their digest (the name to keep in the database)."""
        if encrypt:
            key = self._key()
            data_key = crypto.new_data_key()
            stored = crypto.encrypt(data_key, data, context=b"datawheel/artifact")
            digest = hashlib.sha256(stored).hexdigest()
            wrapped = crypto.wrap_key(key.key_encryption_key, data_key)
            atomic_write(self.path(digest), stored)
            with self._engine.begin() as conn:
                conn.execute(
                    insert(artifact_keys).values(
                        digest=digest, wrapped_key=wrapped, key_fingerprint=key.fingerprint
                    )
                )
            return digest
        digest = hashlib.sha256(data).hexdigest()
        if not self.path(digest).exists():
            atomic_write(self.path(digest), data)
        return digest

    def get(self, digest: str) -> bytes:
        """Read, verify the hash, and decrypt when the artifact is encrypted."""
        target = self.path(digest)
        if not target.is_file():
            raise NotFoundError(f"artifact {digest[:12]} is missing from {self.root}")
        stored = target.read_bytes()
        if hashlib.sha256(stored).hexdigest() != digest:
            raise IntegrityError(
                f"artifact {digest[:12]} does not match its hash", where=str(target)
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
        """Remove the file and its wrapped key (crypto-shredding, then unlinking)."""
        with self._engine.begin() as conn:
            conn.execute(delete(artifact_keys).where(artifact_keys.c.digest == digest))
        self.path(digest).unlink(missing_ok=True)


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
