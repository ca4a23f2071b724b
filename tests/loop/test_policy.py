"""The retraining policy: by hand, erasure, live accuracy, drift, schedule (injected clock)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from datawheel.config import LoopConfig
from datawheel.loop.feedback import LiveAccuracy
from datawheel.loop.policy import should_retrain

from .helpers import NOW

POLICY = LoopConfig(accuracy_below=0.9, min_labeled_feedback=100, retrain_every="7d")
GOOD = LiveAccuracy("v1", 200, 190, 0.95, 0.91, 0.97)
BAD = LiveAccuracy("v1", 200, 150, 0.75, 0.69, 0.80)
FEW = LiveAccuracy("v1", 20, 10, 0.5, 0.3, 0.7)


@pytest.mark.parametrize(
    ("live", "kwargs", "fire", "says"),
    [
        (GOOD, {}, False, "live accuracy 0.9500 >= 0.9"),  # all well
        (GOOD, {"force": True}, True, "requested by hand"),  # --force
        (GOOD, {"needs_retraining": True}, True, "erased subject"),  # after an erasure
        (BAD, {}, True, "below 0.9"),  # accuracy under the bar with enough labels
        (FEW, {}, False, "need 100"),  # too few labels to judge
        (GOOD, {"drifted": {"age": 0.41}}, True, "age 0.410"),  # a feature drifted
        (GOOD, {"drifted": None}, False, "not judged"),  # too few requests for drift
        (GOOD, {"last_trained_at": NOW - timedelta(days=8)}, True, "scheduled"),  # overdue
        (GOOD, {"last_trained_at": NOW - timedelta(days=2)}, False, "next scheduled"),  # not yet
    ],
)
def test_should_retrain_when_case_then_fires_or_not(live, kwargs, fire, says):
    trigger = should_retrain(live, POLICY, now=NOW, **{"drifted": {}, **kwargs})
    assert trigger.fire is fire
    assert says in trigger.reason
    assert len(trigger.checks) == 5


def test_should_retrain_when_no_schedule_then_age_never_fires():
    trigger = should_retrain(
        GOOD, LoopConfig(), drifted={}, last_trained_at=NOW - timedelta(days=400), now=NOW
    )
    assert not trigger.fire
