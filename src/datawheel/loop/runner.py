"""One turn of the flywheel: measure, decide, retrain, gate, shadow or promote — all audited."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from datawheel.config import ProjectConfig
from datawheel.errors import NotFoundError
from datawheel.loop.drift import DriftReport, feature_drift
from datawheel.loop.feedback import LiveAccuracy, LiveError, live_accuracy, live_error
from datawheel.loop.gate import ERASURE_RETRAIN, POLICY_RETRAIN, GateResult, decide
from datawheel.loop.policy import Trigger, should_retrain
from datawheel.loop.prediction_drift import PREDICTION_FEATURE, prediction_drift
from datawheel.loop.recovery import live_retrain, owner, reap_interrupted
from datawheel.loop.retrain import RetrainData, prepare_retrain_data
from datawheel.loop.shadow import judge_shadow
from datawheel.loop.window import utc_now
from datawheel.registry.candidate import (
    Candidate,
    assess_model,
    register_candidate,
    train_candidate,
)
from datawheel.registry.privacy_policy import policy_alerts
from datawheel.registry.versions import (
    ModelVersion,
    champion,
    conclude_gate,
    load_version_model,
    shadow_version,
)
from datawheel.store.drift_days import record_drift
from datawheel.store.roles import require
from datawheel.store.runs import list_runs
from datawheel.store.workspace import Workspace

__all__ = ["LoopReport", "run_once"]


@dataclass
class LoopReport:
    triggered: bool
    reason: str
    live: dict[str, Any]
    champion: str | None = None
    challenger: str | None = None
    decision: str | None = None  # promote | shadow | reject | None (not triggered)
    reasons: list[str] = field(default_factory=list)
    comparison: dict[str, Any] = field(default_factory=dict)
    feedback_rows_used: int = 0
    feedback_holdout_rows: int = 0
    seconds: float = 0.0
    checks: list[str] = field(default_factory=list)  # every policy check's verdict
    drift: dict[str, Any] = field(default_factory=dict)
    excluded: dict[str, Any] = field(default_factory=dict)  # feedback left out, and why
    shadow: dict[str, Any] = field(default_factory=dict)
    recovered: list[str] = field(default_factory=list)  # interrupted work cleaned up

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _last_trained_at(ws: Workspace, current: ModelVersion) -> datetime:
    """The later of the champion's creation and the last retrain attempt (for the schedule)."""
    times = [current.created_at] + [r.started_at for r in list_runs(ws) if r.kind == "retrain"]
    return datetime.fromisoformat(max(times))


def _measure(
    ws: Workspace, config: ProjectConfig, current: ModelVersion, force: bool, now: datetime
) -> tuple[LiveAccuracy | LiveError, DriftReport, Trigger]:
    regression = "rmse" in current.metrics
    live: LiveAccuracy | LiveError = (
        live_error(ws, current.id, window=config.loop.window, now=now)
        if regression
        else live_accuracy(ws, current.id, window=config.loop.window, now=now)
    )
    drift = feature_drift(ws, current, config.loop, text=config.data.text, now=now)
    record_drift(ws.engine, [drift.to_dict()])  # what the loop saw, for drift over time
    drifted = {d.feature: d.psi for d in drift.drifted} if drift.judged else None
    outputs = prediction_drift(ws, current, config.loop, now=now)
    if drifted is not None and outputs is not None and outputs.psi > config.loop.drift_psi_above:
        drifted[PREDICTION_FEATURE] = outputs.psi
    trigger = should_retrain(
        live,
        config.loop,
        offline_error=current.metrics.get("rmse"),
        force=force,
        drifted=drifted,
        last_trained_at=_last_trained_at(ws, current),
        needs_retraining=current.needs_retraining,
        now=now,
    )
    return live, drift, trigger


def _judge_pending_shadow(
    ws: Workspace, config: ProjectConfig, current: ModelVersion, report: LoopReport
) -> bool:
    """Decide on a version in shadow; True while it is still collecting labeled requests."""
    shadow = shadow_version(ws)
    if shadow is None:
        return False
    result = judge_shadow(
        ws,
        shadow,
        current,
        needed=max(1, config.loop.shadow_requests),
        confidence=config.gates.confidence,
    )
    report.shadow = asdict(result)
    if result.decision is None:
        report.reason = f"shadow {shadow.id} in progress: " + result.reasons[0]
        return True
    to_stage = "champion" if result.decision == "promote" else "archived"
    conclude_gate(
        ws,
        challenger=shadow.id,
        champion_id=current.id,
        decision=result.decision,
        reasons=result.reasons,
        comparison={"shadow": asdict(result)},
        to_stage=to_stage,
        reason=f"shadow period: {result.reasons[0]}",
    )
    report.challenger, report.decision, report.reasons = shadow.id, result.decision, result.reasons
    report.reason = f"shadow {shadow.id} judged on {result.pairs} labeled requests"
    return True


def run_once(
    ws: Workspace,
    config: ProjectConfig,
    *,
    force: bool = False,
    progress: bool = False,
    now: datetime | None = None,
) -> LoopReport:
    """Clean up interrupted work; judge a shadow; check the policy; when it fires, retrain a
    challenger and let the gate promote, shadow or reject it."""
    require(ws, "train")  # before the first write: a loop turn may retrain and promote
    started = time.perf_counter()
    now = now or utc_now()
    recovered = reap_interrupted(ws, now)
    current = champion(ws)
    if current is None:
        raise NotFoundError("no champion to improve", hint="run `datawheel run` first")
    report = LoopReport(False, "", {}, champion=current.id, recovered=recovered)
    busy = live_retrain(ws, now)
    if busy is not None:
        report.reason = f"another loop is retraining (run {busy.id}); skipped"
    elif not _judge_pending_shadow(ws, config, current, report):
        live, drift, trigger = _measure(ws, config, current, force, now)
        report.triggered, report.reason, report.checks = (
            trigger.fire,
            trigger.reason,
            trigger.checks,
        )
        report.live, report.drift = asdict(live), drift.to_dict()
    _audit_check(ws, report)
    if report.triggered:
        _retrain(ws, config, current, report, progress=progress)
    report.seconds = time.perf_counter() - started
    return report


def _audit_check(ws: Workspace, report: LoopReport) -> None:
    drift = report.drift
    with ws.engine.begin() as conn:
        ws.record(
            conn,
            "loop.check",
            report.champion or "",
            {
                "fire": report.triggered,
                "reason": report.reason,
                "live_accuracy": report.live.get("accuracy"),
                "labeled": report.live.get("labeled"),
                "drifted": drift.get("drifted", []),
                "recovered": report.recovered,
            },
        )


def _gate(
    ws: Workspace,
    config: ProjectConfig,
    current: ModelVersion,
    data: RetrainData,
    candidate: Candidate,
    *,
    erasure: bool,
) -> GateResult:
    """The challenger vs the champion on the same held-out rows, and on held-out feedback.
    A champion that has to go — it learned from an erased subject (``erasure``), or reads what
    the current privacy policy forbids — is replaced by a challenger that is non-inferior."""
    champion_model = load_version_model(ws, current)
    champion_assessment = assess_model(config, champion_model, data.eval)
    forbidden = [] if erasure else policy_alerts(ws, config, current)
    result = decide(
        candidate.assessment,
        champion_assessment,
        challenger_latency_ms=candidate.latency_p99_ms,
        gates=config.gates,
        erasure=erasure or bool(forbidden),
        forced_by=ERASURE_RETRAIN if erasure else POLICY_RETRAIN,
    )
    if forbidden:
        result.reasons.insert(0, f"note the champion breaks the current privacy policy: "
                                 f"{forbidden[0]}")  # fmt: skip
    if data.feedback_holdout.height:
        new = assess_model(config, candidate.model, data.feedback_holdout)
        old = assess_model(config, champion_model, data.feedback_holdout)
        metric = new.primary["metric"]
        result.comparison["feedback_holdout"] = {
            "rows": data.feedback_holdout.height,
            "metric": metric,
            "challenger": {metric: new.primary["value"], "accuracy": new.metrics.get("accuracy")},
            "champion": {metric: old.primary["value"], "accuracy": old.metrics.get("accuracy")},
        }
    return result


def _retrain(
    ws: Workspace,
    config: ProjectConfig,
    current: ModelVersion,
    report: LoopReport,
    *,
    progress: bool,
) -> None:
    data = prepare_retrain_data(ws, config, current)
    report.excluded = data.excluded
    if data.excluded.get("tenants"):
        with ws.engine.begin() as conn:
            ws.record(conn, "loop.feedback_excluded", data.train_record.id, data.excluded)
    candidate = train_candidate(
        ws,
        config,
        train=data.train,
        val=data.val,
        test=data.eval,
        dataset_id=data.train_record.id,
        kind="retrain",
        progress=progress,
        params={"trigger": report.reason, "champion": current.id, "owner": owner()},
        optional_inputs=list(load_version_model(ws, current).extras.get("optional_inputs", [])),
    )
    assert candidate is not None  # None only on torchrun ranks > 0; the loop is one process
    result = _gate(ws, config, current, data, candidate, erasure=current.needs_retraining)
    version = register_candidate(
        ws,
        candidate,
        dataset_id=data.train_record.id,
        eval_dataset_id=data.eval_record.id,
        split=data.split,
        notes=f"retrained: {report.reason}",
    )
    decision = result.decision
    if result.passed and config.loop.shadow_requests > 0:
        decision, to_stage = "shadow", "shadow"
        why = f"passed the offline gate; shadowing for {config.loop.shadow_requests} requests"
    elif result.passed:
        to_stage, why = "champion", "passed the gate: " + "; ".join(result.reasons)
    else:
        to_stage, why = "archived", "rejected by the gate"
    conclude_gate(
        ws,
        challenger=version.id,
        champion_id=current.id,
        decision=decision,
        reasons=result.reasons,
        comparison={**result.comparison, "excluded": data.excluded},
        to_stage=to_stage,
        reason=why,
    )
    report.challenger, report.decision = version.id, decision
    report.reasons, report.comparison = result.reasons, result.comparison
    report.feedback_rows_used = data.feedback_rows
    report.feedback_holdout_rows = data.feedback_holdout.height
