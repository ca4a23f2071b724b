"""What the console's pages show, read from the store. Each query is bounded: by tenant and day
on the usage counters (their primary key), by index or ``LIMIT`` on the logs — never a scan of the
whole prediction log per page view."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import and_, case, desc, func, select

from datawheel.store.db import (
    api_key_details,
    api_keys,
    audit,
    feedback,
    predictions,
    reading,
    stage_events,
    tenants,
    usage,
)
from datawheel.store.workspace import Workspace

__all__ = [
    "audit_page",
    "feedback_counts",
    "feedback_examples",
    "live_accuracy",
    "stage_history",
    "tenant_keys",
    "tenant_overview",
    "tenants_usage",
    "usage_by_day",
]


def _days_back(days: int, today: datetime | None = None) -> list[str]:
    today = today or datetime.now(UTC)
    return [(today - timedelta(days=n)).strftime("%Y-%m-%d") for n in range(days - 1, -1, -1)]


def usage_by_day(ws: Workspace, tenant_id: str, *, days: int = 30) -> list[dict[str, Any]]:
    """The tenant's counters for the last ``days`` days: one row per day and endpoint."""
    since = _days_back(days)[0]
    with reading(ws.engine) as conn:
        rows = conn.execute(
            select(usage.c.day, usage.c.endpoint, usage.c.requests, usage.c.rows)
            .where(usage.c.tenant_id == tenant_id, usage.c.day >= since)
            .order_by(desc(usage.c.day), usage.c.endpoint)
        ).all()
    return [dict(r._mapping) for r in rows]


def tenant_overview(ws: Workspace, tenant_id: str, *, days: int = 14) -> dict[str, Any]:
    """Requests per day (all endpoints) for a chart, and the last ``days`` days' totals."""
    per_day = dict.fromkeys(_days_back(days), 0)
    totals: dict[str, int] = {}
    for row in usage_by_day(ws, tenant_id, days=days):
        per_day[row["day"]] = per_day.get(row["day"], 0) + row["requests"]
        totals[row["endpoint"]] = totals.get(row["endpoint"], 0) + row["requests"]
    return {"per_day": list(per_day.items()), "totals": totals}


def tenant_keys(ws: Workspace, tenant_id: str) -> list[dict[str, Any]]:
    """The tenant's keys, newest first, with the console's name and expiry where given."""
    with reading(ws.engine) as conn:
        rows = conn.execute(
            select(
                api_keys.c.id,
                api_keys.c.role,
                api_keys.c.created_at,
                api_keys.c.revoked_at,
                api_key_details.c.name,
                api_key_details.c.expires_on,
                api_key_details.c.created_by,
            )
            .outerjoin(api_key_details, api_key_details.c.key_id == api_keys.c.id)
            .where(api_keys.c.tenant_id == tenant_id)
            .order_by(desc(api_keys.c.created_at))
        ).all()
    return [dict(r._mapping) for r in rows]


def tenants_usage(ws: Workspace, month: str) -> list[dict[str, Any]]:
    """Every tenant with its plan, state and this month's requests and rows."""
    totals = (
        select(
            usage.c.tenant_id,
            func.sum(usage.c.requests).label("requests"),
            func.sum(usage.c.rows).label("rows"),
        )
        .where(usage.c.day.like(f"{month}-%"))
        .group_by(usage.c.tenant_id)
        .subquery()
    )
    with reading(ws.engine) as conn:
        rows = conn.execute(
            select(
                tenants.c.id,
                tenants.c.name,
                tenants.c.plan,
                tenants.c.active,
                tenants.c.created_at,
                func.coalesce(totals.c.requests, 0).label("requests"),
                func.coalesce(totals.c.rows, 0).label("rows"),
            )
            .outerjoin(totals, totals.c.tenant_id == tenants.c.id)
            .order_by(tenants.c.name)
        ).all()
    return [dict(r._mapping) for r in rows]


def feedback_counts(ws: Workspace, *, days: int = 30) -> dict[str, list[tuple[str, int]]]:
    """Feedback of the last ``days`` days counted by issue (the spec's ``groupby("issue")``),
    by model version and by tenant, largest first."""
    since = _days_back(days)[0]
    recent = feedback.c.created_at >= since
    with reading(ws.engine) as conn:
        by_issue = conn.execute(
            select(func.coalesce(feedback.c.issue, "(none)"), func.count())
            .where(recent)
            .group_by(feedback.c.issue)
            .order_by(desc(func.count()))
        ).all()
        by_model = conn.execute(
            select(predictions.c.model_version, func.count())
            .join(predictions, predictions.c.id == feedback.c.prediction_id)
            .where(recent)
            .group_by(predictions.c.model_version)
            .order_by(desc(func.count()))
        ).all()
        by_tenant = conn.execute(
            select(func.coalesce(tenants.c.name, "(none)"), func.count())
            .select_from(feedback)
            .outerjoin(tenants, tenants.c.id == feedback.c.tenant_id)
            .where(recent)
            .group_by(tenants.c.name)
            .order_by(desc(func.count()))
        ).all()
    return {
        "issue": [tuple(r) for r in by_issue],
        "model": [tuple(r) for r in by_model],
        "tenant": [tuple(r) for r in by_tenant],
    }


def feedback_examples(
    ws: Workspace,
    *,
    issue: str | None = None,
    model: str | None = None,
    tenant: str | None = None,
    limit: int = 50,
) -> list[dict[str, Any]]:
    """The newest feedback rows matching the filters, with the prediction they are about. The
    features are the anonymized ones the log holds; comments were scrubbed of PII on arrival."""
    stmt = (
        select(
            feedback.c.id,
            feedback.c.created_at,
            feedback.c.issue,
            feedback.c.label,
            feedback.c.rating,
            feedback.c.comment,
            predictions.c.model_version,
            predictions.c.label.label("predicted"),
            predictions.c.features,
            tenants.c.name.label("tenant"),
        )
        .join(predictions, predictions.c.id == feedback.c.prediction_id)
        .outerjoin(tenants, tenants.c.id == feedback.c.tenant_id)
        .order_by(desc(feedback.c.created_at))
        .limit(limit)
    )
    if issue:
        stmt = stmt.where(
            feedback.c.issue.is_(None) if issue == "(none)" else feedback.c.issue == issue
        )
    if model:
        stmt = stmt.where(predictions.c.model_version == model)
    if tenant:
        stmt = stmt.where(tenants.c.name == tenant)
    with reading(ws.engine) as conn:
        rows = conn.execute(stmt).all()
    return [dict(r._mapping) for r in rows]


def live_accuracy(ws: Workspace, *, days: int = 30) -> list[dict[str, Any]]:
    """Per day and model version: labelled feedback received and how often the prediction
    matched the label the user gave."""
    since = _days_back(days)[0]
    day = func.substr(feedback.c.created_at, 1, 10)
    with reading(ws.engine) as conn:
        rows = conn.execute(
            select(
                day.label("day"),
                predictions.c.model_version,
                func.count().label("labelled"),
                func.sum(case((predictions.c.label == feedback.c.label, 1), else_=0)).label(
                    "correct"
                ),
            )
            .join(predictions, predictions.c.id == feedback.c.prediction_id)
            .where(and_(feedback.c.created_at >= since, feedback.c.label.is_not(None)))
            .group_by(day, predictions.c.model_version)
            .order_by(day, predictions.c.model_version)
        ).all()
    return [
        {**dict(r._mapping), "accuracy": (r.correct or 0) / r.labelled if r.labelled else None}
        for r in rows
    ]


def stage_history(ws: Workspace, *, limit: int = 20) -> list[dict[str, Any]]:
    """The latest stage changes, newest first."""
    with reading(ws.engine) as conn:
        rows = conn.execute(
            select(stage_events).order_by(desc(stage_events.c.id)).limit(limit)
        ).all()
    return [dict(r._mapping) for r in rows]


def audit_page(
    ws: Workspace, *, action: str | None = None, actor: str | None = None, limit: int = 200
) -> list[dict[str, Any]]:
    """The newest audit entries, optionally only one action (prefix) or actor (substring)."""
    stmt = select(audit).order_by(desc(audit.c.seq)).limit(limit)
    if action:
        stmt = stmt.where(audit.c.action.like(f"{action}%"))
    if actor:
        stmt = stmt.where(audit.c.actor.like(f"%{actor}%"))
    with reading(ws.engine) as conn:
        rows = conn.execute(stmt).all()
    return [{**dict(r._mapping), "details": json.loads(r.details)} for r in rows]
