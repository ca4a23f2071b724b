"""API-key records that only the holder of the secret key can mint.

A key ``dw_<id>_<secret>`` is stored as ``key_hash`` = SHA-256 of the key and ``key_mac`` =
HMAC-SHA256(credential key, id ‖ tenant id ‖ role ‖ expiry ‖ key_hash), the credential key being
derived from the secret key. Someone who can write the database but lacks the secret key can
neither insert a working key nor raise a key's role, move it to another tenant or extend its
expiry: the MAC no longer matches. (Undoing a revocation is another matter: docs/security.md.)

Keys minted before MACs existed are signed once, by the first call with the secret key
(``sign_legacy``), which records the ids it signed in the audit log; it refuses to run twice,
so a row slipped in later with no MAC stays refused.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import Connection, select, update

from datawheel.store.db import api_keys, audit

__all__ = ["key_digest", "key_mac", "remac", "sign_legacy", "valid_mac"]

UPGRADE_ACTION = "keys.sign_legacy"


def key_digest(presented: str) -> str:
    """SHA-256 hex of the full key as presented."""
    return hashlib.sha256(presented.encode()).hexdigest()


def key_mac(
    credential_key: bytes,
    *,
    key_id: str,
    tenant_id: str,
    role: str,
    expires_at: str | None,
    digest: str,
) -> str:
    body = "\x1f".join([key_id, tenant_id, role, expires_at or "", digest])
    return hmac.new(credential_key, body.encode(), hashlib.sha256).hexdigest()


def valid_mac(credential_key: bytes, row: Any) -> bool:
    """Whether a row's MAC matches its fields (a row with no MAC never does)."""
    if not row.key_mac:
        return False
    expected = key_mac(
        credential_key,
        key_id=row.id,
        tenant_id=row.tenant_id,
        role=row.role,
        expires_at=row.expires_at,
        digest=row.key_hash,
    )
    return hmac.compare_digest(expected, row.key_mac)


def _sign(conn: Connection, credential_key: bytes, rows: Sequence[Any]) -> None:
    for row in rows:
        mac = key_mac(credential_key, key_id=row.id, tenant_id=row.tenant_id, role=row.role,
                      expires_at=row.expires_at, digest=row.key_hash)  # fmt: skip
        conn.execute(update(api_keys).where(api_keys.c.id == row.id).values(key_mac=mac))


def sign_legacy(
    conn: Connection,
    credential_key: bytes,
    record: Callable[[Connection, str, str, dict[str, Any]], int],
) -> list[str]:
    """MAC the keys that predate MACs, once per workspace; returns the ids signed.

    ``record`` is ``Workspace.record``. A second run (a row with no MAC appearing after the
    first) signs nothing: such a row was not minted by datawheel."""
    unsigned = conn.execute(select(api_keys).where(api_keys.c.key_mac.is_(None))).all()
    if not unsigned:
        return []
    done = conn.execute(select(audit.c.seq).where(audit.c.action == UPGRADE_ACTION).limit(1))
    if done.first() is not None:
        return []
    _sign(conn, credential_key, unsigned)
    ids = sorted(r.id for r in unsigned)
    record(conn, UPGRADE_ACTION, "api_keys", {"keys": ids})
    return ids


def remac(conn: Connection, old_key: bytes, new_key: bytes) -> int:
    """Re-sign every key whose MAC verifies under ``old_key`` with ``new_key`` (a secret-key
    rotation); rows that do not verify are left unsigned, so they stay refused."""
    rows = conn.execute(select(api_keys)).all()
    good = [r for r in rows if valid_mac(old_key, r)]
    _sign(conn, new_key, good)
    bad = [r.id for r in rows if r not in good]
    if bad:
        conn.execute(update(api_keys).where(api_keys.c.id.in_(bad)).values(key_mac=None))
    return len(good)
