"""The pipeline's guards: roles are enforced in the library; augmentation reaches training only."""

from __future__ import annotations

from pathlib import Path

import pytest

from datawheel.errors import PermissionDenied
from datawheel.project.pipeline import Project
from datawheel.registry.versions import promote, rollback
from datawheel.store.datasets import get_dataset


@pytest.mark.parametrize("role", ["analyst", "service"])
def test_run_when_role_may_not_train_then_permission_denied(project_copy: Path, monkeypatch, role):
    monkeypatch.setenv("DATAWHEEL_ROLE", role)
    with pytest.raises(PermissionDenied, match=f"role '{role}' may not train"):
        Project.load(project_copy).run()


def test_promote_when_analyst_then_permission_denied(project_copy: Path):
    with Project.load(project_copy).open_workspace(role="analyst") as ws:
        with pytest.raises(PermissionDenied):
            promote(ws, "v1")
        with pytest.raises(PermissionDenied):
            rollback(ws)


def test_run_when_augment_copies_then_only_training_split_grows(project_copy: Path):
    text = project_copy.read_text()
    project_copy.write_text(
        text.replace("rules: []", "rules: []\n  augment: {copies: 1, numeric_noise: 0.05}")
    )
    project = Project.load(project_copy)
    report = project.run()
    with project.open_workspace() as ws:
        train = get_dataset(ws, report.datasets["train"])
        val = get_dataset(ws, report.datasets["val"])
        test = get_dataset(ws, report.datasets["test"])
    assert train.rows == 2 * report.rows["split"] == report.rows["augment"]
    assert val.rows + test.rows + report.rows["split"] == report.rows["anonymize"]
