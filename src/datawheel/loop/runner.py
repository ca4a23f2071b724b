"""One turn of the flywheel: measure, decide, retrain, gate, promote — every step audited."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Any

from datawheel.candidate import train_candidate
from datawheel.config import ProjectConfig
from datawheel.errors import NotFoundError
from datawheel.evaluate.assess import assess
from datawheel.loop.feedback import LiveAccuracy, live_accuracy
from datawheel.loop.gate import decide
from datawheel.loop.policy import should_retrain
from datawheel.loop.retrain import prepare_retrain_data
from datawheel.registry import (
    champion,
    load_version_model,
    promote,
    record_gate_decision,
    register_model,
    set_stage,
)
from datawheel.store.workspace import Workspace

__all__ = ["LoopReport", "run_once"]


@dataclass
class LoopReport:
    triggered: bool
    reason: str
    live: dict[str, Any]
    champion: str | None = None
    challenger: str | None = None
    decision: str | None = None
    reasons: list[str] = field(default_factory=list)
    comparison: dict[str, Any] = field(default_factory=dict)
    feedback_rows_used: int = 0
    feedback_holdout_rows: int = 0
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def run_once(
    ws: Workspace, config: ProjectConfig, *, force: bool = False, progress: bool = False
) -> LoopReport:
    """Check the policy; when it fires, train a challenger and let the gate decide."""
    started = time.perf_counter()
    current = champion(ws)
    if current is None:
        raise NotFoundError("no champion to improve", hint="run `datawheel run` first")
    live = live_accuracy(ws, current.id)
    trigger = should_retrain(live, config.loop, force=force)
    report = LoopReport(trigger.fire, trigger.reason, asdict(live), champion=current.id)
    with ws.engine.begin() as conn:
        ws.record(
            conn,
            "loop.check",
            current.id,
            {
                "fire": trigger.fire,
                "reason": trigger.reason,
                "live_accuracy": live.accuracy,
                "labeled": live.labeled,
            },
        )
    if not trigger.fire:
        report.seconds = time.perf_counter() - started
        return report

    data = prepare_retrain_data(ws, config, current)
    candidate = train_candidate(
        ws,
        config,
        train=data.train,
        val=data.val,
        test=data.eval,
        dataset_id=data.train_record.id,
        kind="retrain",
        progress=progress,
        params={"trigger": trigger.reason, "champion": current.id},
    )
    champion_model = load_version_model(ws, current)
    champion_assessment = assess(
        champion_model, data.eval, target=config.data.target, sensitive=config.data.sensitive
    )
    result = decide(
        candidate.assessment,
        champion_assessment,
        challenger_latency_ms=candidate.latency_p99_ms,
        gates=config.gates,
    )
    if data.feedback_holdout.height:
        on_feedback = {
            "challenger": assess(
                candidate.model, data.feedback_holdout, target=config.data.target, sensitive=[]
            ).metrics["accuracy"],
            "champion": assess(
                champion_model, data.feedback_holdout, target=config.data.target, sensitive=[]
            ).metrics["accuracy"],
        }
        result.comparison["feedback_holdout_accuracy"] = on_feedback
    version = register_model(
        ws,
        candidate.model,
        dataset_id=data.train_record.id,
        eval_dataset_id=data.eval_record.id,
        run_id=candidate.run_id,
        metrics={
            **candidate.assessment.metrics,
            "latency_p99_ms": candidate.latency_p99_ms,
            "fairness_gap": candidate.assessment.gap,
        },
        fairness=candidate.assessment.fairness,
        notes=f"retrained: {trigger.reason}",
    )
    record_gate_decision(
        ws,
        challenger=version.id,
        champion_id=current.id,
        decision=result.decision,
        reasons=result.reasons,
        comparison=result.comparison,
    )
    if result.passed:
        promote(ws, version.id, reason="passed the gate: " + "; ".join(result.reasons))
    else:
        set_stage(ws, version.id, "archived", reason="rejected by the gate")
    report.challenger, report.decision = version.id, result.decision
    report.reasons, report.comparison = result.reasons, result.comparison
    report.feedback_rows_used = data.feedback_rows
    report.feedback_holdout_rows = data.feedback_holdout.height
    report.seconds = time.perf_counter() - started
    return report


def champion_live(ws: Workspace) -> LiveAccuracy | None:
    current = champion(ws)
    return live_accuracy(ws, current.id) if current else None
