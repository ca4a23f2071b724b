"""The audit log: a hash chain that detects edited, deleted and truncated entries."""

from __future__ import annotations

import threading

import sqlalchemy as sa

from datawheel.store import audit
from datawheel.store.db import audit as audit_table
from datawheel.store.workspace import Workspace


def _append(ws: Workspace, n: int) -> None:
    for i in range(n):
        with ws.engine.begin() as conn:
            ws.record(conn, "test.event", f"item{i}", {"i": i})


def test_verify_when_untouched_then_ok(workspace: Workspace):
    _append(workspace, 5)
    report = audit.verify(workspace.engine)
    assert report.ok and report.entries == 5


def test_verify_when_row_edited_then_names_it(workspace: Workspace):
    _append(workspace, 5)
    with workspace.engine.begin() as conn:
        conn.execute(
            sa.update(audit_table).where(audit_table.c.seq == 3).values(details='{"i": 999}')
        )
    report = audit.verify(workspace.engine)
    assert not report.ok and report.seq == 3 and "edited" in report.problem


def test_verify_when_middle_row_deleted_then_detected(workspace: Workspace):
    _append(workspace, 5)
    with workspace.engine.begin() as conn:
        conn.execute(sa.delete(audit_table).where(audit_table.c.seq == 2))
    report = audit.verify(workspace.engine)
    assert not report.ok and report.seq == 2


def test_verify_when_last_row_deleted_then_detected(workspace: Workspace):
    _append(workspace, 5)
    with workspace.engine.begin() as conn:
        conn.execute(sa.delete(audit_table).where(audit_table.c.seq == 5))
    report = audit.verify(workspace.engine)
    assert not report.ok and "5 were written" in report.problem


def test_append_when_change_rolls_back_then_no_entry(workspace: Workspace):
    _append(workspace, 1)
    try:
        with workspace.engine.begin() as conn:
            workspace.record(conn, "test.event", "doomed", {})
            raise RuntimeError("the change failed")
    except RuntimeError:
        pass
    assert [e.target for e in audit.entries(workspace.engine)] == ["item0"]
    assert audit.verify(workspace.engine).ok


def test_append_when_many_threads_then_chain_stays_valid(workspace: Workspace):
    threads = [threading.Thread(target=_append, args=(workspace, 10)) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    report = audit.verify(workspace.engine)
    assert report.ok and report.entries == 40
