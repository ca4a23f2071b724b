"""When to retrain: the ``loop:`` policy of the project file, applied to live measurements."""

from __future__ import annotations

from dataclasses import dataclass

from datawheel.config import LoopConfig
from datawheel.loop.feedback import LiveAccuracy

__all__ = ["Trigger", "should_retrain"]


@dataclass(frozen=True)
class Trigger:
    fire: bool
    reason: str


def should_retrain(live: LiveAccuracy, policy: LoopConfig, *, force: bool = False) -> Trigger:
    """Fire on request, or when live accuracy on enough labeled feedback is below the bar."""
    if force:
        return Trigger(True, "requested by hand")
    if live.labeled < policy.min_labeled_feedback:
        return Trigger(
            False, f"{live.labeled} labeled feedback rows, need {policy.min_labeled_feedback}"
        )
    assert live.accuracy is not None
    if live.accuracy < policy.accuracy_below:
        return Trigger(
            True,
            f"live accuracy {live.accuracy:.4f} on {live.labeled} labels is below "
            f"{policy.accuracy_below:g}",
        )
    return Trigger(False, f"live accuracy {live.accuracy:.4f} >= {policy.accuracy_below:g}")
