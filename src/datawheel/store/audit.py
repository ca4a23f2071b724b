"""The append-only audit log: an HMAC chain under a key derived from the secret key, its head
anchored in a signed file outside the database.

Each entry's ``hash`` is HMAC-SHA256(audit key, previous hash ‖ seq ‖ ts ‖ actor ‖ action ‖
target ‖ details). Without the secret key nobody can edit an entry and recompute the chain, or
append one. The database's own head row (``meta.audit_head``) catches a truncation only by
someone who forgets it; the head file (``audit-head.json`` in the workspace, written after each
commit, MAC'ed) catches the rest: deleting the tail or everything leaves the file naming an entry
the log no longer holds. With an object store configured, every head is also anchored there
(`audit_anchor`), write-once, so restoring an older head file beside a truncated log is caught
too. What it cannot catch is in docs/security.md.

Workspaces written before the key (a plain SHA-256 chain, no ``meta.audit_scheme``) are
re-chained under the key by the first append after the upgrade, inside that append's
transaction, once the old chain has verified; an ``audit.upgrade`` entry records it.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, event, insert, select, update

from datawheel.atomic import atomic_write
from datawheel.errors import DatawheelError, IntegrityError
from datawheel.store.audit_anchor import BucketAnchor, head_mac
from datawheel.store.db import audit, meta, now_iso, reading

try:  # POSIX: appends from several processes take turns on the head file
    import fcntl
except ImportError:  # pragma: no cover - Windows: one writer at a time is assumed
    fcntl = None  # type: ignore[assignment]

__all__ = [
    "HEAD_FILE",
    "SCHEME",
    "AuditEntry",
    "ChainReport",
    "HeadFile",
    "anchor_engine",
    "append",
    "entries",
    "rechain",
    "verify",
]

log = logging.getLogger(__name__)

GENESIS = "0" * 64
SCHEME = "hmac-sha256/v1"
LEGACY = "sha256"
HEAD_FILE = "audit-head.json"
_HEAD = "audit_head"
_SCHEME = "audit_scheme"
_PENDING = "datawheel.audit.pending"  # set by append, in the connection's info
_COMMITTING = "datawheel.audit.committing"  # moved there when the transaction commits


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
    problem: str | None = None  # the first break found, e.g. "entry 7 was edited"
    seq: int | None = None
    scheme: str = SCHEME  # LEGACY: an unkeyed chain not yet upgraded
    anchored: bool = False  # a head file was found and checked
    remote: str | None = None  # the object-store anchor checked (its location), if any


def _canonical(details: dict[str, Any]) -> str:
    return json.dumps(
        details, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str
    )


def _link(
    key: bytes | None,
    prev: str,
    seq: int,
    ts: str,
    actor: str,
    action: str,
    target: str,
    details: str,
) -> str:
    body = "\x1f".join([prev, str(seq), ts, actor, action, target, details]).encode("utf-8")
    if key is None:  # the legacy, unkeyed chain: only ever verified, never written
        return hashlib.sha256(body).hexdigest()
    return hmac.new(key, body, hashlib.sha256).hexdigest()


# -- the head file ------------------------------------------------------------------------------


class HeadFile:
    """``audit-head.json``: the last (seq, hash) this workspace's processes committed, with a MAC
    under the audit key. Only ever moves forward; written atomically with mode 0600."""

    def __init__(self, path: Path):
        self.path = path

    @staticmethod
    def _mac(key: bytes, seq: int, digest: str) -> str:
        return head_mac(key, seq, digest)

    def read(self, key: bytes) -> tuple[int, str] | None:
        """(seq, hash), or None when there is no file; `IntegrityError` when it was forged."""
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            seq, digest, mac = int(data["seq"]), str(data["hash"]), str(data["mac"])
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError):
            raise IntegrityError(
                "the audit head file is unreadable", where=str(self.path)
            ) from None
        if not hmac.compare_digest(mac, self._mac(key, seq, digest)):
            raise IntegrityError(
                "the audit head file's signature does not verify (edited, or another key)",
                where=str(self.path),
            )
        return seq, digest

    def write(self, key: bytes, seq: int, digest: str, *, force: bool = False) -> None:
        """Record (seq, hash) unless the file already names a later entry (``force``: a
        re-chained log, whose hashes all changed)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        lock = self.path.with_name(self.path.name + ".lock")
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            if fcntl is not None:
                fcntl.flock(fd, fcntl.LOCK_EX)
            if not force:
                try:
                    current = self.read(key)
                except IntegrityError:
                    current = None  # a broken file is replaced; verify reports the break first
                if current is not None and current[0] >= seq:
                    return
            body = json.dumps({"seq": seq, "hash": digest, "mac": self._mac(key, seq, digest)})
            atomic_write(self.path, body + "\n", mode=0o600)
        finally:
            os.close(fd)


def anchor_engine(engine: Engine, head: HeadFile, bucket: BucketAnchor | None = None) -> None:
    """Write the head file (and the bucket's anchor) after every transaction that appended and
    committed.

    ``append`` leaves (key, seq, hash) in the connection's info; the commit event moves it
    aside, a rollback or a failed commit drops it, and the pool's check-in (after the commit
    returned) writes it. A head file ahead of the database would be a false alarm.
    """

    @event.listens_for(engine, "commit")
    def _on_commit(conn: Connection) -> None:
        pending = conn.info.pop(_PENDING, None)
        if pending is not None:
            conn.info[_COMMITTING] = pending

    @event.listens_for(engine, "rollback")
    def _on_rollback(conn: Connection) -> None:
        conn.info.pop(_PENDING, None)
        conn.info.pop(_COMMITTING, None)

    @event.listens_for(engine, "handle_error")
    def _on_error(context: Any) -> None:
        conn = context.connection
        if conn is not None and not conn.closed:
            conn.info.pop(_PENDING, None)
            conn.info.pop(_COMMITTING, None)

    @event.listens_for(engine.pool, "checkin")
    def _on_checkin(_dbapi: Any, record: Any) -> None:
        if record is None:
            return
        record.info.pop(_PENDING, None)
        done = record.info.pop(_COMMITTING, None)
        if done is not None:
            key, seq, digest, force = done
            try:
                head.write(key, seq, digest, force=force)
            except OSError:  # the change is committed; verify will report the stale head
                log.exception("could not write the audit head file %s", head.path)
            if bucket is not None:
                try:
                    bucket.write(key, seq, digest)
                except DatawheelError:  # committed; the next verify anchors the head again
                    log.exception("could not anchor the audit head in %s", bucket.location)


# -- appending ----------------------------------------------------------------------------------


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


def _scheme(conn: Connection) -> str | None:
    return conn.execute(select(meta.c.value).where(meta.c.key == _SCHEME)).scalar()


def _insert(conn: Connection, key: bytes, prev: tuple[int, str], entry: dict[str, str]) -> str:
    seq = prev[0] + 1
    digest = _link(key, prev[1], seq, entry["ts"], entry["actor"], entry["action"],
                   entry["target"], entry["details"])  # fmt: skip
    conn.execute(insert(audit).values(seq=seq, prev_hash=prev[1], hash=digest, **entry))
    return digest


def append(
    conn: Connection,
    *,
    key: bytes,
    actor: str,
    action: str,
    target: str,
    details: dict[str, Any] | None = None,
) -> int:
    """Add one entry inside the caller's transaction: the change and its record commit together.

    ``key`` is the audit key (``SecretKey.audit_key``). A legacy chain is upgraded first."""
    last = _lock_head(conn)
    scheme = _scheme(conn)
    force = False
    if scheme is None:
        if last[0] == 0:
            conn.execute(insert(meta).values(key=_SCHEME, value=SCHEME))
        else:
            last, force = _upgrade(conn, key, actor), True
    elif scheme != SCHEME:
        raise IntegrityError(
            f"unknown audit scheme {scheme!r}", hint="this workspace needs a newer datawheel"
        )
    entry = {"ts": now_iso(), "actor": actor[:80], "action": action, "target": target[:200],
             "details": _canonical(details or {})}  # fmt: skip
    digest = _insert(conn, key, last, entry)
    seq = last[0] + 1
    conn.execute(update(meta).where(meta.c.key == _HEAD).values(value=f"{seq}:{digest}"))
    previous = conn.info.get(_PENDING)
    conn.info[_PENDING] = (key, seq, digest, force or bool(previous and previous[3]))
    return seq


def _rows(conn: Connection) -> list[Any]:
    return list(conn.execute(select(audit).order_by(audit.c.seq)).all())


def _check_links(rows: list[Any], key: bytes | None) -> tuple[str | None, int | None, str]:
    """(problem, seq, last hash) of a chain under ``key`` (None: the legacy SHA-256 chain)."""
    prev = GENESIS
    for expected, row in enumerate(rows, start=1):
        if row.seq != expected:
            return f"entry {expected} is missing", expected, prev
        if row.prev_hash != prev:
            return f"entry {row.seq} does not link to its predecessor", row.seq, prev
        digest = _link(key, prev, row.seq, row.ts, row.actor, row.action, row.target, row.details)
        if not hmac.compare_digest(digest, row.hash):
            return f"entry {row.seq} was edited or forged", row.seq, prev
        prev = digest
    return None, None, prev


def _rewrite(conn: Connection, rows: list[Any], key: bytes) -> tuple[int, str]:
    """Recompute every link under ``key`` (rows already verified); returns the new head."""
    prev = GENESIS
    for row in rows:
        digest = _link(key, prev, row.seq, row.ts, row.actor, row.action, row.target, row.details)
        conn.execute(
            update(audit).where(audit.c.seq == row.seq).values(prev_hash=prev, hash=digest)
        )
        prev = digest
    head = (len(rows), prev)
    conn.execute(update(meta).where(meta.c.key == _HEAD).values(value=f"{head[0]}:{head[1]}"))
    return head


def _upgrade(conn: Connection, key: bytes, actor: str) -> tuple[int, str]:
    """Re-chain a verified legacy log under ``key`` and record that it happened."""
    rows = _rows(conn)
    problem, seq, legacy_head = _check_links(rows, None)
    if problem is not None:
        raise IntegrityError(
            f"the unkeyed audit log is broken ({problem}); it cannot be upgraded",
            where=f"audit entry {seq}",
            hint="investigate with `datawheel audit verify` before changing anything",
        )
    head = _rewrite(conn, rows, key)
    conn.execute(insert(meta).values(key=_SCHEME, value=SCHEME))
    details = _canonical({"entries": len(rows), "legacy_head": legacy_head, "scheme": SCHEME})
    entry = {"ts": now_iso(), "actor": actor[:80], "action": "audit.upgrade",
             "target": "audit", "details": details}  # fmt: skip
    digest = _insert(conn, key, head, entry)
    return head[0] + 1, digest


def rechain(conn: Connection, old: bytes, new: bytes) -> int:
    """Verify the chain under ``old`` (or as legacy) and recompute it under ``new``, inside the
    caller's transaction (a secret-key rotation). Refuses a broken chain."""
    _lock_head(conn)
    rows = _rows(conn)
    legacy = _scheme(conn) is None and bool(rows)
    problem, seq, _ = _check_links(rows, None if legacy else old)
    if problem is not None:
        raise IntegrityError(
            f"the audit log does not verify ({problem}); it cannot be re-keyed",
            where=f"audit entry {seq}",
            hint="investigate with `datawheel audit verify` before rotating the key",
        )
    head = _rewrite(conn, rows, new)
    if legacy or _scheme(conn) is None:
        conn.execute(insert(meta).values(key=_SCHEME, value=SCHEME))
    conn.info[_PENDING] = (new, head[0], head[1], True)
    return len(rows)


# -- reading and verifying ----------------------------------------------------------------------


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


def verify(
    engine: Engine,
    *,
    key: bytes,
    head: HeadFile | None = None,
    bucket: BucketAnchor | None = None,
) -> ChainReport:
    """Recompute the chain under ``key`` and check it against the database's head row, the
    head file and the object store's anchors: an edited, forged, inserted, reordered or deleted
    entry breaks it, and so does a log rolled back behind the object store's record."""
    with reading(engine) as conn:
        rows = _rows(conn)
        head_row = conn.execute(select(meta.c.value).where(meta.c.key == _HEAD)).scalar()
        scheme = _scheme(conn)
    n = len(rows)
    legacy = scheme is None and n > 0
    try:
        anchored = head.read(key) if head is not None else None
    except IntegrityError as exc:
        return ChainReport(False, n, exc.message, None, anchored=True)
    kind = LEGACY if legacy else SCHEME

    remote = bucket.location if bucket is not None else None

    def broken(problem: str, seq: int | None) -> ChainReport:
        return ChainReport(False, n, problem, seq, kind, anchored is not None, remote)

    if legacy and anchored is not None:
        return broken("the log was replaced by an unkeyed one after it had been keyed", 1)
    problem, seq, last = _check_links(rows, None if legacy else key)
    if problem is not None:
        return broken(problem, seq)
    head_seq, head_hash = (0, GENESIS) if head_row is None else head_row.split(":", 1)
    if int(head_seq) != n or head_hash != last:
        return broken(f"the log ends at entry {n} but {head_seq} were written", n + 1)
    if anchored is not None:
        a_seq, a_hash = anchored
        if a_seq > n:
            return broken(
                f"the head file records {a_seq} entries but the log holds {n}: entries were "
                "deleted",
                n + 1,
            )
        if a_seq and not hmac.compare_digest(rows[a_seq - 1].hash, a_hash):
            return broken(f"entry {a_seq} is not the one the head file anchors", a_seq)
    if bucket is not None and not legacy:
        problem = bucket.check(key, n, {r.seq: r.hash for r in rows[-1:]})
        if problem is not None:
            return broken(problem, n + 1 if "deleted" in problem else n)
    return ChainReport(True, n, scheme=kind, anchored=anchored is not None, remote=remote)
