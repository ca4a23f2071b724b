"""The audit log: an HMAC chain under the secret key, anchored by a signed head file outside the
database. Each tamper test acts as an insider with write access to the database (plain SQL,
no secret key) who covers their tracks as well as they can."""

from __future__ import annotations

import getpass
import hashlib
import json
import secrets
import threading

import pytest
import sqlalchemy as sa

from datawheel.errors import IntegrityError
from datawheel.store import audit
from datawheel.store.db import audit as audit_table
from datawheel.store.db import meta
from datawheel.store.workspace import Workspace


def _append(ws: Workspace, n: int, action: str = "test.event") -> None:
    for i in range(n):
        with ws.engine.begin() as conn:
            ws.record(conn, action, f"item{i}", {"i": i})


def _forge_links(conn: sa.Connection, *, key: bytes | None = None) -> None:
    """Recompute every link as an insider would: SHA-256 (the old scheme) or an HMAC under a
    key of their own; then point the database's head row at the new end."""
    rows = conn.execute(sa.select(audit_table).order_by(audit_table.c.seq)).all()
    prev = audit.GENESIS
    for row in rows:
        digest = audit._link(key, prev, row.seq, row.ts, row.actor, row.action, row.target,
                             row.details)  # fmt: skip
        conn.execute(
            sa.update(audit_table)
            .where(audit_table.c.seq == row.seq)
            .values(prev_hash=prev, hash=digest)
        )
        prev = digest
    conn.execute(
        sa.update(meta).where(meta.c.key == "audit_head").values(value=f"{len(rows)}:{prev}")
    )


def _renumber(conn: sa.Connection) -> None:
    rows = conn.execute(sa.select(audit_table.c.seq).order_by(audit_table.c.seq)).scalars().all()
    for new, old in enumerate(rows, start=1):
        conn.execute(sa.update(audit_table).where(audit_table.c.seq == old).values(seq=-new))
    conn.execute(sa.update(audit_table).values(seq=-audit_table.c.seq))


def _edit_and_recompute(conn: sa.Connection) -> None:
    conn.execute(sa.update(audit_table).where(audit_table.c.seq == 3).values(details='{"i":999}'))
    _forge_links(conn)


def _edit_and_recompute_with_own_key(conn: sa.Connection) -> None:
    conn.execute(sa.update(audit_table).where(audit_table.c.seq == 2).values(actor="os:nobody"))
    _forge_links(conn, key=secrets.token_bytes(32))


def _append_forged_key_create(conn: sa.Connection) -> None:
    last = conn.execute(sa.select(sa.func.max(audit_table.c.seq))).scalar()
    conn.execute(
        sa.insert(audit_table).values(seq=last + 1, ts="2026-01-01T00:00:00+00:00",
                                      actor="os:admin/admin via cli", action="key.create",
                                      target="f00dfeed0001", details='{"role":"admin"}',
                                      prev_hash="", hash="")
    )  # fmt: skip
    _forge_links(conn)


def _delete_everything(conn: sa.Connection) -> None:
    conn.execute(sa.delete(audit_table))
    conn.execute(sa.delete(meta).where(meta.c.key == "audit_scheme"))
    conn.execute(
        sa.update(meta).where(meta.c.key == "audit_head").values(value="0:" + audit.GENESIS)
    )


def _delete_tail(conn: sa.Connection) -> None:
    conn.execute(sa.delete(audit_table).where(audit_table.c.seq > 3))
    last = conn.execute(sa.select(audit_table.c.hash).where(audit_table.c.seq == 3)).scalar()
    conn.execute(sa.update(meta).where(meta.c.key == "audit_head").values(value=f"3:{last}"))


def _insert_in_the_middle(conn: sa.Connection) -> None:
    conn.execute(
        sa.update(audit_table).where(audit_table.c.seq > 2).values(seq=audit_table.c.seq + 100)
    )
    conn.execute(
        sa.insert(audit_table).values(seq=3, ts="2026-01-01T00:00:00+00:00", actor="os:x/admin",
                                      action="tenant.create", target="t_forged", details="{}",
                                      prev_hash="", hash="")
    )  # fmt: skip
    _renumber(conn)
    _forge_links(conn)


def _delete_in_the_middle(conn: sa.Connection) -> None:
    conn.execute(sa.delete(audit_table).where(audit_table.c.seq == 2))
    _renumber(conn)
    _forge_links(conn)


def _downgrade_to_unkeyed(conn: sa.Connection) -> None:
    conn.execute(sa.delete(meta).where(meta.c.key == "audit_scheme"))
    _forge_links(conn)  # SHA-256: what a log written before the key looked like


# (tamper, what verify must say); every one of them passed `audit verify` before the key
TAMPERING = [
    (_edit_and_recompute, "edited or forged"),  # edit a row, recompute the SHA-256 chain
    (_edit_and_recompute_with_own_key, "edited or forged"),  # … or an HMAC under a guessed key
    (_append_forged_key_create, "edited or forged"),  # mint a key and log it as if legitimate
    (_delete_everything, "deleted"),  # empty log, reset head row: the head file remembers
    (_delete_tail, "deleted"),  # the last entries gone, the head row moved back to match
    (_insert_in_the_middle, "edited or forged"),  # a backdated entry, chain recomputed
    (_delete_in_the_middle, "edited or forged"),  # an entry removed, renumbered, recomputed
    (_downgrade_to_unkeyed, "unkeyed"),  # the log swapped for an old-style one
]


def test_verify_when_untouched_then_ok_and_anchored(workspace: Workspace):
    _append(workspace, 5)
    report = workspace.verify_audit()
    assert report.ok and report.entries == 5 and report.anchored
    assert report.scheme == audit.SCHEME


@pytest.mark.parametrize(("tamper", "problem"), TAMPERING, ids=[t.__name__ for t, _ in TAMPERING])
def test_verify_when_insider_rewrites_the_database_then_detected(workspace, tamper, problem):
    _append(workspace, 6)
    assert workspace.verify_audit().ok
    with workspace.engine.begin() as conn:
        tamper(conn)
    report = workspace.verify_audit()
    assert not report.ok
    assert problem in report.problem


def test_verify_when_head_file_edited_then_detected(workspace: Workspace):
    _append(workspace, 3)
    path = workspace.audit_head.path
    data = json.loads(path.read_text())
    path.write_text(json.dumps({**data, "seq": 1}))
    report = workspace.verify_audit()
    assert not report.ok and "signature" in report.problem


def test_head_file_when_written_then_private_and_names_the_last_entry(workspace: Workspace):
    _append(workspace, 4)
    path = workspace.audit_head.path
    assert path.stat().st_mode & 0o777 == 0o600
    seq, digest = workspace.audit_head.read(workspace.secret_key().audit_key)
    last = audit.entries(workspace.engine)[-1]
    assert seq == last.seq == 4
    with workspace.engine.connect() as conn:
        assert (
            digest
            == conn.execute(sa.select(audit_table.c.hash).where(audit_table.c.seq == 4)).scalar()
        )


def test_append_when_change_rolls_back_then_no_entry_and_head_file_unmoved(workspace):
    _append(workspace, 1)
    try:
        with workspace.engine.begin() as conn:
            workspace.record(conn, "test.event", "doomed", {})
            raise RuntimeError("the change failed")
    except RuntimeError:
        pass
    assert [e.target for e in audit.entries(workspace.engine)] == ["item0"]
    assert workspace.audit_head.read(workspace.secret_key().audit_key)[0] == 1
    assert workspace.verify_audit().ok


def test_append_when_many_threads_then_chain_stays_valid(workspace: Workspace):
    threads = [threading.Thread(target=_append, args=(workspace, 10)) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    report = workspace.verify_audit()
    assert report.ok and report.entries == 40
    assert workspace.audit_head.read(workspace.secret_key().audit_key)[0] == 40


def test_append_when_recorded_then_actor_names_os_user_role_and_tool(workspace: Workspace):
    workspace.via = "loop"
    _append(workspace, 1)
    workspace.principal, workspace.role = "key:3f9a0c2b1d4e", "service"
    _append(workspace, 1)
    first, second = audit.entries(workspace.engine)
    assert first.actor == f"os:{getpass.getuser()}/admin via loop"
    assert second.actor == "key:3f9a0c2b1d4e"  # the key (its role is in api_keys)


def test_verify_when_another_secret_key_then_every_entry_fails(workspace, tmp_path):
    from datawheel.secret import SecretKey

    _append(workspace, 2)
    report = audit.verify(workspace.engine, key=SecretKey.generate().audit_key)
    assert not report.ok and report.seq == 1


def _legacy_workspace(ws: Workspace, n: int) -> None:
    """Rewrite ``ws``'s log as an older datawheel left it: a SHA-256 chain, no scheme row, no
    head file."""
    _append(ws, n)
    with ws.engine.begin() as conn:
        conn.execute(sa.delete(meta).where(meta.c.key == "audit_scheme"))
        _forge_links(conn)
    ws.audit_head.path.unlink()


def test_legacy_chain_when_verified_then_ok_and_reported_unkeyed(workspace: Workspace):
    _legacy_workspace(workspace, 3)
    report = audit.verify(workspace.engine, key=workspace.secret_key().audit_key)
    assert report.ok and report.scheme == audit.LEGACY and report.entries == 3


def test_legacy_chain_when_next_change_then_rechained_under_the_key(workspace: Workspace):
    _legacy_workspace(workspace, 3)
    with workspace.engine.begin() as conn:
        legacy_head = conn.execute(
            sa.select(meta.c.value).where(meta.c.key == "audit_head")
        ).scalar()
    _append(workspace, 1, action="after.upgrade")
    report = workspace.verify_audit()
    assert report.ok and report.scheme == audit.SCHEME and report.anchored
    found = audit.entries(workspace.engine)
    assert [e.action for e in found[-2:]] == ["audit.upgrade", "after.upgrade"]
    assert found[-2].details["legacy_head"] == legacy_head.split(":", 1)[1]
    assert [e.target for e in found[:3]] == ["item0", "item1", "item2"]  # kept, re-linked


def test_legacy_chain_when_broken_then_upgrade_refused(workspace: Workspace):
    _legacy_workspace(workspace, 3)
    with workspace.engine.begin() as conn:
        conn.execute(sa.update(audit_table).where(audit_table.c.seq == 2).values(target="x"))
    with pytest.raises(IntegrityError, match="cannot be upgraded"):
        _append(workspace, 1)
    assert len(audit.entries(workspace.engine)) == 3  # nothing was written


def test_legacy_chain_hash_when_computed_then_plain_sha256():
    body = "\x1f".join([audit.GENESIS, "1", "t", "a", "x", "y", "{}"]).encode()
    expected = hashlib.sha256(body).hexdigest()
    assert audit._link(None, audit.GENESIS, 1, "t", "a", "x", "y", "{}") == expected
