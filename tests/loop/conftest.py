"""A private copy of the trained income project, opened, for loop tests that write."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from datawheel.project.pipeline import Project
from datawheel.store.workspace import Workspace


@dataclass
class Loop:
    project: Project
    ws: Workspace
    file: Path


@pytest.fixture
def loop_env(project_copy: Path) -> Iterator[Loop]:
    project = Project.load(project_copy)
    with project.open_workspace(actor="test") as ws:
        yield Loop(project, ws, project_copy)
