"""`status` flags a champion trained under a privacy policy the current one forbids."""

from __future__ import annotations

from pathlib import Path

import yaml

from datawheel.project.pipeline import Project
from datawheel.project.status import project_status


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
