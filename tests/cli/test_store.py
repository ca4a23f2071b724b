"""Store commands: `datawheel migrate` upgrades a first-release workspace once, then has nothing
to do; with no workspace anywhere it exits 2 with one line. Who may run it is checked with every
other command in tests/cli/test_roles.py (admin only)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

from datawheel.secret import SecretKey
from datawheel.store import audit
from datawheel.store.workspace import Workspace
from store.first_release import build_first_release  # tests/ is on sys.path (rootdir)


def _run(*args: str, cwd: Path, key: SecretKey | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DATAWHEEL_DB_URL", "DATAWHEEL_HOME")}
    env["DATAWHEEL_ROLE"] = "admin"  # no project here: no key file whose owner is admin
    if key is not None:
        env["DATAWHEEL_KEY"] = key.to_text()  # the upgrade is recorded in the keyed audit log
    return subprocess.run(
        [sys.executable, "-m", "datawheel", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=300,
    )


@pytest.mark.e2e
def test_migrate_when_workspace_is_of_the_first_release_then_upgrades_it_once(tmp_path: Path):
    root = tmp_path / "ws"
    root.mkdir()
    key = SecretKey.generate()
    engine = sa.create_engine(f"sqlite:///{root / 'datawheel.db'}")
    build_first_release(engine, key)
    engine.dispose()

    first = _run("migrate", "--workspace", str(root), cwd=tmp_path, key=key)
    assert first.returncode == 0, first.stderr
    assert "from 0001 to 0006 (0002, 0003, 0004, 0005, 0006)" in first.stdout
    again = _run("migrate", "--workspace", str(root), cwd=tmp_path, key=key)
    assert again.returncode == 0 and "nothing to do" in again.stdout
    with Workspace.open(root, key=key) as ws:
        assert [e.action for e in audit.entries(ws.engine)][-1] == "schema.upgrade"


@pytest.mark.e2e
def test_migrate_when_no_project_and_no_workspace_then_exit_2_with_hint(tmp_path: Path):
    result = _run("migrate", cwd=tmp_path)
    assert result.returncode == 2
    assert "no workspace to migrate" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / ".datawheel").exists()
