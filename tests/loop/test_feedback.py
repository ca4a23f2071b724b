"""Feedback analytics: counts by issue / model / tenant with a 7-day trend; live accuracy + CI."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import insert

from datawheel.loop.feedback import feedback_stats, live_accuracy, wilson_interval
from datawheel.store.db import feedback, predictions, tenants

from .helpers import NOW, days_ago, iso

# (days ago, tenant, model, issue, label sent, model's label)
ROWS = [
    (1, "acme", "v1", "wrong_prediction", "a", "b"),
    (2, "acme", "v1", "wrong_prediction", "a", "b"),
    (3, "acme", "v2", None, "a", "a"),
    (9, "globex", "v1", "slow", "b", "b"),
    (10, "globex", "v2", "wrong_prediction", "b", "a"),
    (40, "globex", "v2", None, None, "a"),  # outside a 30-day window; no label
]


def _fill(ws) -> None:
    with ws.engine.begin() as conn:
        for name in ("acme", "globex"):
            conn.execute(insert(tenants).values(id=name, name=name, plan="pro", created_at="x"))
        for ago, tenant, model, issue, label, served in ROWS:
            pid = uuid.uuid4().hex
            at = iso(days_ago(ago))
            conn.execute(
                insert(predictions).values(
                    id=pid,
                    tenant_id=tenant,
                    model_version=model,
                    features={},
                    label=served,
                    probabilities={},
                    latency_ms=1.0,
                    shadow=False,
                    created_at=at,
                )
            )
            conn.execute(
                insert(feedback).values(
                    id=uuid.uuid4().hex,
                    prediction_id=pid,
                    tenant_id=tenant,
                    label=label,
                    issue=issue,
                    rating=2,
                    created_at=at,
                )
            )


@pytest.mark.parametrize(
    ("by", "window", "expected"),
    [
        # group: (count, labeled, last 7 days, previous 7 days)
        (
            "issue",
            None,
            {"wrong_prediction": (3, 3, 2, 1), "(none)": (2, 1, 1, 0), "slow": (1, 1, 0, 1)},
        ),
        ("model", None, {"v1": (3, 3, 2, 1), "v2": (3, 2, 1, 1)}),
        ("tenant", None, {"acme": (3, 3, 3, 0), "globex": (3, 2, 0, 2)}),
        ("tenant", "30d", {"acme": (3, 3, 3, 0), "globex": (2, 2, 0, 2)}),  # 40-day-old row out
    ],
)
def test_feedback_stats_when_grouped_then_counts_shares_and_trend(
    sqlite_workspace, by, window, expected
):
    _fill(sqlite_workspace)
    rows = feedback_stats(sqlite_workspace, by=by, window=window, now=NOW)
    got = {r["group"]: (r["count"], r["labeled"], r["last_7d"], r["previous_7d"]) for r in rows}
    assert got == expected
    assert sum(r["share"] for r in rows) == pytest.approx(1.0)
    assert rows[0]["count"] == max(r["count"] for r in rows)  # largest group first
    for r in rows:
        assert sum(r["daily"].values()) == r["count"]
        if r["previous_7d"]:
            assert r["trend"] == pytest.approx(r["last_7d"] / r["previous_7d"] - 1)


@pytest.mark.parametrize(
    ("version", "window", "labeled", "accuracy"),
    [
        ("v1", None, 3, 1 / 3),  # 2 wrong in the last days, 1 right 9 days ago
        ("v1", "7d", 2, 0.0),  # only the recent, wrong ones
        ("v2", None, 2, 0.5),  # the unlabeled row does not count
        ("v9", None, 0, None),  # no feedback at all
    ],
)
def test_live_accuracy_when_window_then_counts_only_recent_labels(
    sqlite_workspace, version, window, labeled, accuracy
):
    _fill(sqlite_workspace)
    live = live_accuracy(sqlite_workspace, version, window=window, now=NOW)
    assert live.labeled == labeled
    if accuracy is None:
        assert live.accuracy is None and live.low is None
    else:
        assert live.accuracy == pytest.approx(accuracy)
        assert live.low <= live.accuracy <= live.high


@pytest.mark.parametrize(
    ("correct", "n", "low", "high"),
    [
        (50, 100, 0.4038, 0.5962),  # textbook value
        (0, 10, 0.0, 0.2775),  # never 0-width at 0 %
        (10, 10, 0.7225, 1.0),  # nor at 100 %
        (900, 1000, 0.8798, 0.9171),  # narrows with n
    ],
)
def test_wilson_interval_when_case_then_matches_reference(correct, n, low, high):
    lo, hi = wilson_interval(correct, n)
    assert lo == pytest.approx(low, abs=1e-4) and hi == pytest.approx(high, abs=1e-4)
