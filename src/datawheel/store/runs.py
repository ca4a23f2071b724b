"""Run tracking: parameters, per-epoch history, metrics, timings and environment of each run.

Every run records who runs it (``params.owner``: host, pid and the process's start time, so a
reused pid is not mistaken for the dead one). Starting a run first marks ``failed`` every
``running`` run whose process on this host is gone (killed, out of memory, the machine
rebooted): a killed ``datawheel train`` does not stay "running" forever. Runs owned by another
host cannot be checked and count as live for ``STALE_AFTER``.
"""

from __future__ import annotations

import os
import platform
import socket
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import insert, select, update

from datawheel.errors import NotFoundError
from datawheel.store.db import now_iso, reading, runs
from datawheel.store.workspace import Workspace

__all__ = [
    "STALE_AFTER",
    "RunRecord",
    "environment",
    "finish_run",
    "get_run",
    "is_alive",
    "list_runs",
    "owner",
    "reap_dead_runs",
    "start_run",
]

STALE_AFTER = timedelta(hours=24)


@dataclass(frozen=True)
class RunRecord:
    id: str
    kind: str
    status: str
    params: dict[str, Any]
    metrics: dict[str, Any]
    history: list[dict[str, Any]]
    environment: dict[str, Any]
    dataset_id: str | None
    started_at: str
    finished_at: str | None


def environment() -> dict[str, Any]:
    """Versions that decide whether a run can be reproduced."""
    import numpy
    import polars
    import torch

    from datawheel import __version__

    return {
        "datawheel": __version__,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "numpy": numpy.__version__,
        "polars": polars.__version__,
        "platform": platform.platform(),
    }


def _start_ticks(pid: int) -> str | None:
    """The process's start time in clock ticks since boot (Linux), to tell pid reuse apart."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as f:
            return f.read().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


def owner() -> dict[str, Any]:
    """Who is running this process: recorded with every run."""
    pid = os.getpid()
    return {"host": socket.gethostname(), "pid": pid, "started": _start_ticks(pid)}


def is_alive(info: dict[str, Any], started_at: str, now: datetime | None = None) -> bool:
    """Whether the process ``info`` (an ``owner()``) still runs; another host's counts as live
    for ``STALE_AFTER`` after ``started_at``."""
    if info.get("host") != socket.gethostname():
        moment = now or datetime.now(UTC)
        return moment - datetime.fromisoformat(started_at) < STALE_AFTER
    pid = int(info.get("pid", -1))
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # exists, owned by someone else
    recorded = info.get("started")
    return recorded is None or recorded == _start_ticks(pid)


def reap_dead_runs(
    ws: Workspace, *, kinds: tuple[str, ...] | None = None, now: datetime | None = None
) -> list[RunRecord]:
    """Mark ``failed`` the running runs (of ``kinds``) whose process died; returns them."""
    dead = [
        run
        for run in list_runs(ws)
        if run.status == "running"
        and (kinds is None or run.kind in kinds)
        and run.params.get("owner")
        and not is_alive(run.params["owner"], run.started_at, now)
    ]
    for run in dead:
        info = run.params["owner"]
        finish_run(
            ws,
            run.id,
            status="failed",
            metrics={"error": f"process {info.get('pid')} on {info.get('host')} died"},
            history=run.history,
        )
    return dead


def start_run(
    ws: Workspace, *, kind: str, params: dict[str, Any], dataset_id: str | None = None
) -> str:
    """A new ``running`` run, after marking the runs of dead processes failed."""
    reap_dead_runs(ws)
    run_id = f"run_{uuid.uuid4().hex[:12]}"
    with ws.engine.begin() as conn:
        conn.execute(
            insert(runs).values(
                id=run_id,
                kind=kind,
                status="running",
                params={"owner": owner(), **params},
                metrics={},
                history=[],
                environment=environment(),
                dataset_id=dataset_id,
                started_at=now_iso(),
                finished_at=None,
            )
        )
    return run_id


def finish_run(
    ws: Workspace,
    run_id: str,
    *,
    status: str,
    metrics: dict[str, Any],
    history: list[dict[str, Any]],
    extra_env: dict[str, Any] | None = None,
) -> None:
    values: dict[str, Any] = {
        "status": status,
        "metrics": metrics,
        "history": history,
        "finished_at": now_iso(),
    }
    if extra_env:
        values["environment"] = {**get_run(ws, run_id).environment, **extra_env}
    with ws.engine.begin() as conn:
        conn.execute(update(runs).where(runs.c.id == run_id).values(**values))
        ws.record(conn, "run.finish", run_id, {"status": status})


def _to_record(row: Any) -> RunRecord:
    return RunRecord(**{k: row._mapping[k] for k in RunRecord.__dataclass_fields__})


def get_run(ws: Workspace, run_id: str) -> RunRecord:
    with reading(ws.engine) as conn:
        row = conn.execute(select(runs).where(runs.c.id == run_id)).first()
    if row is None:
        raise NotFoundError(f"no run {run_id!r}", hint="`datawheel runs list` shows them")
    return _to_record(row)


def list_runs(ws: Workspace) -> list[RunRecord]:
    with reading(ws.engine) as conn:
        return [_to_record(r) for r in conn.execute(select(runs).order_by(runs.c.started_at))]
