"""Feedback analytics: counts by issue / model / tenant, and live accuracy from labeled feedback."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import Integer, func, select

from datawheel.errors import UsageError
from datawheel.store.db import feedback, predictions, tenants
from datawheel.store.workspace import Workspace

__all__ = ["LiveAccuracy", "feedback_stats", "labeled_feedback", "live_accuracy"]

GroupBy = Literal["issue", "model", "tenant"]


def feedback_stats(ws: Workspace, *, by: GroupBy = "issue") -> list[dict[str, Any]]:
    """One row per group: count, share of all feedback, labeled count, mean rating."""
    key = {
        "issue": func.coalesce(feedback.c.issue, "(none)"),
        "model": predictions.c.model_version,
        "tenant": func.coalesce(tenants.c.name, "(none)"),
    }.get(by)
    if key is None:
        raise UsageError(f"cannot group feedback by {by!r}", hint="use issue, model or tenant")
    stmt = (
        select(
            key.label("group"),
            func.count().label("count"),
            func.count(feedback.c.label).label("labeled"),
            func.avg(feedback.c.rating).label("mean_rating"),
        )
        .select_from(
            feedback.join(predictions, predictions.c.id == feedback.c.prediction_id).outerjoin(
                tenants, tenants.c.id == feedback.c.tenant_id
            )
        )
        .group_by(key)
        .order_by(func.count().desc())
    )
    with ws.engine.connect() as conn:
        rows = conn.execute(stmt).all()
    total = sum(r.count for r in rows) or 1
    return [
        {
            "group": r.group,
            "count": r.count,
            "share": r.count / total,
            "labeled": r.labeled,
            "mean_rating": None if r.mean_rating is None else float(r.mean_rating),
        }
        for r in rows
    ]


@dataclass(frozen=True)
class LiveAccuracy:
    model_version: str
    labeled: int
    correct: int
    accuracy: float | None
    low: float | None  # Wilson 95 % interval
    high: float | None


def _wilson(correct: int, n: int, z: float = 1.96) -> tuple[float, float]:
    p = correct / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def live_accuracy(ws: Workspace, model_version: str) -> LiveAccuracy:
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
    with ws.engine.connect() as conn:
        row = conn.execute(stmt).first()
    n, ok = int(row.n or 0), int(row.ok or 0)
    if n == 0:
        return LiveAccuracy(model_version, 0, 0, None, None, None)
    low, high = _wilson(ok, n)
    return LiveAccuracy(model_version, n, ok, ok / n, low, high)


def labeled_feedback(ws: Workspace) -> list[dict[str, Any]]:
    """The latest label per prediction, with the anonymized features it was made on."""
    stmt = (
        select(
            predictions.c.id,
            predictions.c.features,
            predictions.c.subject,
            feedback.c.label,
            feedback.c.created_at,
        )
        .select_from(feedback.join(predictions, predictions.c.id == feedback.c.prediction_id))
        .where(feedback.c.label.is_not(None), predictions.c.shadow.is_(False))
        .order_by(feedback.c.created_at)
    )
    with ws.engine.connect() as conn:
        rows = conn.execute(stmt).all()
    latest: dict[str, dict[str, Any]] = {}
    for r in rows:
        latest[r.id] = {
            "prediction_id": r.id,
            "features": r.features,
            "subject": r.subject,
            "label": r.label,
        }
    return list(latest.values())
