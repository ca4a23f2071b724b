"""Drift kept per served version, feature and day: the latest measure of a day wins, a report
too thin to judge is not kept, and the console reads a version's last days back."""

from __future__ import annotations

from datetime import UTC, datetime

from datawheel.store.drift_days import drift_over_time, record_drift


def _report(version: str, psi: float, *, judged: bool = True) -> dict:
    features = [
        {"feature": "age", "psi": psi, "drifted": psi > 0.25},
        {"feature": "sex", "psi": 0.01, "drifted": False},
    ]
    return {"version": version, "recent": 500, "judged": judged, "features": features}


def test_record_drift_when_measured_twice_a_day_then_the_latest_kept(workspace) -> None:
    assert record_drift(workspace.engine, [_report("v1", 0.1), _report("v2", 0.9)]) == 4
    assert record_drift(workspace.engine, [_report("v1", 0.3)]) == 2
    assert record_drift(workspace.engine, [_report("v1", 0.8, judged=False)]) == 0
    history = drift_over_time(workspace.engine, "v1")
    today = datetime.now(UTC).strftime("%Y-%m-%d")
    assert history == {"age": [(today, 0.3, True)], "sex": [(today, 0.01, False)]}
    assert drift_over_time(workspace.engine, "v2")["age"][0][1:] == (0.9, True)
    assert drift_over_time(workspace.engine, "v3") == {}
