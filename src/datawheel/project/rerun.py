"""A re-run of ``datawheel run`` is a challenger: it meets the champion at the gate."""

from __future__ import annotations

from typing import Any

import polars as pl

from datawheel.config import ProjectConfig
from datawheel.errors import DatawheelError
from datawheel.i18n.catalog import N_
from datawheel.loop.gate import POLICY_RETRAIN, decide
from datawheel.registry.candidate import Candidate, assess_model
from datawheel.registry.privacy_policy import policy_alerts
from datawheel.registry.versions import ModelVersion, champion, conclude_gate, load_version_model
from datawheel.store.workspace import Workspace

__all__ = ["gate_rerun"]


def gate_rerun(
    ws: Workspace,
    config: ProjectConfig,
    version: ModelVersion,
    candidate: Candidate,
    test: pl.DataFrame,
) -> tuple[ModelVersion, dict[str, Any]]:
    """Compare the new version with the champion on the new run's held-out rows and promote
    or archive it; returns the version after the decision and ``{decision, reasons, …}``."""
    current = champion(ws)
    if current is None or current.id == version.id:
        return version, {}
    try:
        old = assess_model(config, load_version_model(ws, current), test)
    except DatawheelError as exc:  # e.g. the champion reads columns the new data lacks
        reasons = [N_(f"pass champion {current.id} cannot score the new held-out rows ({exc})")]
        decided = conclude_gate(
            ws, challenger=version.id, champion_id=current.id, decision="promote",
            reasons=reasons, comparison={}, to_stage="champion",
            reason="re-run: the champion cannot be compared on the new data",
        )  # fmt: skip
        return decided, {"decision": "promote", "champion": current.id, "reasons": reasons}
    if ("rmse" in old.metrics) != ("rmse" in candidate.assessment.metrics):
        reasons = [
            N_("pass the task changed (classification vs regression): the new model replaces")
        ]
        result_decision, comparison = "promote", {}
    else:
        # a champion the current privacy policy forbids has to go: like an erasure retrain,
        # a re-run under the new policy needs only to be non-inferior
        forbidden = policy_alerts(ws, config, current)
        result = decide(candidate.assessment, old, challenger_latency_ms=candidate.latency_p99_ms,
                        gates=config.gates, erasure=bool(forbidden),
                        forced_by=POLICY_RETRAIN)  # fmt: skip
        result_decision, reasons, comparison = result.decision, result.reasons, result.comparison
        if forbidden:
            first = forbidden[0]
            reasons = [N_(f"note the champion breaks the current privacy policy: {first}"),
                       *reasons]  # fmt: skip
    to_stage = "champion" if result_decision == "promote" else "archived"
    why = "re-run passed the gate" if to_stage == "champion" else "re-run rejected by the gate"
    decided = conclude_gate(
        ws, challenger=version.id, champion_id=current.id, decision=result_decision,
        reasons=reasons, comparison=comparison, to_stage=to_stage, reason=why,
    )  # fmt: skip
    return decided, {
        "decision": result_decision,
        "champion": current.id,
        "reasons": reasons,
        "comparison": comparison,
    }
