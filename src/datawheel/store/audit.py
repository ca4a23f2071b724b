"""The append-only, hash-chained audit log and its verification."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, insert, select, update

from datawheel.store.db import audit, meta, now_iso, reading

__all__ = ["AuditEntry", "ChainReport", "append", "entries", "verify"]

GENESIS = "0" * 64
_HEAD = "audit_head"


@dataclass(frozen=True)
class AuditEntry:
    seq: int
    ts: str
    actor: str
    action: str
    target: str
    details: dict[str, Any]


@dataclass(frozen=True)
class ChainReport:
    ok: bool
    entries: int
    problem: str | None = None  # the first break found, e.g. "row 7 was edited"
    seq: int | None = None


def _canonical(details: dict[str, Any]) -> str:
    return json.dumps(
        details, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str
    )


def _link(prev: str, seq: int, ts: str, actor: str, action: str, target: str, details: str) -> str:
    body = "\x1f".join([prev, str(seq), ts, actor, action, target, details])
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


def _lock_head(conn: Connection) -> tuple[int, str]:
    """The last (seq, hash), locked for this transaction so appends from many processes queue."""
    stmt = select(meta.c.value).where(meta.c.key == _HEAD)
    if conn.dialect.name != "sqlite":  # SQLite's BEGIN IMMEDIATE already serializes writers
        stmt = stmt.with_for_update()
    value = conn.execute(stmt).scalar()
    if value is None:  # a database created before the head row was seeded
        conn.execute(insert(meta).values(key=_HEAD, value=f"0:{GENESIS}"))
        return 0, GENESIS
    seq, digest = value.split(":", 1)
    return int(seq), digest


def append(
    conn: Connection, *, actor: str, action: str, target: str, details: dict[str, Any] | None = None
) -> int:
    """Add one entry inside the caller's transaction: the change and its record commit together."""
    last_seq, last_hash = _lock_head(conn)
    seq, ts, body = last_seq + 1, now_iso(), _canonical(details or {})
    digest = _link(last_hash, seq, ts, actor, action, target, body)
    conn.execute(
        insert(audit).values(
            seq=seq,
            ts=ts,
            actor=actor,
            action=action,
            target=target,
            details=body,
            prev_hash=last_hash,
            hash=digest,
        )
    )
    conn.execute(update(meta).where(meta.c.key == _HEAD).values(value=f"{seq}:{digest}"))
    return seq


def entries(
    engine: Engine, *, action: str | None = None, limit: int | None = None
) -> list[AuditEntry]:
    """Entries in order (optionally one action), newest last."""
    stmt = select(audit).order_by(audit.c.seq)
    if action:
        stmt = stmt.where(audit.c.action == action)
    with reading(engine) as conn:
        rows = conn.execute(stmt).all()
    if limit is not None:
        rows = rows[-limit:]
    return [
        AuditEntry(r.seq, r.ts, r.actor, r.action, r.target, json.loads(r.details)) for r in rows
    ]


def verify(engine: Engine) -> ChainReport:
    """Recompute the chain; an edited, inserted, reordered or deleted row breaks it."""
    with reading(engine) as conn:
        rows = conn.execute(select(audit).order_by(audit.c.seq)).all()
        head = conn.execute(select(meta.c.value).where(meta.c.key == _HEAD)).scalar()
    prev = GENESIS
    for expected_seq, row in enumerate(rows, start=1):
        if row.seq != expected_seq:
            return ChainReport(False, len(rows), f"entry {expected_seq} is missing", expected_seq)
        if row.prev_hash != prev:
            return ChainReport(
                False, len(rows), f"entry {row.seq} does not link to its predecessor", row.seq
            )
        digest = _link(prev, row.seq, row.ts, row.actor, row.action, row.target, row.details)
        if digest != row.hash:
            return ChainReport(False, len(rows), f"entry {row.seq} was edited", row.seq)
        prev = digest
    head_seq, head_hash = (0, GENESIS) if head is None else head.split(":", 1)
    if int(head_seq) != len(rows) or head_hash != prev:
        return ChainReport(
            False,
            len(rows),
            f"the log ends at entry {len(rows)} but {head_seq} were written",
            len(rows) + 1,
        )
    return ChainReport(True, len(rows))
