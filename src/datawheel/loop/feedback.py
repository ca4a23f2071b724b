"""Feedback analytics: counts by issue / model / tenant with trends, and live accuracy."""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy import Integer, func, select

from datawheel.errors import UsageError
from datawheel.loop.window import since, utc_now
from datawheel.store.db import feedback, predictions, reading, tenants
from datawheel.store.workspace import Workspace

__all__ = [
    "LiveAccuracy",
    "LiveError",
    "feedback_stats",
    "labeled_feedback",
    "live_accuracy",
    "live_error",
    "wilson_interval",
]

GroupBy = Literal["issue", "model", "tenant"]
TREND_DAYS = 7  # the trend compares the last 7 days with the 7 before


def _group_key(by: str) -> Any:
    key = {
        "issue": func.coalesce(feedback.c.issue, "(none)"),
        "model": predictions.c.model_version,
        "tenant": func.coalesce(tenants.c.name, "(none)"),
    }.get(by)
    if key is None:
        raise UsageError(f"cannot group feedback by {by!r}", hint="use issue, model or tenant")
    return key


def feedback_stats(
    ws: Workspace,
    *,
    by: GroupBy = "issue",
    window: str | None = None,
    now: datetime | None = None,
) -> list[dict[str, Any]]:
    """One row per group: count, share, labeled, mean rating, counts per day and a 7-day trend.

    ``window`` (e.g. ``"30d"``) keeps only feedback newer than that; the trend always compares
    the last 7 days with the previous 7 (``trend`` = last / previous - 1, None when previous is 0).
    """
    now = now or utc_now()
    key = _group_key(by)
    day = func.substr(feedback.c.created_at, 1, 10)
    stmt = (
        select(
            key.label("group"),
            day.label("day"),
            func.count().label("count"),
            func.count(feedback.c.label).label("labeled"),
            func.sum(feedback.c.rating).label("rating_sum"),
            func.count(feedback.c.rating).label("rated"),
        )
        .select_from(
            feedback.join(predictions, predictions.c.id == feedback.c.prediction_id).outerjoin(
                tenants, tenants.c.id == feedback.c.tenant_id
            )
        )
        .group_by(key, day)
    )
    cutoff = since(window, now)
    if cutoff:
        stmt = stmt.where(feedback.c.created_at >= cutoff)
    with reading(ws.engine) as conn:
        rows = conn.execute(stmt).all()
    last_start = (now - timedelta(days=TREND_DAYS - 1)).date().isoformat()
    prev_start = (now - timedelta(days=2 * TREND_DAYS - 1)).date().isoformat()
    groups: dict[str, dict[str, Any]] = defaultdict(
        lambda: {"count": 0, "labeled": 0, "rating_sum": 0, "rated": 0, "daily": {}}
    )
    for r in rows:
        g = groups[r.group]
        g["count"] += r.count
        g["labeled"] += r.labeled
        g["rating_sum"] += r.rating_sum or 0
        g["rated"] += r.rated
        g["daily"][r.day] = r.count
    total = sum(g["count"] for g in groups.values()) or 1
    out = []
    for name, g in sorted(groups.items(), key=lambda kv: (-kv[1]["count"], str(kv[0]))):
        last = sum(n for d, n in g["daily"].items() if d >= last_start)
        previous = sum(n for d, n in g["daily"].items() if prev_start <= d < last_start)
        out.append(
            {
                "group": name,
                "count": g["count"],
                "share": g["count"] / total,
                "labeled": g["labeled"],
                "mean_rating": g["rating_sum"] / g["rated"] if g["rated"] else None,
                "last_7d": last,
                "previous_7d": previous,
                "trend": (last / previous - 1) if previous else None,
                "daily": dict(sorted(g["daily"].items())),
            }
        )
    return out


@dataclass(frozen=True)
class LiveAccuracy:
    model_version: str
    labeled: int
    correct: int
    accuracy: float | None
    low: float | None  # Wilson 95 % interval
    high: float | None
    window: str | None = None  # e.g. "30d"; None = all time


def wilson_interval(correct: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """The Wilson score interval of a proportion: sane at 0 %, 100 % and small n."""
    p = correct / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


_wilson = wilson_interval  # the old private name


def live_accuracy(
    ws: Workspace, model_version: str, *, window: str | None = None, now: datetime | None = None
) -> LiveAccuracy:
    """Accuracy of one version's served predictions against the labels customers sent back."""
    stmt = (
        select(
            func.count().label("n"),
            func.sum((predictions.c.label == feedback.c.label).cast(Integer)).label("ok"),
        )
        .select_from(feedback.join(predictions, predictions.c.id == feedback.c.prediction_id))
        .where(
            feedback.c.label.is_not(None),
            predictions.c.model_version == model_version,
            predictions.c.shadow.is_(False),
        )
    )
    cutoff = since(window, now)
    if cutoff:
        stmt = stmt.where(feedback.c.created_at >= cutoff)
    with reading(ws.engine) as conn:
        row = conn.execute(stmt).one()  # an aggregate: always one row
    n, ok = int(row.n or 0), int(row.ok or 0)
    if n == 0:
        return LiveAccuracy(model_version, 0, 0, None, None, None, window)
    low, high = wilson_interval(ok, n)
    return LiveAccuracy(model_version, n, ok, ok / n, low, high, window)


@dataclass(frozen=True)
class LiveError:
    """A regression's error on the values customers sent back (served vs true)."""

    model_version: str
    labeled: int
    rmse: float | None
    mae: float | None
    low: float | None  # 95 % bootstrap interval of the RMSE
    high: float | None
    window: str | None = None


def live_error(
    ws: Workspace, model_version: str, *, window: str | None = None, now: datetime | None = None
) -> LiveError:
    """RMSE and MAE of one regression version's served values against labeled feedback."""
    import numpy as np

    stmt = (
        select(predictions.c.label.label("served"), feedback.c.label)
        .select_from(feedback.join(predictions, predictions.c.id == feedback.c.prediction_id))
        .where(
            feedback.c.label.is_not(None),
            predictions.c.model_version == model_version,
            predictions.c.shadow.is_(False),
        )
    )
    cutoff = since(window, now)
    if cutoff:
        stmt = stmt.where(feedback.c.created_at >= cutoff)
    with reading(ws.engine) as conn:
        pairs = []
        for served, label in conn.execute(stmt).all():
            try:
                pairs.append((float(served), float(label)))
            except (TypeError, ValueError):
                continue  # a label sent before the model became a regression
    if not pairs:
        return LiveError(model_version, 0, None, None, None, None, window)
    err = np.asarray([p - y for p, y in pairs])
    rng = np.random.default_rng(0)
    boot = np.sqrt((err[rng.integers(0, len(err), size=(200, len(err)))] ** 2).mean(axis=1))
    low, high = np.quantile(boot, [0.025, 0.975])
    return LiveError(
        model_version, len(err), float(np.sqrt((err**2).mean())), float(np.abs(err).mean()),
        float(low), float(high), window,
    )  # fmt: skip


def labeled_feedback(ws: Workspace) -> list[dict[str, Any]]:
    """The latest label per served prediction, with the anonymized features it was made on,
    the tenant who sent it, and what the serving model answered (label, probabilities)."""
    stmt = (
        select(
            predictions.c.id,
            predictions.c.features,
            predictions.c.subject,
            predictions.c.model_version,
            predictions.c.label.label("served_label"),
            predictions.c.probabilities,
            feedback.c.tenant_id,
            feedback.c.subject.label("feedback_subject"),
            feedback.c.label,
            feedback.c.created_at,
        )
        .select_from(feedback.join(predictions, predictions.c.id == feedback.c.prediction_id))
        .where(feedback.c.label.is_not(None), predictions.c.shadow.is_(False))
        .order_by(feedback.c.created_at, feedback.c.id)
    )
    with reading(ws.engine) as conn:
        rows = conn.execute(stmt).all()
    latest: dict[str, dict[str, Any]] = {}
    for r in rows:
        latest[r.id] = {
            "prediction_id": r.id,
            "features": r.features,
            "subject": r.subject or r.feedback_subject,
            "label": r.label,
            "tenant_id": r.tenant_id,
            "model_version": r.model_version,
            "served_label": r.served_label,
            "confidence": _confidence(r.probabilities),
            "served": r.probabilities or {},
            "created_at": r.created_at,
        }
    return list(latest.values())


def _confidence(served: dict[str, Any] | None) -> float | None:
    """The top class probability; None for a regression's logged value."""
    if not served or ("value" in served and set(served) <= {"value", "low", "high"}):
        return None
    return max(served.values())
