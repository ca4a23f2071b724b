"""The demo end to end at reduced size: the loop really turned."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from datawheel.project.demo import run_demo
from datawheel.project.pipeline import Project
from datawheel.registry.versions import gate_history, list_versions
from datawheel.store.audit import entries
from datawheel.store.db import feedback, predictions


@pytest.mark.slow
def test_demo_when_run_small_then_two_versions_gate_decision_and_valid_audit(tmp_path: Path):
    report, server = run_demo(tmp_path / "demo", traffic_rows=300, epochs=4)
    assert server is None
    assert report.loop.triggered and report.loop.decision in ("promote", "reject")
    assert report.predictions == 300 and report.feedback == 300
    assert report.report_path is not None and report.report_path.stat().st_size > 10_000
    html = report.report_path.read_text()
    assert "<svg" in html and "Gate decision" in html

    with Project.load(tmp_path / "demo" / "datawheel.yaml").open_workspace() as ws:
        versions = list_versions(ws)
        assert [v.id for v in versions] == ["v1", "v2"]
        decisions = gate_history(ws)
        assert len(decisions) == 1 and decisions[0]["challenger"] == "v2"
        expected_champion = "v2" if decisions[0]["decision"] == "promote" else "v1"
        assert {v.id: v.stage for v in versions}[expected_champion] == "champion"
        assert report.served_after == expected_champion  # the running server swapped live
        with ws.engine.connect() as conn:
            assert conn.execute(sa.select(sa.func.count()).select_from(predictions)).scalar() >= 300
            assert conn.execute(sa.select(sa.func.count()).select_from(feedback)).scalar() == 300
        actions = {e.action for e in entries(ws.engine)}
        assert {"dataset.create", "model.register", "loop.check", "gate.decision"} <= actions
        assert ws.verify_audit().ok
