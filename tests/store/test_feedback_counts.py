"""Feedback counters: built once from the log that predates them, then kept up as feedback
arrives; the console's counts and live accuracy read them."""

from __future__ import annotations

from sqlalchemy import insert

from datawheel.console import queries
from datawheel.store.db import feedback, now_iso, predictions
from datawheel.store.feedback_counts import count_feedback, ensure_feedback_counts


def _prediction(conn, pid: str, label: str, at: str) -> None:
    conn.execute(
        insert(predictions).values(
            id=pid, tenant_id=None, model_version="v1", subject=None, features={},
            label=label, probabilities={}, latency_ms=1.0, shadow=False, created_at=at,
        )
    )  # fmt: skip


def _feedback(conn, fid: str, pid: str, label: str | None, issue: str | None, at: str) -> None:
    conn.execute(
        insert(feedback).values(
            id=fid, prediction_id=pid, tenant_id=None, subject=None, label=label, issue=issue,
            comment=None, rating=None, created_at=at,
        )
    )  # fmt: skip


def test_counts_when_built_then_kept_up_then_match_the_log(workspace):
    at = now_iso()
    with workspace.engine.begin() as conn:
        _prediction(conn, "p1", "yes", at)
        _prediction(conn, "p2", "no", at)
        _feedback(conn, "f1", "p1", "yes", "slow", at)
        _feedback(conn, "f2", "p2", "yes", "wrong_label", at)
        _feedback(conn, "f3", "p2", None, None, at)
    ensure_feedback_counts(workspace.engine)
    ensure_feedback_counts(workspace.engine)  # once only: a second call adds nothing
    with workspace.engine.begin() as conn:
        _feedback(conn, "f4", "p1", "yes", "slow", at)
        count_feedback(
            conn, created_at=at, issue="slow", model_version="v1", tenant_id=None,
            label="yes", predicted="yes",
        )  # fmt: skip
    counts = queries.feedback_counts(workspace)
    assert dict(counts["issue"]) == {"slow": 2, "wrong_label": 1, "(none)": 1}
    assert dict(counts["model"]) == {"v1": 4}
    accuracy = queries.live_accuracy(workspace)
    assert [(a["labelled"], a["correct"]) for a in accuracy] == [(3, 2)]
