"""Runs: a run whose process was killed is marked failed when the next run starts."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

from datawheel.store.runs import get_run, list_runs, reap_dead_runs, start_run
from datawheel.store.workspace import Workspace

KILLED_TRAINING = textwrap.dedent(
    """
    import os, signal, sys
    from datawheel.secret import SecretKey
    from datawheel.store.runs import start_run
    from datawheel.store.workspace import Workspace

    key = SecretKey.from_text(os.environ["TEST_KEY"], origin="test")
    ws = Workspace.open(sys.argv[1], key=key, role="engineer")
    print(start_run(ws, kind="train", params={"epochs": 30}), flush=True)
    os.kill(os.getpid(), signal.SIGKILL)  # killed mid-training: no finish_run
    """
)


def test_run_when_its_process_was_killed_then_failed_at_the_next_start(sqlite_workspace):
    ws: Workspace = sqlite_workspace
    result = subprocess.run(
        [sys.executable, "-c", KILLED_TRAINING, str(ws.root)],
        capture_output=True, text=True, timeout=120,
        env={**os.environ, "TEST_KEY": ws.secret_key().to_text()},
    )  # fmt: skip
    assert result.returncode == -9, result.stderr
    killed = result.stdout.strip()
    assert get_run(ws, killed).status == "running"  # nothing marked it so far
    fresh = start_run(ws, kind="train", params={})
    run = get_run(ws, killed)
    assert run.status == "failed" and run.finished_at is not None
    assert "died" in run.metrics["error"]
    assert get_run(ws, fresh).status == "running"  # this process is alive: not reaped


def test_reap_when_process_alive_then_run_left_running(sqlite_workspace):
    ws: Workspace = sqlite_workspace
    mine = start_run(ws, kind="tune", params={})
    assert reap_dead_runs(ws) == []
    assert [r.status for r in list_runs(ws) if r.id == mine] == ["running"]
