"""The promotion gate: a challenger replaces the champion only if better, as fair, and fast."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from datawheel.config import GatesConfig
from datawheel.evaluate.assess import Assessment

__all__ = ["GateResult", "decide"]


@dataclass
class GateResult:
    decision: str  # "promote" or "reject"
    reasons: list[str]  # one line per check, passed or failed
    comparison: dict[str, Any] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return self.decision == "promote"


def decide(
    challenger: Assessment,
    champion: Assessment,
    *,
    challenger_latency_ms: float,
    gates: GatesConfig,
) -> GateResult:
    """Check accuracy (RMSE for a regression), fairness and latency; every check's verdict
    is kept as a reason."""
    reasons: list[str] = []
    failed = False

    if "rmse" in challenger.metrics:  # regression: the error metric, lower is better
        new_acc, old_acc = challenger.metrics["rmse"], champion.metrics.get("rmse", float("inf"))
        gain = (old_acc - new_acc) / old_acc if old_acc and old_acc != float("inf") else 1.0
        ok = gain >= gates.min_improvement
        reasons.append(
            f"{'pass' if ok else 'FAIL'} rmse {new_acc:.4g} vs champion {old_acc:.4g} "
            f"({gain:+.2%} lower, required >= {gates.min_improvement:+.2%})"
        )
    else:
        new_acc, old_acc = challenger.metrics["accuracy"], champion.metrics["accuracy"]
        gain = new_acc - old_acc
        ok = gain >= gates.min_improvement
        reasons.append(
            f"{'pass' if ok else 'FAIL'} accuracy {new_acc:.4f} vs champion {old_acc:.4f} "
            f"({gain:+.4f}, required >= {gates.min_improvement:+.4f})"
        )
    failed |= not ok

    limit = gates.max_fairness_gap
    if challenger.gap <= limit:
        ok, note = True, f"<= limit {limit:.3f}"
    elif champion.gap > limit and challenger.gap <= champion.gap:
        ok, note = (
            True,
            f"above limit {limit:.3f} but no worse than the champion's {champion.gap:.4f}",
        )
    else:
        ok, note = False, f"> limit {limit:.3f} (champion {champion.gap:.4f})"
    failed |= not ok
    reasons.append(
        f"{'pass' if ok else 'FAIL'} fairness gap (equalized odds, {challenger.gap_column or '-'}) "
        f"{challenger.gap:.4f} {note}"
    )

    ok = challenger_latency_ms <= gates.max_latency_ms
    failed |= not ok
    reasons.append(
        f"{'pass' if ok else 'FAIL'} p99 latency {challenger_latency_ms:.2f} ms "
        f"(limit {gates.max_latency_ms:g} ms)"
    )

    privacy = challenger.metrics.get("privacy")
    if privacy:  # shown beside the checks: a DP model's accuracy is read with its epsilon
        reasons.append(
            f"info trained with DP-SGD: epsilon {privacy['epsilon']:.2f} "
            f"(delta {privacy['delta']:g}) spent on the training split"
        )
    metric = "rmse" if "rmse" in challenger.metrics else "accuracy"
    comparison = {
        "metric": metric,
        "challenger": {
            metric: new_acc,
            "f1": challenger.metrics.get("f1"),
            "roc_auc": challenger.metrics.get("roc_auc"),
            "fairness_gap": challenger.gap,
            "latency_p99_ms": challenger_latency_ms,
            "dp_epsilon": privacy["epsilon"] if privacy else None,
        },
        "champion": {
            metric: old_acc,
            "f1": champion.metrics.get("f1"),
            "roc_auc": champion.metrics.get("roc_auc"),
            "fairness_gap": champion.gap,
        },
    }
    return GateResult("reject" if failed else "promote", reasons, comparison)
