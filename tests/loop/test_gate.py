"""The gate: promote only a challenger that is better, as fair, and fast enough."""

from __future__ import annotations

import pytest

from datawheel.config import GatesConfig
from datawheel.evaluate.assess import Assessment
from datawheel.loop.gate import decide


def _a(accuracy: float, gap: float) -> Assessment:
    return Assessment(metrics={"accuracy": accuracy}, fairness={}, gap=gap, gap_column="sex")


GATES = GatesConfig(min_improvement=0.0, max_fairness_gap=0.1, max_latency_ms=50)


@pytest.mark.parametrize(
    ("challenger", "champion", "latency", "decision", "failing"),
    [
        (_a(0.86, 0.05), _a(0.85, 0.05), 1.0, "promote", None),  # better, fair, fast
        (_a(0.84, 0.05), _a(0.85, 0.05), 1.0, "reject", "accuracy"),  # worse
        (_a(0.90, 0.15), _a(0.85, 0.05), 1.0, "reject", "fairness"),  # less fair, over limit
        (_a(0.90, 0.14), _a(0.85, 0.20), 1.0, "promote", None),  # over limit, fairer than champion
        (_a(0.90, 0.05), _a(0.85, 0.05), 80.0, "reject", "latency"),  # too slow
    ],
)
def test_decide_when_case_then_decision(challenger, champion, latency, decision, failing):
    result = decide(challenger, champion, challenger_latency_ms=latency, gates=GATES)
    assert result.decision == decision
    failed = [r for r in result.reasons if r.startswith("FAIL")]
    if failing:
        assert len(failed) == 1 and failing in failed[0]
    else:
        assert not failed
    assert len(result.reasons) == 3


def test_decide_when_min_improvement_then_small_gain_rejected():
    gates = GatesConfig(min_improvement=0.02)
    result = decide(_a(0.86, 0.0), _a(0.85, 0.0), challenger_latency_ms=1, gates=gates)
    assert result.decision == "reject"


def test_decide_when_challenger_trained_with_dp_then_epsilon_shown_and_compared():
    challenger = _a(0.86, 0.05)
    challenger.metrics["privacy"] = {"epsilon": 2.97, "delta": 1e-5}
    result = decide(challenger, _a(0.85, 0.05), challenger_latency_ms=1.0, gates=GATES)
    assert result.decision == "promote"
    assert any(r.startswith("info") and "epsilon 2.97" in r for r in result.reasons)
    assert result.comparison["challenger"]["dp_epsilon"] == 2.97
