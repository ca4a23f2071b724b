"""Crashes and rollbacks: SIGKILL mid-retrain leaves the registry consistent; rollback audited."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys

import pytest
from sqlalchemy import select

from datawheel.loop.recovery import reap_interrupted
from datawheel.loop.runner import run_once
from datawheel.registry.versions import (
    champion,
    conclude_gate,
    get_version,
    list_versions,
    load_version_model,
    promote,
    register_model,
    rollback,
)
from datawheel.store.audit import entries
from datawheel.store.db import stage_events
from datawheel.store.runs import list_runs, start_run
from waiting import wait_until


def _running_retrain(ws, proc: subprocess.Popen) -> str | None:
    assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
    running = [r for r in list_runs(ws) if r.kind == "retrain" and r.status == "running"]
    return running[0].id if running else None


@pytest.mark.e2e
def test_loop_when_sigkilled_mid_retrain_then_champion_serves_and_next_turn_recovers(loop_env):
    ws, file = loop_env.ws, loop_env.file
    slow = file.read_text().replace("epochs: 3", "epochs: 2000\n  early_stopping: 0 #")
    file.write_text(slow)
    proc = subprocess.Popen(
        [sys.executable, "-m", "datawheel", "loop", "--once", "--force", "-c", str(file)],
        cwd=file.parent,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        # the run is recorded as the first epoch starts; 2,000 epochs are far from done
        run_id = wait_until(lambda: _running_retrain(ws, proc), what="the retrain to start")
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)

    assert champion(ws).id == "v1"
    assert [v.id for v in list_versions(ws)] == ["v1"]  # nothing half-registered
    assert ws.verify_audit().ok
    assert {r.id: r.status for r in list_runs(ws)}[run_id] == "running"

    config = loop_env.project.config  # loaded before the edit: 3 epochs
    report = run_once(ws, config, force=True)
    assert any(run_id in note for note in report.recovered)
    assert {r.id: r.status for r in list_runs(ws)}[run_id] == "failed"
    assert report.decision in ("promote", "reject") and report.challenger == "v2"
    assert ws.verify_audit().ok


def test_reap_interrupted_when_version_registered_but_never_gated_then_archived(loop_env):
    ws = loop_env.ws
    v1 = get_version(ws, "v1")
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    owner = {"host": socket.gethostname(), "pid": dead.pid, "started": None}
    run_id = start_run(ws, kind="retrain", params={"owner": owner})
    register_model(
        ws,
        load_version_model(ws, v1),
        dataset_id=v1.dataset_id,
        eval_dataset_id=None,
        metrics={},
        fairness={},
        run_id=run_id,
    )
    notes = reap_interrupted(ws)
    assert len(notes) == 2  # the dead run, then its ungated version
    assert get_version(ws, "v2").stage == "archived"
    assert {r.id: r.status for r in list_runs(ws)}[run_id] == "failed"
    assert reap_interrupted(ws) == []  # idempotent
    assert ws.verify_audit().ok


def test_rollback_when_promoted_then_previous_champion_restored_and_audited(loop_env):
    ws = loop_env.ws
    v1 = get_version(ws, "v1")
    v2 = register_model(
        ws,
        load_version_model(ws, v1),
        dataset_id=v1.dataset_id,
        eval_dataset_id=None,
        metrics={},
        fairness={},
    )
    conclude_gate(
        ws,
        challenger=v2.id,
        champion_id=v1.id,
        decision="promote",
        reasons=["pass"],
        comparison={},
        to_stage="champion",
        reason="passed the gate",
    )
    assert champion(ws).id == "v2"
    restored = rollback(ws, reason="bad live accuracy")
    assert restored.id == "v1" and champion(ws).id == "v1"
    assert get_version(ws, "v2").stage == "archived"
    from datawheel.serve.model_holder import ModelHolder  # what a server loads next

    assert ModelHolder(ws, refresh_seconds=0).current()[0] == "v1"
    with ws.engine.connect() as conn:
        last = conn.execute(select(stage_events).order_by(stage_events.c.id.desc())).first()
    assert last.version == "v1" and "back from v2" in last.reason
    stage_log = [e for e in entries(ws.engine) if e.action == "model.stage"]
    assert stage_log[-1].target == "v1" and "back from v2" in stage_log[-1].details["reason"]
    assert ws.verify_audit().ok
    promote(ws, "v2")  # and forward again
    assert champion(ws).id == "v2"
