"""Work the console starts in the background — "retrain now" — and its state, kept in the
database so every worker shows the same thing.

The work runs on a daemon thread of the worker that took the request, at a lower CPU priority
than the serving threads (Linux niceness per thread), and the request returns at once. A job
whose process died is shown as interrupted (its owner — host, pid, start time — is gone), as the
loop's own crash recovery judges a retrain run.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import uuid
from collections.abc import Callable
from typing import Any

from sqlalchemy import desc, insert, select, update

from datawheel.errors import DatawheelError, UsageError
from datawheel.store.db import console_jobs, now_iso, reading
from datawheel.store.runs import is_alive, owner
from datawheel.store.workspace import Workspace

__all__ = ["BACKGROUND_NICENESS", "job_state", "recent_jobs", "start_job"]

log = logging.getLogger(__name__)
BACKGROUND_NICENESS = 10  # serving keeps the CPU when both want it


def job_state(row: dict[str, Any]) -> str:
    """running, finished, failed — or interrupted: running, but its process is gone."""
    if row["state"] == "running" and not is_alive(row["owner"] or {}, row["requested_at"]):
        return "interrupted"
    return str(row["state"])


def recent_jobs(ws: Workspace, kind: str, *, limit: int = 5) -> list[dict[str, Any]]:
    """The newest jobs of ``kind``, newest first, each with its judged ``state``."""
    with reading(ws.engine) as conn:
        rows = conn.execute(
            select(console_jobs)
            .where(console_jobs.c.kind == kind)
            .order_by(desc(console_jobs.c.requested_at))
            .limit(limit)
        ).all()
    return [{**dict(r._mapping), "state": job_state(dict(r._mapping))} for r in rows]


def start_job(
    acting: Workspace,
    kind: str,
    work: Callable[[], dict[str, Any]],
    *,
    requested_by: str,
    on_done: Callable[[], None] | None = None,
) -> str:
    """Record a job and run ``work`` on a background thread; returns the job's id at once.
    Refused while a job of the same kind runs in a live process. ``work`` returns the short
    result shown on the page; a library error becomes the job's failure message."""
    job_id = uuid.uuid4().hex[:12]
    with acting.engine.begin() as conn:  # the check and the insert in one write transaction
        running = conn.execute(
            select(console_jobs).where(
                console_jobs.c.kind == kind, console_jobs.c.state == "running"
            )
        ).all()
        for row in running:
            if job_state(dict(row._mapping)) == "running":
                raise UsageError(
                    f"a {kind} started by {row.requested_by} at {row.requested_at[:16]} UTC "
                    "is still running",
                    hint="wait for it to finish",
                )
        conn.execute(
            insert(console_jobs).values(
                id=job_id,
                kind=kind,
                state="running",
                requested_by=requested_by,
                requested_at=now_iso(),
                finished_at=None,
                owner=owner(),
                result={},
            )
        )
        acting.record(conn, f"console.{kind}", job_id, {"requested_by": requested_by})
    thread = threading.Thread(
        target=_run, args=(acting, job_id, work, on_done), name=f"datawheel-{kind}", daemon=True
    )
    thread.start()
    return job_id


def _run(
    ws: Workspace,
    job_id: str,
    work: Callable[[], dict[str, Any]],
    on_done: Callable[[], None] | None,
) -> None:
    # this thread only, the request threads keep theirs; not Linux or not permitted: as is
    with contextlib.suppress(AttributeError, OSError):
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), BACKGROUND_NICENESS)
    state, result = "failed", {}
    try:
        result = work()
        state = "finished"
    except DatawheelError as exc:  # the work's own refusal (no champion, a bad config …)
        result = {"error": exc.message, "hint": exc.hint}
    except Exception as exc:  # anything else is a bug: logged with its traceback, shown short
        log.exception("background job %s failed", job_id)
        result = {"error": f"internal error: {type(exc).__name__}: {exc}"}
    finally:
        with ws.engine.begin() as conn:
            conn.execute(
                update(console_jobs)
                .where(console_jobs.c.id == job_id)
                .values(state=state, finished_at=now_iso(), result=result)
            )
        if on_done is not None:
            on_done()
