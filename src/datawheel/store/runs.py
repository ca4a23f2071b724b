"""Run tracking: parameters, per-epoch history, metrics, timings and environment of each run."""

from __future__ import annotations

import platform
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import insert, select, update

from datawheel.errors import NotFoundError
from datawheel.store.db import now_iso, reading, runs
from datawheel.store.workspace import Workspace

__all__ = ["RunRecord", "environment", "finish_run", "get_run", "list_runs", "start_run"]


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


def start_run(
    ws: Workspace, *, kind: str, params: dict[str, Any], dataset_id: str | None = None
) -> str:
    run_id = f"run_{uuid.uuid4().hex[:12]}"
    with ws.engine.begin() as conn:
        conn.execute(
            insert(runs).values(
                id=run_id,
                kind=kind,
                status="running",
                params=params,
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
