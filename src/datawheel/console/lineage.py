"""Where a model version comes from: the datasets it was trained and evaluated on (each with the
chain of datasets it was derived from), the version it was trained to replace, the run that
trained it, the gate's decision on it and its stage history — for the console's version page."""

from __future__ import annotations

from typing import Any

from sqlalchemy import desc, select

from datawheel.errors import NotFoundError
from datawheel.registry.versions import ModelVersion
from datawheel.store.datasets import DatasetRecord, get_dataset
from datawheel.store.db import gate_decisions, reading, stage_events
from datawheel.store.runs import RunRecord, get_run
from datawheel.store.workspace import Workspace

__all__ = ["version_lineage"]

MAX_CHAIN = 12  # datasets followed up the parent links (raw → clean → anonymized → train)
_RUN_FACTS = ("task", "families", "rows", "trigger", "split", "model")


def _chain(ws: Workspace, dataset_id: str | None) -> list[DatasetRecord]:
    """The dataset and its ancestors, nearest first (a missing one ends the chain)."""
    out: list[DatasetRecord] = []
    seen: set[str] = set()
    while dataset_id and dataset_id not in seen and len(out) < MAX_CHAIN:
        seen.add(dataset_id)
        try:
            record = get_dataset(ws, dataset_id)
        except NotFoundError:
            break
        out.append(record)
        dataset_id = record.parent_id or record.stats.get("base_train")
    return out


def _run(ws: Workspace, run_id: str | None) -> RunRecord | None:
    if not run_id:
        return None
    try:
        return get_run(ws, run_id)
    except NotFoundError:
        return None


def version_lineage(ws: Workspace, version: ModelVersion) -> dict[str, Any]:
    """Everything the version page shows about the version's origin."""
    run = _run(ws, version.run_id)
    with reading(ws.engine) as conn:
        gate = conn.execute(
            select(gate_decisions)
            .where(gate_decisions.c.challenger == version.id)
            .order_by(desc(gate_decisions.c.id))
            .limit(1)
        ).first()
        events = conn.execute(
            select(stage_events)
            .where(stage_events.c.version == version.id)
            .order_by(desc(stage_events.c.id))
            .limit(50)
        ).all()
    parent = (run.params.get("champion") if run else None) or (gate.champion if gate else None)
    facts = {k: run.params[k] for k in _RUN_FACTS if run is not None and k in run.params}
    return {
        "train": _chain(ws, version.dataset_id),
        "eval": _chain(ws, version.eval_dataset_id)[:1],
        "parent": parent,
        "run": run,
        "run_facts": facts,
        "epochs": len(run.history) if run else 0,
        "gate": dict(gate._mapping) if gate else None,
        "events": [dict(e._mapping) for e in events],
    }
