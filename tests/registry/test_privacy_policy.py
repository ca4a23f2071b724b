"""`status` flags a champion trained under a privacy policy the current one forbids."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
import yaml

from datawheel.project.pipeline import Project
from datawheel.project.status import project_status
from datawheel.store.db import runs


def test_status_when_policy_now_rules_a_feature_then_alert(project_copy: Path) -> None:
    raw = yaml.safe_load(project_copy.read_text())
    project = Project.load(project_copy)
    ws = project.open_workspace()
    try:
        assert not any("privacy" in a for a in project_status(ws, project.config)["alerts"])
        raw["privacy"]["columns"]["native_country"] = "drop"  # a feature of v1
        project_copy.write_text(yaml.safe_dump(raw))
        stricter = Project.load(project_copy)
        alerts = project_status(ws, stricter.config)["alerts"]
    finally:
        ws.close()
    assert any("'native_country'" in a and "privacy policy" in a for a in alerts)


@pytest.mark.parametrize("recorded_in_run", [True, False], ids=["run-params", "older-version"])
def test_status_when_a_rule_changed_off_the_features_then_alert_from_run_or_model(
    project_copy: Path, recorded_in_run: bool
) -> None:
    """The policy a version was trained under comes from its run's parameters (no model load);
    a version trained before runs recorded it is read from the model's extras instead."""
    raw = yaml.safe_load(project_copy.read_text())
    raw["privacy"]["columns"]["email"] = "redact"  # was pseudonymize; email is no feature
    project_copy.write_text(yaml.safe_dump(raw))
    project = Project.load(project_copy)
    with project.open_workspace() as ws:
        if not recorded_in_run:
            with ws.engine.begin() as conn:
                for run_id, params in conn.execute(sa.select(runs.c.id, runs.c.params)).all():
                    params.pop("privacy", None)
                    conn.execute(sa.update(runs).where(runs.c.id == run_id).values(params=params))
        alerts = project_status(ws, project.config)["alerts"]
    assert any("older privacy policy" in a and "email" in a for a in alerts), alerts
