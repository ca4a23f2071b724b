"""The promotion gate: a challenger replaces the champion only when it is better beyond noise
on the same rows, better than the trivial baseline, as fair, and fast enough.

Quality is judged on the primary metric (``evaluate.metric``) with a paired bootstrap over the
rows both models scored (``evaluate.statistics.paired_bootstrap``): the improvement's lower
confidence bound (``gates.confidence``, one-sided) must be above 0 and the improvement at least
``gates.min_improvement``; a tie never promotes. A retrain forced by an erasure must only be
non-inferior — its lower bound above ``-gates.erasure_margin`` — because the champion learned
from a subject who asked to be forgotten and has to go.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from datawheel.config import GatesConfig
from datawheel.errors import UsageError
from datawheel.evaluate.assess import Assessment
from datawheel.evaluate.statistics import PairedTest, paired_bootstrap

__all__ = ["GateResult", "decide", "paired_test", "quality_check"]


@dataclass
class GateResult:
    decision: str  # "promote" or "reject"
    reasons: list[str]  # one line per check, passed or failed
    comparison: dict[str, Any] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return self.decision == "promote"


def paired_test(challenger: Assessment, champion: Assessment, *, confidence: float) -> PairedTest:
    """The challenger against the champion on the rows both scored; other rows are an error."""
    if challenger.y is None or champion.y is None or challenger.pred is None:
        raise UsageError("the gate needs per-row predictions of both models (use assess)")
    if challenger.primary["metric"] != champion.primary["metric"]:
        raise UsageError(
            f"the models were scored on different metrics: {challenger.primary['metric']} "
            f"and {champion.primary['metric']}"
        )
    same = (
        challenger.y.shape == champion.y.shape
        and np.array_equal(challenger.y, champion.y)
        and challenger.classes == champion.classes
    )
    if not same:
        raise UsageError(
            f"champion and challenger were not scored on the same rows "
            f"({len(champion.y)} vs {len(challenger.y)} rows, or other labels)",
            hint="assess both models on one evaluation table",
        )
    assert champion.pred is not None
    return paired_bootstrap(
        challenger.metric,
        challenger.y,
        champion.pred,
        challenger.pred,
        challenger.pos,
        confidence=confidence,
    )


def quality_check(
    test: PairedTest, gates: GatesConfig, *, erasure: bool, forced_by: str = "erasure retrain"
) -> tuple[bool, str]:
    """The verdict on the primary metric and its one-line reason; ``erasure`` (a retrain that
    must replace the champion, ``forced_by`` says why) asks only for non-inferiority."""
    conf = f"{test.confidence:.0%}"
    head = (
        f"{test.metric} {test.challenger:.4f} vs champion {test.reference:.4f} on the same "
        f"{test.n} rows ({test.improvement:+.4f}, {conf} lower bound {test.lower:+.4f}"
    )
    if erasure:
        ok = bool(test.lower > -gates.erasure_margin)
        rule = f"; {forced_by}: must stay above -{gates.erasure_margin:g})"
    else:
        ok = bool(
            test.significant and test.improvement > 0 and test.improvement >= gates.min_improvement
        )
        rule = (
            f", p = {test.p_value:.3g}; required: lower bound > 0 and a gain >= "
            f"{gates.min_improvement:g})"
        )
    return ok, f"{'pass' if ok else 'FAIL'} {head}{rule}"


def _fairness_check(
    challenger: Assessment, champion: Assessment, gates: GatesConfig
) -> tuple[bool, str]:
    limit, gap, old = gates.max_fairness_gap, challenger.gap, champion.gap
    described = challenger.gated.text() if challenger.gated else f"{gap}"
    if gap is None:  # nothing to compare: reported, never silently 0
        return True, f"pass fairness gap {described} (not gated)"
    if gap <= limit:
        return True, f"pass fairness gap {described} <= limit {limit:.3f}"
    if old is not None and old > limit and gap <= old:
        return True, (
            f"pass fairness gap {described} above limit {limit:.3f} but no worse than the "
            f"champion's {old:.4f}"
        )
    champion_gap = "not measurable" if old is None else f"{old:.4f}"
    return False, f"FAIL fairness gap {described} > limit {limit:.3f} (champion {champion_gap})"


def _baseline_check(challenger: Assessment) -> tuple[bool, str]:
    primary = challenger.primary
    vs = primary["vs_baseline"]
    ok = challenger.beats_baseline
    value = "undefined" if primary["value"] is None else f"{primary['value']:.4f}"
    return ok, (
        f"{'pass' if ok else 'FAIL'} beats the trivial baseline: {primary['metric']} {value} vs "
        f"{vs['reference']:.4f} ({primary['confidence']:.0%} lower bound of the gain "
        f"{vs['lower']:+.4f}, required > 0)"
    )


def decide(
    challenger: Assessment,
    champion: Assessment,
    *,
    challenger_latency_ms: float,
    gates: GatesConfig,
    erasure: bool = False,
    forced_by: str = "erasure retrain",
) -> GateResult:
    """Check quality (paired, same rows), the baseline, fairness and latency; every check's
    verdict is kept as a reason. ``erasure``: the retrain replaces a champion that has to go
    (it learned from an erased subject, or reads what the privacy policy now forbids:
    ``forced_by`` names which), so non-inferiority suffices."""
    test = paired_test(challenger, champion, confidence=gates.confidence)
    checks = [
        quality_check(test, gates, erasure=erasure, forced_by=forced_by),
        _baseline_check(challenger),
        _fairness_check(challenger, champion, gates),
    ]
    ok = challenger_latency_ms <= gates.max_latency_ms
    checks.append(
        (ok, f"{'pass' if ok else 'FAIL'} p99 latency {challenger_latency_ms:.2f} ms "
             f"(limit {gates.max_latency_ms:g} ms)")
    )  # fmt: skip
    reasons = [text for _, text in checks]
    failed = not all(ok for ok, _ in checks)

    def side(a: Assessment, latency: float | None = None) -> dict[str, Any]:
        out = {
            test.metric: a.primary["value"],
            "accuracy": a.metrics.get("accuracy"),
            "rmse": a.metrics.get("rmse"),
            "f1": a.metrics.get("f1"),
            "roc_auc": a.metrics.get("roc_auc"),
            "fairness_gap": a.gap,
            "fairness": a.gated.to_dict() if a.gated else None,
        }
        if latency is not None:
            out["latency_p99_ms"] = latency
        return out

    privacy = challenger.metrics.get("privacy")
    if privacy:  # shown beside the checks: a DP model's accuracy is read with its epsilon
        reasons.append(
            f"info trained with DP-SGD: epsilon {privacy['epsilon']:.2f} "
            f"(delta {privacy['delta']:g}) spent on the training split"
        )
    comparison = {
        "metric": test.metric,
        "rows": test.n,
        "erasure": erasure and forced_by == "erasure retrain",
        "non_inferiority": forced_by if erasure else None,  # why being no worse sufficed
        "paired": test.to_dict(),
        "challenger": {
            **side(challenger, challenger_latency_ms),
            "dp_epsilon": privacy["epsilon"] if privacy else None,
        },
        "champion": side(champion),
    }
    return GateResult("reject" if failed else "promote", reasons, comparison)
