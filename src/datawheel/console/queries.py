"""What the console's pages show, read from the store. Each query is bounded: by tenant and day
on the usage counters (their primary key), by index or ``LIMIT`` on the logs — never a scan of the
whole prediction log per page view."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import desc, func, select

from datawheel.store.db import (
    api_key_details,
    api_key_usage,
    api_keys,
    audit,
    feedback,
    feedback_daily,
    predictions,
    reading,
    stage_events,
    tenants,
    usage,
)
from datawheel.store.workspace import Workspace

__all__ = [
    "audit_page",
    "days_back",
    "feedback_counts",
    "feedback_examples",
    "live_accuracy",
    "loop_checks",
    "stage_history",
    "tenant_keys",
    "tenant_overview",
    "tenants_usage",
    "usage_by_day",
]


def days_back(days: int, today: datetime | None = None) -> list[str]:
    """The last ``days`` UTC days, oldest first, as ``YYYY-MM-DD``."""
    return _days_back(days, today)


def _days_back(days: int, today: datetime | None = None) -> list[str]:
    today = today or datetime.now(UTC)
    return [(today - timedelta(days=n)).strftime("%Y-%m-%d") for n in range(days - 1, -1, -1)]


def usage_by_day(ws: Workspace, tenant_id: str, *, days: int = 30) -> list[dict[str, Any]]:
    """The tenant's counters for the last ``days`` days: one row per day and endpoint, with
    the requests answered, their rows, and the requests refused (4xx) or failed (5xx)."""
    since = _days_back(days)[0]
    with reading(ws.engine) as conn:
        rows = conn.execute(
            select(
                usage.c.day,
                usage.c.endpoint,
                usage.c.requests,
                usage.c.rows,
                usage.c.client_errors,
                usage.c.server_errors,
            )
            .where(usage.c.tenant_id == tenant_id, usage.c.day >= since)
            .order_by(desc(usage.c.day), usage.c.endpoint)
        ).all()
    return [dict(r._mapping) for r in rows]


def tenant_overview(
    ws: Workspace, tenant_id: str, *, days: int = 14, month: str = ""
) -> dict[str, Any]:
    """Per day of the last ``days`` days: requests answered and errors (4xx + 5xx), for the
    chart; per endpoint: totals; and the quota rows used by each day of ``month`` (cumulative),
    for the quota line."""
    from datawheel.serve.metering import QUOTA_ENDPOINTS

    window = _days_back(max(days, 31))
    shown = set(window[-days:])
    per_day = {d: {"requests": 0, "errors": 0, "client": 0, "server": 0} for d in window[-days:]}
    totals: dict[str, int] = {}
    errors = {"client": 0, "server": 0}
    quota_rows: dict[str, int] = {}
    for row in usage_by_day(ws, tenant_id, days=len(window)):
        day = row["day"]
        if month and day.startswith(month) and row["endpoint"] in QUOTA_ENDPOINTS:
            quota_rows[day] = quota_rows.get(day, 0) + row["rows"]
        if day not in shown:
            continue
        slot = per_day[day]
        slot["requests"] += row["requests"]
        slot["client"] += row["client_errors"]
        slot["server"] += row["server_errors"]
        slot["errors"] += row["client_errors"] + row["server_errors"]
        totals[row["endpoint"]] = totals.get(row["endpoint"], 0) + row["requests"]
        errors["client"] += row["client_errors"]
        errors["server"] += row["server_errors"]
    running, cumulative = 0, []
    for day in sorted(quota_rows):
        running += quota_rows[day]
        cumulative.append((day, running))
    return {
        "per_day": list(per_day.items()),
        "totals": totals,
        "errors": errors,
        "quota_by_day": cumulative,
    }


def tenant_keys(ws: Workspace, tenant_id: str) -> list[dict[str, Any]]:
    """The tenant's keys, newest first, with the console's name and expiry where given, and
    when each was last used (to the auth cache's seconds; None: never)."""
    with reading(ws.engine) as conn:
        rows = conn.execute(
            select(
                api_keys.c.id,
                api_keys.c.role,
                api_keys.c.created_at,
                api_keys.c.revoked_at,
                api_keys.c.expires_at,
                api_key_details.c.name,
                api_key_details.c.expires_on,
                api_key_details.c.created_by,
                api_key_usage.c.last_used_at,
            )
            .outerjoin(api_key_details, api_key_details.c.key_id == api_keys.c.id)
            .outerjoin(api_key_usage, api_key_usage.c.key_id == api_keys.c.id)
            .where(api_keys.c.tenant_id == tenant_id)
            .order_by(desc(api_keys.c.created_at))
        ).all()
    return [dict(r._mapping) for r in rows]


def tenants_usage(ws: Workspace, month: str) -> list[dict[str, Any]]:
    """Every tenant with its plan, state and this month's requests, rows and errors."""
    totals = (
        select(
            usage.c.tenant_id,
            func.sum(usage.c.requests).label("requests"),
            func.sum(usage.c.rows).label("rows"),
            func.sum(usage.c.client_errors + usage.c.server_errors).label("errors"),
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
                func.coalesce(totals.c.errors, 0).label("errors"),
            )
            .outerjoin(totals, totals.c.tenant_id == tenants.c.id)
            .order_by(tenants.c.name)
        ).all()
    return [dict(r._mapping) for r in rows]


def feedback_counts(ws: Workspace, *, days: int = 30) -> dict[str, list[tuple[str, int]]]:
    """Feedback of the last ``days`` days counted by issue (the spec's ``groupby("issue")``),
    by model version and by tenant, largest first — from the per-day counters."""
    since = _days_back(days)[0]
    recent = feedback_daily.c.day >= since
    total = func.sum(feedback_daily.c.feedback)

    def by(column: Any, *joins: Any) -> list[tuple[str, int]]:
        stmt = select(column, total).select_from(feedback_daily)
        for table, on in joins:
            stmt = stmt.outerjoin(table, on)
        stmt = stmt.where(recent).group_by(column).order_by(desc(total))
        with reading(ws.engine) as conn:
            return [(name or "(none)", int(n)) for name, n in conn.execute(stmt).all()]

    return {
        "issue": by(feedback_daily.c.issue),
        "model": by(feedback_daily.c.model_version),
        "tenant": by(tenants.c.name, (tenants, tenants.c.id == feedback_daily.c.tenant_id)),
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
    matched the label the user gave — from the per-day counters."""
    since = _days_back(days)[0]
    with reading(ws.engine) as conn:
        rows = conn.execute(
            select(
                feedback_daily.c.day,
                feedback_daily.c.model_version,
                func.sum(feedback_daily.c.labelled).label("labelled"),
                func.sum(feedback_daily.c.correct).label("correct"),
            )
            .where(feedback_daily.c.day >= since)
            .group_by(feedback_daily.c.day, feedback_daily.c.model_version)
            .having(func.sum(feedback_daily.c.labelled) > 0)
            .order_by(feedback_daily.c.day, feedback_daily.c.model_version)
        ).all()
    return [{**dict(r._mapping), "accuracy": (r.correct or 0) / r.labelled} for r in rows]


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


def loop_checks(ws: Workspace, *, limit: int = 10) -> list[dict[str, Any]]:
    """The loop's latest policy checks, newest first: when, who, whether it fired and why
    (the ``loop.check`` entries of the audit log)."""
    with reading(ws.engine) as conn:
        rows = conn.execute(
            select(audit.c.seq, audit.c.ts, audit.c.actor, audit.c.target, audit.c.details)
            .where(audit.c.action == "loop.check")
            .order_by(desc(audit.c.seq))
            .limit(limit)
        ).all()
    return [{**dict(r._mapping), "details": json.loads(r.details)} for r in rows]
