"""Shared fixtures: workspaces on SQLite (always) and PostgreSQL (when one answers), a secret
key, and one small trained project reused by the serving and loop tests.

Markers (registered in pyproject.toml; ``make test-fast`` deselects both):
- ``slow``: trains a real model (every test that uses ``trained_project``, marked here
  automatically) or runs end to end for more than a couple of seconds;
- ``e2e``: starts other processes — ``python -m datawheel`` commands, ``datawheel serve``
  process trees, torchrun, a fresh venv, headless chromium.

PostgreSQL: ``DATAWHEEL_TEST_DB_URL`` names the server (``off`` turns the half off); unset, a
server at 127.0.0.1:5432 (database ``test``, user ``postgres``, trust) is used when it answers
within a second or two. The pytest header says which, and why.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ.setdefault("OMP_NUM_THREADS", "1")

from datawheel.secret import SecretKey
from datawheel.store.workspace import Workspace
from pg_schemas import fresh_schema_url

PG_ENV = "DATAWHEEL_TEST_DB_URL"
PG_LOCAL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
PG_OFF = {"", "0", "off", "no", "none", "false"}


def _find_postgres() -> tuple[str | None, str]:
    """(URL or None, why): the server the PostgreSQL half runs on, or why it is skipped."""
    given = os.environ.get(PG_ENV)
    if given is not None:
        if given.strip().lower() in PG_OFF:
            return None, f"{PG_ENV}={given!r} turns it off"
        from sqlalchemy.engine import make_url

        return given, f"on {make_url(given).render_as_string(hide_password=True)} ({PG_ENV})"
    try:
        import psycopg
    except ImportError:
        return None, "psycopg is not installed (pip install -e '.[postgres]')"
    try:
        dsn = "host=127.0.0.1 port=5432 dbname=test user=postgres connect_timeout=2"
        psycopg.connect(dsn).close()
    except psycopg.Error as exc:
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        return None, f"no server answers at 127.0.0.1:5432/test ({reason}); set {PG_ENV}"
    return PG_LOCAL, "on the local server at 127.0.0.1:5432/test"


PG_URL, PG_WHY = _find_postgres()


def pytest_report_header(config: pytest.Config) -> str:
    if PG_URL:
        return f"PostgreSQL half: runs {PG_WHY}"
    return f"PostgreSQL half: skipped, {PG_WHY}"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Every test that needs ``trained_project`` (directly or through ``project_copy``, the
    serving and loop fixtures) trains a real model once per session: it is ``slow``. Every
    test on the session's Ray cluster runs on one xdist worker (``--dist loadgroup``)."""
    for item in items:
        fixtures = getattr(item, "fixturenames", ())
        if "trained_project" in fixtures:
            item.add_marker(pytest.mark.slow)
        if "ray_cluster" in fixtures:  # one xdist worker runs them all: one cluster, not two
            item.add_marker(pytest.mark.xdist_group("ray"))


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest) -> Iterator[str | None]:
    """None (SQLite in the workspace) or a PostgreSQL URL; the PostgreSQL half skips, saying
    why, when no server answers (see the module docstring)."""
    if request.param == "sqlite":
        yield None
        return
    if not PG_URL:
        pytest.skip(f"PostgreSQL half skipped: {PG_WHY}")
    yield from fresh_schema_url(PG_URL)


@pytest.fixture
def pg_schema_url() -> Iterator[str]:
    """A fresh schema on the PostgreSQL server found above (tests that need PostgreSQL and
    nothing else); skips, saying why, when none answers."""
    if not PG_URL:
        pytest.skip(f"needs PostgreSQL: {PG_WHY}")
    yield from fresh_schema_url(PG_URL)


@pytest.fixture
def secret_key() -> SecretKey:
    return SecretKey.generate()


@pytest.fixture
def workspace(tmp_path: Path, db_url: str | None, secret_key: SecretKey) -> Iterator[Workspace]:
    with Workspace.open(tmp_path / ".datawheel", db_url=db_url, key=secret_key, role="admin") as ws:
        yield ws


@pytest.fixture
def sqlite_workspace(tmp_path: Path, secret_key: SecretKey) -> Iterator[Workspace]:
    with Workspace.open(tmp_path / ".datawheel", key=secret_key, role="admin") as ws:
        yield ws


@pytest.fixture(scope="session")
def trained_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The income example, trained once for the session (3 epochs, 2,000 rows): v1 champion.
    Tests that use it are marked ``slow`` (``pytest_collection_modifyitems``)."""
    from datawheel.io import read_table, write_table
    from datawheel.project.pipeline import Project
    from datawheel.project.scaffold import init_project

    directory = tmp_path_factory.mktemp("trained") / "income"
    project_file = init_project(directory)
    data = directory / "data" / "adult.csv.gz"
    write_table(read_table(data).head(2000), data)
    # the MLP: these tests pin its behaviour (probabilities explained, folded layers, ONNX);
    # model.kind auto and the other families have their own tests
    text = project_file.read_text().replace("epochs: 30", "epochs: 3")
    text = text.replace("model: {kind: auto", "model: {kind: mlp")
    project_file.write_text(text)
    Project.load(project_file).run()
    return project_file


@pytest.fixture
def project_copy(trained_project: Path, tmp_path: Path) -> Path:
    """A private copy of the trained project (files, key and workspace) for tests that write."""
    target = tmp_path / "income"
    shutil.copytree(trained_project.parent, target)
    return target / "datawheel.yaml"


# Real outside services (SeaweedFS, a two-node Ray cluster) for the scale-out tests.
from services import ray_cluster, s3_env, seaweedfs  # noqa: E402, F401
