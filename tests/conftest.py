"""Shared fixtures: workspaces on SQLite (always) and PostgreSQL (when DATAWHEEL_TEST_DB_URL is
set), a secret key, and one small trained project reused by the serving and loop tests."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ.setdefault("OMP_NUM_THREADS", "1")

from datawheel.secret import SecretKey
from datawheel.store.workspace import Workspace

PG_URL = os.environ.get("DATAWHEEL_TEST_DB_URL")


def _pg_schema_url(base: str) -> Iterator[str]:
    """A fresh PostgreSQL schema per test, dropped afterwards, so tests never share rows."""
    import sqlalchemy as sa

    schema = f"dw_test_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(base)
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in base else "?"
    try:
        yield f"{base}{sep}options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest) -> Iterator[str | None]:
    """None (SQLite in the workspace) or a PostgreSQL URL; the PostgreSQL half skips, saying
    why, when no server was given."""
    if request.param == "sqlite":
        yield None
        return
    if not PG_URL:
        pytest.skip(
            "PostgreSQL half skipped: set DATAWHEEL_TEST_DB_URL (.ci/run does when one answers)"
        )
    yield from _pg_schema_url(PG_URL)


@pytest.fixture
def secret_key() -> SecretKey:
    return SecretKey.generate()


@pytest.fixture
def workspace(tmp_path: Path, db_url: str | None, secret_key: SecretKey) -> Iterator[Workspace]:
    with Workspace.open(tmp_path / ".datawheel", db_url=db_url, key=secret_key) as ws:
        yield ws


@pytest.fixture
def sqlite_workspace(tmp_path: Path, secret_key: SecretKey) -> Iterator[Workspace]:
    with Workspace.open(tmp_path / ".datawheel", key=secret_key) as ws:
        yield ws


@pytest.fixture(scope="session")
def trained_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The income example, trained once for the session (3 epochs, 2,000 rows): v1 champion."""
    from datawheel.io import read_table, write_table
    from datawheel.project.pipeline import Project
    from datawheel.project.scaffold import init_project

    directory = tmp_path_factory.mktemp("trained") / "income"
    project_file = init_project(directory)
    data = directory / "data" / "adult.csv.gz"
    write_table(read_table(data).head(2000), data)
    text = project_file.read_text().replace("epochs: 30", "epochs: 3")
    project_file.write_text(text)
    Project.load(project_file).run()
    return project_file


@pytest.fixture
def project_copy(trained_project: Path, tmp_path: Path) -> Path:
    """A private copy of the trained project (files, key and workspace) for tests that write."""
    target = tmp_path / "income"
    shutil.copytree(trained_project.parent, target)
    return target / "datawheel.yaml"
