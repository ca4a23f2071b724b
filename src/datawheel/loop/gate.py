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
from datawheel.i18n.catalog import N_

__all__ = ["ERASURE_RETRAIN", "POLICY_RETRAIN", "GateResult", "decide", "paired_test",
           "quality_check"]  # fmt: skip

# The reasons are stored in English (the audit log, the versions table) and shown in the
# interface language: each is one catalog template (N_), its verdict and named phrases
# translated inside it (``i18n.catalog.translate``).
PASS, FAIL = N_("pass"), N_("FAIL")
ERASURE_RETRAIN = N_("erasure retrain")
POLICY_RETRAIN = N_("retrain under the current privacy policy")
NOT_MEASURABLE, UNDEFINED = N_("not measurable"), N_("undefined")


def _verdict(ok: bool) -> str:
    return PASS if ok else FAIL


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
    test: PairedTest, gates: GatesConfig, *, erasure: bool, forced_by: str = ERASURE_RETRAIN
) -> tuple[bool, str]:
    """The verdict on the primary metric and its one-line reason; ``erasure`` (a retrain that
    must replace the champion, ``forced_by`` says why) asks only for non-inferiority."""
    conf, metric, n = f"{test.confidence:.0%}", test.metric, test.n
    new, old = f"{test.challenger:.4f}", f"{test.reference:.4f}"
    gain, lower = f"{test.improvement:+.4f}", f"{test.lower:+.4f}"
    if erasure:
        ok = bool(test.lower > -gates.erasure_margin)
        verdict, margin = _verdict(ok), f"{gates.erasure_margin:g}"
        return ok, N_(
            f"{verdict} {metric} {new} vs champion {old} on the same {n} rows ({gain}, {conf} "
            f"lower bound {lower}; {forced_by}: must stay above -{margin})"
        )
    ok = bool(
        test.significant and test.improvement > 0 and test.improvement >= gates.min_improvement
    )
    verdict, p_value, required = _verdict(ok), f"{test.p_value:.3g}", f"{gates.min_improvement:g}"
    return ok, N_(
        f"{verdict} {metric} {new} vs champion {old} on the same {n} rows ({gain}, {conf} "
        f"lower bound {lower}, p = {p_value}; required: lower bound > 0 and a gain >= {required})"
    )


def _fairness_check(
    challenger: Assessment, champion: Assessment, gates: GatesConfig
) -> tuple[bool, str]:
    gap, old = challenger.gap, champion.gap
    described = challenger.gated.text() if challenger.gated else f"{gap}"
    limit = f"{gates.max_fairness_gap:.3f}"
    if gap is None:  # nothing to compare: reported, never silently 0
        return True, N_(f"pass fairness gap {described} (not gated)")
    if gap <= gates.max_fairness_gap:
        return True, N_(f"pass fairness gap {described} <= limit {limit}")
    if old is not None and old > gates.max_fairness_gap and gap <= old:
        champion_old = f"{old:.4f}"
        return True, N_(
            f"pass fairness gap {described} above limit {limit} but no worse than the "
            f"champion's {champion_old}"
        )
    champion_gap = NOT_MEASURABLE if old is None else f"{old:.4f}"
    return False, N_(f"FAIL fairness gap {described} > limit {limit} (champion {champion_gap})")


def _baseline_check(challenger: Assessment) -> tuple[bool, str]:
    primary = challenger.primary
    vs = primary["vs_baseline"]
    ok = challenger.beats_baseline
    verdict, metric = _verdict(ok), primary["metric"]
    primary_value = UNDEFINED if primary["value"] is None else f"{primary['value']:.4f}"
    reference, lower = f"{vs['reference']:.4f}", f"{vs['lower']:+.4f}"
    conf = f"{primary['confidence']:.0%}"
    return ok, N_(
        f"{verdict} beats the trivial baseline: {metric} {primary_value} vs {reference} "
        f"({conf} lower bound of the gain {lower}, required > 0)"
    )


def _latency_check(latency_ms: float, gates: GatesConfig) -> tuple[bool, str]:
    ok = latency_ms <= gates.max_latency_ms
    verdict, p99, limit = _verdict(ok), f"{latency_ms:.2f}", f"{gates.max_latency_ms:g}"
    return ok, N_(f"{verdict} p99 latency {p99} ms (limit {limit} ms)")


def decide(
    challenger: Assessment,
    champion: Assessment,
    *,
    challenger_latency_ms: float,
    gates: GatesConfig,
    erasure: bool = False,
    forced_by: str = ERASURE_RETRAIN,
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
        _latency_check(challenger_latency_ms, gates),
    ]
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
        epsilon, delta = f"{privacy['epsilon']:.2f}", f"{privacy['delta']:g}"
        reasons.append(
            N_(f"info trained with DP-SGD: epsilon {epsilon} (delta {delta}) spent on the "
               "training split")
        )  # fmt: skip
    comparison = {
        "metric": test.metric,
        "rows": test.n,
        "erasure": erasure and forced_by == ERASURE_RETRAIN,
        "non_inferiority": forced_by if erasure else None,  # why being no worse sufficed
        "paired": test.to_dict(),
        "challenger": {
            **side(challenger, challenger_latency_ms),
            "dp_epsilon": privacy["epsilon"] if privacy else None,
        },
        "champion": side(champion),
    }
    return GateResult("reject" if failed else "promote", reasons, comparison)
