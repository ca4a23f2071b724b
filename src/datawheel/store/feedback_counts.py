"""Feedback counted per day, issue, model version and tenant as it arrives (the spec's
``groupby("issue")`` without scanning the feedback log on every look)."""

from __future__ import annotations

import contextlib
import functools

from sqlalchemy import Connection, Engine, bindparam, case, delete, func, insert, literal, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError

from datawheel.store.db import feedback, feedback_daily, meta, predictions

__all__ = ["count_feedback", "ensure_feedback_counts"]

_BUILT = "feedback_daily_built"


@functools.cache
def _upsert(dialect_name: str) -> postgresql.Insert | sqlite.Insert:
    dialect = postgresql if dialect_name == "postgresql" else sqlite
    names = ("day", "issue", "model_version", "tenant_id", "feedback", "labelled", "correct")
    stmt = dialect.insert(feedback_daily).values({n: bindparam(n) for n in names})
    return stmt.on_conflict_do_update(
        index_elements=["day", "issue", "model_version", "tenant_id"],
        set_={
            n: getattr(feedback_daily.c, n) + getattr(stmt.excluded, n)
            for n in ("feedback", "labelled", "correct")
        },
    )


def count_feedback(
    conn: Connection,
    *,
    created_at: str,
    issue: str | None,
    model_version: str,
    tenant_id: str | None,
    label: str | float | None,
    predicted: str,
) -> None:
    """Add one feedback row to its day's counters, in the caller's transaction."""
    conn.execute(
        _upsert(conn.dialect.name),
        {
            "day": created_at[:10],
            "issue": issue or "",
            "model_version": model_version,
            "tenant_id": tenant_id or "",
            "feedback": 1,
            "labelled": int(label is not None),
            "correct": int(label is not None and label == predicted),
        },
    )


def ensure_feedback_counts(engine: Engine) -> None:
    """Count the feedback logged before the counters existed, once per workspace (one
    transaction: on SQLite it holds the write lock, so no feedback lands in between)."""
    with contextlib.suppress(IntegrityError):  # another worker built them first (PostgreSQL)
        _build(engine)


def _build(engine: Engine) -> None:
    with engine.begin() as conn:
        if conn.execute(select(meta.c.value).where(meta.c.key == _BUILT)).first():
            return
        day = func.substr(feedback.c.created_at, 1, 10)
        issue = func.coalesce(feedback.c.issue, literal(""))
        tenant = func.coalesce(feedback.c.tenant_id, literal(""))
        labelled = func.sum(case((feedback.c.label.is_not(None), 1), else_=0))
        correct = func.sum(case((predictions.c.label == feedback.c.label, 1), else_=0))
        conn.execute(delete(feedback_daily))
        conn.execute(
            insert(feedback_daily).from_select(
                ["day", "issue", "model_version", "tenant_id", "feedback", "labelled", "correct"],
                select(
                    day,
                    issue,
                    predictions.c.model_version,
                    tenant,
                    func.count(),
                    labelled,
                    func.coalesce(correct, 0),
                )
                .join(predictions, predictions.c.id == feedback.c.prediction_id)
                .group_by(day, issue, predictions.c.model_version, tenant),
            )
        )
        conn.execute(insert(meta).values(key=_BUILT, value="1"))
