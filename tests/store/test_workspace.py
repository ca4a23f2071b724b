"""The workspace as a context manager: its connections are released however the block ends."""

from __future__ import annotations

from contextlib import nullcontext
from pathlib import Path

import pytest
from sqlalchemy import text

from datawheel.secret import SecretKey
from datawheel.store.workspace import Workspace


def _pooled(ws: Workspace) -> int:
    return ws.engine.pool.checkedin()


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
