"""The console's background jobs on a real database: the request returns at once, the work runs
on a lower-priority thread, its state and result land in the database, one at a time, and a job
whose process died reads as interrupted."""

from __future__ import annotations

import os
import subprocess
import sys
import threading

import pytest
from sqlalchemy import update

from datawheel.console.jobs import BACKGROUND_NICENESS, recent_jobs, start_job
from datawheel.errors import NotFoundError, UsageError
from datawheel.store import audit as audit_log
from datawheel.store.db import console_jobs
from waiting import wait_until


def _state(ws, job_id: str) -> dict:
    return next(j for j in recent_jobs(ws, "retrain", limit=50) if j["id"] == job_id)


def test_job_when_started_then_runs_in_the_background_and_records_its_result(workspace):
    release, seen = threading.Event(), {}

    def work() -> dict:
        seen["niceness"] = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
        release.wait(30)
        return {"decision": "reject", "challenger": "v2"}

    job = start_job(workspace, "retrain", work, requested_by="eng@team.example")
    assert _state(workspace, job)["state"] == "running"  # the caller did not wait
    with pytest.raises(UsageError, match="still running"):  # one at a time
        start_job(workspace, "retrain", dict, requested_by="ana@team.example")
    release.set()
    wait_until(lambda: _state(workspace, job)["state"] == "finished", what="the job to finish")
    done = _state(workspace, job)
    assert done["result"] == {"decision": "reject", "challenger": "v2"} and done["finished_at"]
    assert seen["niceness"] >= os.getpriority(os.PRIO_PROCESS, 0) + BACKGROUND_NICENESS or (
        seen["niceness"] == 19  # already as nice as can be
    )
    entry = audit_log.entries(workspace.engine, action="console.retrain")[-1]
    assert entry.target == job and entry.details == {"requested_by": "eng@team.example"}


def test_job_when_work_raises_then_failed_with_the_message(workspace):
    def work() -> dict:
        raise NotFoundError("no champion to improve", hint="run `datawheel run` first")

    job = start_job(workspace, "retrain", work, requested_by="eng@team.example")
    wait_until(lambda: _state(workspace, job)["state"] == "failed", what="the job to fail")
    assert _state(workspace, job)["result"]["error"] == "no champion to improve"
    again = start_job(workspace, "retrain", dict, requested_by="eng@team.example")  # free again
    wait_until(lambda: _state(workspace, again)["state"] == "finished", what="the second job")


def test_job_when_its_process_died_then_interrupted_and_no_longer_blocks(workspace):
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    job = start_job(workspace, "retrain", dict, requested_by="eng@team.example")
    wait_until(lambda: _state(workspace, job)["state"] == "finished", what="the job to finish")
    dead = {"host": os.uname().nodename, "pid": int(gone.stdout), "started": "1"}
    with workspace.engine.begin() as conn:  # as if a worker had died while it ran
        conn.execute(
            update(console_jobs).where(console_jobs.c.id == job).values(state="running", owner=dead)
        )
    assert _state(workspace, job)["state"] == "interrupted"
    after = start_job(workspace, "retrain", dict, requested_by="eng@team.example")  # not refused
    wait_until(lambda: _state(workspace, after)["state"] == "finished", what="the next job")
