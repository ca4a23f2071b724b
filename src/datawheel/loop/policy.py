"""When to retrain: the ``loop:`` policy of the project file, applied to live measurements."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from datawheel.config import LoopConfig
from datawheel.i18n.catalog import N_
from datawheel.loop.feedback import LiveAccuracy, LiveError
from datawheel.loop.window import parse_duration, utc_now

__all__ = ["Trigger", "should_retrain"]


@dataclass(frozen=True)
class Trigger:
    fire: bool
    reason: str  # the checks that fired, or why none did
    checks: list[str] = field(default_factory=list)  # every check's verdict


def _error(live: LiveError, policy: LoopConfig, offline: float | None) -> tuple[bool, str]:
    if live.labeled < policy.min_labeled_feedback:
        return False, N_(
            f"{live.labeled} labeled feedback rows, need {policy.min_labeled_feedback}"
        )
    assert live.rmse is not None
    if offline is None or offline <= 0:
        return False, N_(f"live rmse {live.rmse:.4g} (no offline rmse to compare)")
    limit = offline * policy.error_ratio_above
    if live.rmse > limit:
        return True, N_(
            f"live rmse {live.rmse:.4g} on {live.labeled} labels is above {limit:.4g} "
            f"({policy.error_ratio_above:g} × the offline {offline:.4g})"
        )
    return False, N_(f"live rmse {live.rmse:.4g} <= {limit:.4g}")


def _accuracy(live: LiveAccuracy, policy: LoopConfig) -> tuple[bool, str]:
    if live.labeled < policy.min_labeled_feedback:
        return False, N_(
            f"{live.labeled} labeled feedback rows, need {policy.min_labeled_feedback}"
        )
    assert live.accuracy is not None
    if live.accuracy < policy.accuracy_below:
        return True, N_(
            f"live accuracy {live.accuracy:.4f} on {live.labeled} labels is below "
            f"{policy.accuracy_below:g}"
        )
    return False, N_(f"live accuracy {live.accuracy:.4f} >= {policy.accuracy_below:g}")


def _drift(drifted: dict[str, float] | None, policy: LoopConfig) -> tuple[bool, str]:
    if drifted is None:
        return False, N_("drift not judged (too few recent requests)")
    if drifted:
        worst = ", ".join(f"{k} {v:.3f}" for k, v in sorted(drifted.items(), key=lambda kv: -kv[1]))
        return True, N_(f"drift: PSI above {policy.drift_psi_above:g} for {worst}")
    return False, N_(f"no feature's PSI above {policy.drift_psi_above:g}")


def _schedule(
    last_trained_at: datetime | None, policy: LoopConfig, now: datetime
) -> tuple[bool, str]:
    if policy.retrain_every is None or last_trained_at is None:
        return False, N_("no retraining schedule")
    age = now - last_trained_at
    if age >= parse_duration(policy.retrain_every):
        return True, N_(f"scheduled: last training {age.days} d ago, every {policy.retrain_every}")
    return False, N_(f"next scheduled retrain in {parse_duration(policy.retrain_every) - age}")


def should_retrain(
    live: LiveAccuracy | LiveError,
    policy: LoopConfig,
    *,
    offline_error: float | None = None,
    force: bool = False,
    drifted: dict[str, float] | None = None,
    last_trained_at: datetime | None = None,
    needs_retraining: bool = False,
    now: datetime | None = None,
) -> Trigger:
    """Fire by hand, after an erasure, on low live accuracy, on drift, or on schedule.

    ``drifted``: feature → PSI of the features over the threshold ({} = none; None = not
    judged). ``last_trained_at``: when the champion was trained or a retrain last started.
    """
    checks: list[tuple[bool, str]] = [
        (force, N_("requested by hand") if force else N_("not forced")),
        (
            needs_retraining,
            N_("the champion learned from an erased subject")
            if needs_retraining
            else N_("no erased subject in the champion"),
        ),
        _error(live, policy, offline_error)
        if isinstance(live, LiveError)
        else _accuracy(live, policy),
        _drift(drifted, policy),
        _schedule(last_trained_at, policy, now or utc_now()),
    ]
    fired = [text for ok, text in checks if ok]
    reason = "; ".join(fired) if fired else "; ".join(t for _, t in checks[2:])
    return Trigger(bool(fired), reason, [("fire: " if ok else "") + t for ok, t in checks])
