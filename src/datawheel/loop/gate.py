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
    """Check accuracy, fairness and latency; every check's verdict is kept as a reason."""
    reasons: list[str] = []
    failed = False

    new_acc, old_acc = challenger.metrics["accuracy"], champion.metrics["accuracy"]
    gain = new_acc - old_acc
    ok = gain >= gates.min_improvement
    failed |= not ok
    reasons.append(
        f"{'pass' if ok else 'FAIL'} accuracy {new_acc:.4f} vs champion {old_acc:.4f} "
        f"({gain:+.4f}, required >= {gates.min_improvement:+.4f})"
    )

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

    comparison = {
        "challenger": {
            "accuracy": new_acc,
            "f1": challenger.metrics.get("f1"),
            "roc_auc": challenger.metrics.get("roc_auc"),
            "fairness_gap": challenger.gap,
            "latency_p99_ms": challenger_latency_ms,
        },
        "champion": {
            "accuracy": old_acc,
            "f1": champion.metrics.get("f1"),
            "roc_auc": champion.metrics.get("roc_auc"),
            "fairness_gap": champion.gap,
        },
    }
    return GateResult("reject" if failed else "promote", reasons, comparison)
