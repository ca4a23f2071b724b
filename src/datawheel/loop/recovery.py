"""Crash recovery: retrain runs whose process died are marked failed, their versions archived.

A retrain run records who runs it (``params.owner``: host, pid and the process's start time,
so a reused pid is not mistaken for the dead one). At the start of every loop turn, a running
retrain owned by a dead process on this host becomes ``failed``; a version a retrain registered
but no gate decided on (the process died between the two) is archived. Runs owned by another
host cannot be checked and count as live for ``STALE_AFTER``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select

from datawheel.loop.window import utc_now
from datawheel.registry.versions import list_versions, set_stage
from datawheel.store.db import gate_decisions, reading
from datawheel.store.runs import RunRecord, finish_run, is_alive, list_runs, owner
from datawheel.store.workspace import Workspace

__all__ = ["live_retrain", "owner", "reap_interrupted"]


def _alive(info: dict[str, Any], started_at: str, now: datetime) -> bool:
    return is_alive(info, started_at, now)


def _retrains(ws: Workspace) -> list[RunRecord]:
    return [r for r in list_runs(ws) if r.kind == "retrain" and r.status == "running"]


def live_retrain(ws: Workspace, now: datetime | None = None) -> RunRecord | None:
    """A retrain still running in a live process (another loop), if any."""
    now = now or utc_now()
    for run in _retrains(ws):
        info = run.params.get("owner")
        if info and _alive(info, run.started_at, now):
            return run
    return None


def reap_interrupted(ws: Workspace, now: datetime | None = None) -> list[str]:
    """Mark dead retrains failed and archive versions left without a gate decision."""
    now = now or utc_now()
    notes = []
    for run in _retrains(ws):
        info = run.params.get("owner")
        if info and not _alive(info, run.started_at, now):
            finish_run(
                ws,
                run.id,
                status="failed",
                metrics={"error": f"process {info.get('pid')} on {info.get('host')} died"},
                history=[],
            )
            notes.append(f"run {run.id}: its process died; marked failed")
    retrain_runs = {r.id: r for r in list_runs(ws) if r.kind == "retrain"}
    with reading(ws.engine) as conn:
        decided = set(conn.execute(select(gate_decisions.c.challenger)).scalars())
    for version in list_versions(ws):
        retrain = retrain_runs.get(version.run_id or "")
        if version.stage != "challenger" or retrain is None or version.id in decided:
            continue
        info = retrain.params.get("owner")
        if info and _alive(info, retrain.started_at, now):
            continue  # its loop is about to gate it
        set_stage(ws, version.id, "archived", reason="loop interrupted before the gate decided")
        notes.append(f"{version.id}: registered but never gated; archived")
    return notes
