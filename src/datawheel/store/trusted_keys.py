"""The workspace's signing keys: sign with today's, trust every one it ever signed with.

The signing key is derived from the secret key, so ``secret rotate`` replaces it. Its public
half is remembered here the first time it signs, which keeps releases and licenses signed
before a rotation verifiable afterwards.
"""

from __future__ import annotations

import base64
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import Connection, insert, select

from datawheel.signing import key_id, sign_document
from datawheel.store.db import now_iso, reading, signing_keys
from datawheel.store.workspace import Workspace

__all__ = ["current_public_key", "sign", "trusted_keys"]


def current_public_key(ws: Workspace) -> Ed25519PublicKey:
    return ws.secret_key().signing_key.public_key()


def sign(ws: Workspace, conn: Connection, body: dict[str, Any]) -> dict[str, Any]:
    """Sign ``body`` with the workspace's current key, remembering that key (in ``conn``).

    Call ``ws.secret_key()`` before opening ``conn``: its first call checks the key in a
    transaction of its own, which SQLite would make wait on ``conn``'s write lock.
    """
    document = sign_document(body, ws.secret_key().signing_key)
    sig = document["signature"]
    known = conn.execute(
        select(signing_keys.c.key_id).where(signing_keys.c.key_id == sig["key_id"])
    ).first()
    if known is None:
        conn.execute(
            insert(signing_keys).values(
                key_id=sig["key_id"], public_key=sig["public_key"], first_used_at=now_iso()
            )
        )
    return document


def trusted_keys(ws: Workspace) -> dict[str, Ed25519PublicKey]:
    """Every key this workspace signed with (and today's), by key id."""
    with reading(ws.engine) as conn:
        rows = conn.execute(select(signing_keys.c.public_key)).scalars().all()
    keys = [Ed25519PublicKey.from_public_bytes(base64.b64decode(r)) for r in rows]
    keys.append(current_public_key(ws))
    return {key_id(k): k for k in keys}
