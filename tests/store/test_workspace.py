"""The workspace: a context manager that releases its connections however the block ends, and
private to its owner on disk (folder 0700, every file 0600)."""

from __future__ import annotations

import stat
from contextlib import nullcontext
from pathlib import Path

import pytest
from sqlalchemy import text

from datawheel.secret import SecretKey
from datawheel.store.workspace import Workspace


def _pooled(ws: Workspace) -> int:
    return ws.engine.pool.checkedin()


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.parametrize("fails", [False, True])  # the block ends normally / by an exception
def test_workspace_when_used_in_with_then_connections_released_at_exit(
    tmp_path: Path, secret_key: SecretKey, fails: bool
) -> None:
    class Boom(Exception):
        pass

    with (
        pytest.raises(Boom) if fails else nullcontext(),
        Workspace.open(tmp_path / ".datawheel", key=secret_key) as ws,
    ):
        with ws.engine.connect() as conn:
            assert conn.execute(text("select 1")).scalar() == 1
        assert _pooled(ws) == 1  # the connection went back to the pool, still open
        if fails:
            raise Boom
    assert _pooled(ws) == 0  # disposed: no open connection left behind


def test_workspace_when_created_then_folder_0700_and_files_0600(tmp_path: Path):
    with Workspace.open(tmp_path / "ws", key=SecretKey.generate(), role="admin") as ws:
        digest = ws.artifacts.put(b"raw rows", encrypt=True)
        with ws.engine.begin() as conn:
            ws.record(conn, "test.event", "x", {})
        assert _mode(ws.root) == 0o700
        files = [ws.root / "datawheel.db", ws.artifacts.path(digest), ws.audit_head.path]
        wal = ws.root / "datawheel.db-wal"
        files += [wal] if wal.exists() else []
        for path in files:
            assert _mode(path) == 0o600, path


def test_workspace_when_opened_loose_then_tightened(tmp_path: Path):
    root = tmp_path / "ws"
    root.mkdir(mode=0o755)
    root.chmod(0o755)
    (root / "datawheel.db").touch()
    (root / "datawheel.db").chmod(0o644)
    Workspace.open(root, key=SecretKey.generate(), role="admin").close()
    assert _mode(root) == 0o700 and _mode(root / "datawheel.db") == 0o600
