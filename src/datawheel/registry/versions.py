"""Layer 4: model versions, their stages, promotion and rollback, and loading a model by name."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, func, insert, select, update

from datawheel.errors import NotFoundError, UsageError
from datawheel.store.db import gate_decisions, model_versions, now_iso, reading, stage_events
from datawheel.store.roles import require
from datawheel.store.workspace import Workspace

if TYPE_CHECKING:
    from datawheel.train.bundle import TrainedModel

__all__ = [
    "STAGES",
    "ModelVersion",
    "champion",
    "conclude_gate",
    "get_version",
    "list_versions",
    "load_model",
    "promote",
    "register_model",
    "rollback",
    "set_stage",
    "shadow_version",
    "start_shadow",
]

STAGES = ("challenger", "champion", "shadow", "archived", "tainted")


@dataclass(frozen=True)
class ModelVersion:
    id: str
    number: int
    stage: str
    artifact: str
    run_id: str | None
    dataset_id: str
    eval_dataset_id: str | None
    metrics: dict[str, Any]
    fairness: dict[str, Any]
    input_schema: dict[str, Any]
    needs_retraining: bool
    notes: str
    created_at: str
    stage_changed_at: str


def _to_version(row: Any) -> ModelVersion:
    return ModelVersion(**{k: row._mapping[k] for k in ModelVersion.__dataclass_fields__})


def _change_stage(
    conn: Connection, ws: Workspace, version: str, old: str | None, new: str, reason: str
) -> None:
    at = now_iso()
    conn.execute(
        update(model_versions)
        .where(model_versions.c.id == version)
        .values(stage=new, stage_changed_at=at)
    )
    conn.execute(
        insert(stage_events).values(
            version=version, from_stage=old, to_stage=new, reason=reason, at=at
        )
    )
    ws.record(conn, "model.stage", version, {"from": old, "to": new, "reason": reason})


def register_model(
    ws: Workspace,
    model: TrainedModel,
    *,
    dataset_id: str,
    eval_dataset_id: str | None,
    metrics: dict[str, Any],
    fairness: dict[str, Any],
    run_id: str | None = None,
    notes: str = "",
    first_is_champion: bool = True,
) -> ModelVersion:
    """Store the model and record a new version: champion if none exists (and
    ``first_is_champion``), else challenger."""
    digest = ws.artifacts.put(model.to_bytes(), encrypt=False)
    with ws.engine.begin() as conn:
        number = (conn.execute(select(func.max(model_versions.c.number))).scalar() or 0) + 1
        has_champion = (
            conn.execute(
                select(model_versions.c.id).where(model_versions.c.stage == "champion")
            ).first()
            is not None
        )
        version_id, at = f"v{number}", now_iso()
        conn.execute(
            insert(model_versions).values(
                id=version_id,
                number=number,
                stage="challenger",
                artifact=digest,
                run_id=run_id,
                dataset_id=dataset_id,
                eval_dataset_id=eval_dataset_id,
                metrics=metrics,
                fairness=fairness,
                input_schema=model.input_schema,
                needs_retraining=False,
                notes=notes,
                created_at=at,
                stage_changed_at=at,
            )
        )
        ws.record(
            conn,
            "model.register",
            version_id,
            {
                "artifact": digest,
                "dataset": dataset_id,
                "run": run_id,
                "accuracy": metrics.get("accuracy"),
                "primary": _primary_line(metrics),
            },
        )
        if not has_champion and first_is_champion:
            _change_stage(conn, ws, version_id, "challenger", "champion", "first model version")
    return get_version(ws, version_id)


def _primary_line(metrics: dict[str, Any]) -> dict[str, Any] | None:
    primary = metrics.get("primary")
    if not isinstance(primary, dict):
        return None
    keys = ("metric", "value", "low", "high", "baseline", "beats_baseline")
    return {k: primary.get(k) for k in keys}


def get_version(ws: Workspace, ref: str) -> ModelVersion:
    """A version by id (``v3``), number (``3``) or stage (``champion``)."""
    stmt = select(model_versions)
    if ref in ("champion", "shadow"):
        stmt = stmt.where(model_versions.c.stage == ref).order_by(model_versions.c.number.desc())
    elif ref == "latest":
        stmt = stmt.order_by(model_versions.c.number.desc())
    else:
        ref = f"v{ref}" if ref.isdigit() else ref
        stmt = stmt.where(model_versions.c.id == ref)
    with reading(ws.engine) as conn:
        row = conn.execute(stmt.limit(1)).first()
    if row is None:
        raise NotFoundError(
            f"no model version {ref!r}",
            hint="`datawheel models list` shows the versions; `datawheel run` trains the first one",
        )
    return _to_version(row)


def champion(ws: Workspace) -> ModelVersion | None:
    try:
        return get_version(ws, "champion")
    except NotFoundError:
        return None


def list_versions(ws: Workspace) -> list[ModelVersion]:
    with reading(ws.engine) as conn:
        rows = conn.execute(select(model_versions).order_by(model_versions.c.number)).all()
    return [_to_version(r) for r in rows]


def set_stage(ws: Workspace, ref: str, stage: str, *, reason: str) -> ModelVersion:
    """Move one version to ``stage`` (not champion: use ``promote``)."""
    if stage not in STAGES or stage == "champion":
        raise UsageError(f"cannot set stage {stage!r} directly", hint="use promote for champion")
    version = get_version(ws, ref)
    with ws.engine.begin() as conn:
        _change_stage(conn, ws, version.id, version.stage, stage, reason)
    return get_version(ws, version.id)


def promote(ws: Workspace, ref: str, *, reason: str = "promoted by hand") -> ModelVersion:
    """Make ``ref`` the champion; the old champion is archived. Servers pick it up live."""
    require(ws, "promote")
    version = get_version(ws, ref)
    if version.stage == "tainted":
        raise UsageError(
            f"{version.id} is tainted (trained on an erased subject) and cannot be served",
            hint="retrain with `datawheel run` or `datawheel loop --once`",
        )
    if version.stage == "champion":
        return version
    with ws.engine.begin() as conn:
        current = conn.execute(
            select(model_versions.c.id).where(model_versions.c.stage == "champion")
        ).scalar()
        if current:
            _change_stage(conn, ws, current, "champion", "archived", f"replaced by {version.id}")
        _change_stage(conn, ws, version.id, version.stage, "champion", reason)
    return get_version(ws, version.id)


def rollback(ws: Workspace, *, reason: str = "rollback") -> ModelVersion:
    """Restore the champion before the current one (skipping tainted versions)."""
    require(ws, "promote")
    current = champion(ws)
    if current is None:
        raise NotFoundError("there is no champion to roll back from")
    with reading(ws.engine) as conn:
        events = (
            conn.execute(
                select(stage_events.c.version)
                .where(stage_events.c.to_stage == "champion")
                .order_by(stage_events.c.id.desc())
            )
            .scalars()
            .all()
        )
    stages = {v.id: v.stage for v in list_versions(ws)}
    for candidate in events:
        if candidate != current.id and stages.get(candidate) not in ("tainted", None):
            return promote(ws, candidate, reason=f"{reason}: back from {current.id}")
    raise UsageError(f"{current.id} has no earlier champion to roll back to")


def conclude_gate(
    ws: Workspace,
    *,
    challenger: str,
    champion_id: str | None,
    decision: str,
    reasons: list[str],
    comparison: dict[str, Any],
    to_stage: str,
    reason: str,
) -> ModelVersion:
    """Record a gate decision and move the challenger (to champion, shadow or archived) in ONE
    transaction, so a crash never leaves a decision without its stage change or the reverse."""
    if to_stage not in STAGES or to_stage == "tainted":
        raise UsageError(f"a gate cannot move a version to {to_stage!r}")
    version = get_version(ws, challenger)
    if version.stage == "tainted":
        raise UsageError(f"{version.id} is tainted (trained on an erased subject)")
    with ws.engine.begin() as conn:
        conn.execute(
            insert(gate_decisions).values(
                challenger=challenger,
                champion=champion_id,
                decision=decision,
                reasons=reasons,
                comparison=comparison,
                created_at=now_iso(),
            )
        )
        ws.record(
            conn,
            "gate.decision",
            challenger,
            {"champion": champion_id, "decision": decision, "reasons": reasons},
        )
        if to_stage in ("champion", "shadow"):  # one champion, one shadow at a time
            for other in (
                conn.execute(
                    select(model_versions.c.id).where(
                        model_versions.c.stage == to_stage, model_versions.c.id != version.id
                    )
                )
                .scalars()
                .all()
            ):
                _change_stage(conn, ws, other, to_stage, "archived", f"replaced by {version.id}")
        if version.stage != to_stage:
            _change_stage(conn, ws, version.id, version.stage, to_stage, reason)
    return get_version(ws, version.id)


def shadow_version(ws: Workspace) -> ModelVersion | None:
    """The version serving in shadow (its predictions are logged, never returned), if any."""
    try:
        return get_version(ws, "shadow")
    except NotFoundError:
        return None


def start_shadow(ws: Workspace, ref: str, *, reason: str = "shadowed by hand") -> ModelVersion:
    """Put a challenger in stage ``shadow`` (archiving any other shadow); servers pick it up."""
    version = get_version(ws, ref)
    if version.stage in ("champion", "tainted"):
        raise UsageError(f"{version.id} is the {version.stage}; only a challenger can shadow")
    with ws.engine.begin() as conn:
        for other in (
            conn.execute(
                select(model_versions.c.id).where(
                    model_versions.c.stage == "shadow", model_versions.c.id != version.id
                )
            )
            .scalars()
            .all()
        ):
            _change_stage(conn, ws, other, "shadow", "archived", f"replaced by {version.id}")
        if version.stage != "shadow":
            _change_stage(conn, ws, version.id, version.stage, "shadow", reason)
    return get_version(ws, version.id)


def gate_history(ws: Workspace) -> list[dict[str, Any]]:
    with reading(ws.engine) as conn:
        rows = conn.execute(select(gate_decisions).order_by(gate_decisions.c.id)).all()
    return [dict(r._mapping) for r in rows]


def load_version_model(ws: Workspace, version: ModelVersion) -> TrainedModel:
    """The TrainedModel of a version, read from the artifact store. Not cached here: a holder
    that serves models again and again keeps its own bounded ``ModelCache``."""
    from datawheel.train.bundle import TrainedModel

    model = TrainedModel.from_bytes(ws.artifacts.get(version.artifact))
    model.version = version.id
    return model


def load_model(ref: str = "champion", *, workspace: str | Path = ".datawheel") -> TrainedModel:
    """``dw.load_model("champion", workspace=".datawheel")`` — or a version id, or the folder
    ``datawheel export`` wrote (it holds ``model.pt``)."""
    bundle = Path(ref) / "model.pt"
    if ref not in ("champion", "shadow", "latest") and bundle.is_file():
        from datawheel.train.bundle import TrainedModel

        return TrainedModel.from_bytes(bundle.read_bytes())
    with Workspace.open(workspace) as ws:
        return load_version_model(ws, get_version(ws, ref))
