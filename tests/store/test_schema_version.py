"""Schema versions on SQLite and PostgreSQL: a workspace of the first release (its frozen DDL and
real rows) opened by this code keeps every row and ends at the newest schema; a new workspace
and an upgraded one are the same schema; the migrations match the tables the code declares."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from datawheel.errors import PermissionDenied, UsageError
from datawheel.store import audit
from datawheel.store.db import metadata
from datawheel.store.schema_version import BASELINE, HEAD, migrate_workspace, revision
from datawheel.store.workspace import Workspace
from pg_schemas import fresh_schema_url

from .first_release import FIRST_RELEASE_AUDIT, FIRST_RELEASE_ROWS, build_first_release

SINCE_FIRST = (
    "0002",
    "0003",
    "0004",
    "0005",
    "0006",
)  # the revisions an upgrade of a first-release workspace runs


@pytest.fixture
def other_db_url(db_url: str | None, tmp_path: Path) -> Iterator[str | None]:
    """A second, empty database of the same kind as ``db_url`` (a fresh PostgreSQL schema)."""
    if db_url is None:
        yield f"sqlite:///{tmp_path / 'other.db'}"
        return
    base = db_url.split("options=-csearch_path")[0].rstrip("?&")  # the server, without a schema
    yield from fresh_schema_url(base)


def _engine(db_url: str | None, root: Path) -> sa.Engine:
    root.mkdir(parents=True, exist_ok=True)
    return sa.create_engine(db_url or f"sqlite:///{root / 'datawheel.db'}")


def _rows(engine: sa.Engine, tables: list[str]) -> dict[str, list[str]]:
    """Every row of ``tables``, as sorted canonical JSON (JSON columns parsed)."""
    found = sa.MetaData()
    found.reflect(engine, only=tables)
    out = {}
    with engine.connect() as conn:
        for name in tables:
            rows = []
            for row in conn.execute(sa.select(found.tables[name])).mappings():
                values = {k: json.loads(v) if _is_json(v) else v for k, v in row.items()}
                rows.append(json.dumps(values, sort_keys=True, default=str))
            out[name] = sorted(rows)
    return out


def _is_json(value: Any) -> bool:
    return isinstance(value, str) and value[:1] in ("{", "[")


def _schema(engine: sa.Engine) -> dict[str, Any]:
    """The reflected schema: columns, keys, indexes (with their WHERE) and unique constraints."""
    inspector = sa.inspect(engine)
    out = {}
    for table in sorted(inspector.get_table_names()):
        out[table] = {
            "columns": [
                (c["name"], str(c["type"]), c["nullable"], str(c.get("default")))
                for c in inspector.get_columns(table)
            ],
            "pk": inspector.get_pk_constraint(table)["constrained_columns"],
            "fks": sorted(
                (tuple(f["constrained_columns"]), f["referred_table"], tuple(f["referred_columns"]))
                for f in inspector.get_foreign_keys(table)
            ),
            "indexes": sorted(
                (  # name, columns, unique, the partial index's WHERE
                    i["name"],
                    tuple(i["column_names"]),
                    bool(i["unique"]),
                    sorted((k, str(v)) for k, v in i.get("dialect_options", {}).items()),
                )
                for i in inspector.get_indexes(table)
            ),
            "unique": sorted(
                tuple(u["column_names"]) for u in inspector.get_unique_constraints(table)
            ),
        }
    return out


def _alembic_upgrade(engine: sa.Engine, target: str = "head", *, down: bool = False) -> None:
    """Alembic itself, from wherever the database stands to ``target``."""
    config = Config()
    config.set_main_option("script_location", "datawheel.store:migrations")
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        (command.downgrade if down else command.upgrade)(config, target)


def test_open_when_workspace_is_of_the_first_release_then_rows_survive_at_head(
    tmp_path, db_url, other_db_url, secret_key
):
    root = tmp_path / "old"
    engine = _engine(db_url, root)
    build_first_release(engine, secret_key)
    tables = [*sorted(FIRST_RELEASE_ROWS), "audit", "meta"]
    before = _rows(engine, tables)
    engine.dispose()

    if db_url is not None:  # PostgreSQL: opening names the one command, which upgrades it
        with pytest.raises(UsageError, match="datawheel migrate"):
            Workspace.open(root, db_url=db_url, key=secret_key)
        change = migrate_workspace(root, db_url=db_url, key=secret_key, role="admin")
        assert (change.before, change.after, change.applied) == (BASELINE, HEAD, SINCE_FIRST)
    with Workspace.open(root, db_url=db_url, key=secret_key) as ws:  # SQLite: opening upgrades
        with ws.engine.connect() as conn:
            assert revision(conn) == HEAD
        after = _rows(ws.engine, tables)
        kept = [t for t in tables if t not in ("audit", "meta")]  # the log and its head move on
        assert {t: _columns_of(after[t], before[t]) for t in kept} == {t: before[t] for t in kept}
        assert _fingerprint(after["meta"]) == _fingerprint(before["meta"]) == secret_key.fingerprint
        entries = audit.entries(ws.engine)
        first = entries[: len(FIRST_RELEASE_AUDIT)]
        old = [(e.actor, e.action, e.target, e.details) for e in first]
        assert old == [tuple(e) for e in FIRST_RELEASE_AUDIT]  # every entry kept, re-chained
        # the first keyed append re-chains 0.1.0's SHA-256 log (audit.upgrade), then the upgrade
        assert [e.action for e in entries[len(old) :]] == ["audit.upgrade", "schema.upgrade"]
        assert entries[-1].details == {"from": BASELINE, "to": HEAD, "revisions": [*SINCE_FIRST]}
        assert ws.verify_audit().ok
        with Workspace.open(tmp_path / "new", db_url=other_db_url) as fresh:
            assert _schema(ws.engine) == _schema(fresh.engine)


def _columns_of(rows: list[str], old: list[str]) -> list[str]:
    """``rows`` cut to the columns of ``old`` (the first release's): columns added since are
    new and empty, and not the data that had to survive."""
    if not old:
        return rows
    names = json.loads(old[0]).keys()
    return sorted(
        json.dumps({n: json.loads(r)[n] for n in names}, sort_keys=True, default=str) for r in rows
    )


def _fingerprint(meta_rows: list[str]) -> str:
    return next(
        json.loads(r)["value"] for r in meta_rows if json.loads(r)["key"] == "key_fingerprint"
    )


def test_open_when_first_release_data_then_the_library_reads_and_writes_it(tmp_path, secret_key):
    from datawheel.registry.versions import list_versions
    from datawheel.serve.tenants import create_tenant, list_tenants

    engine = _engine(None, tmp_path / "ws")
    build_first_release(engine, secret_key)
    engine.dispose()
    with Workspace.open(tmp_path / "ws", key=secret_key, role="admin") as ws:
        assert [(v.id, v.stage) for v in list_versions(ws)] == [("v1", "champion")]
        create_tenant(ws, "globex", plan="free", plans=["free", "pro"])
        assert [t["name"] for t in list_tenants(ws)] == ["acme", "globex"]
        assert ws.verify_audit().ok


def test_new_workspace_when_created_then_schema_equals_upgrade_from_empty(
    tmp_path, db_url, other_db_url
):
    upgraded = _engine(other_db_url, tmp_path / "unused")
    _alembic_upgrade(upgraded)
    with Workspace.open(tmp_path / "ws", db_url=db_url) as ws:
        assert _schema(ws.engine) == _schema(upgraded)
        assert "alembic_version" in _schema(ws.engine)
    upgraded.dispose()


def test_migrations_when_run_from_empty_then_match_the_declared_tables(tmp_path, db_url):
    engine = _engine(db_url, tmp_path)
    _alembic_upgrade(engine)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    engine.dispose()
    # a table, column or index added to store/db.py without a migration shows up here
    assert diff == []


def test_head_when_read_from_the_migrations_then_equals_the_code_constant():
    config = Config()
    config.set_main_option("script_location", "datawheel.store:migrations")
    assert ScriptDirectory.from_config(config).get_heads() == [HEAD]


def test_downgrade_when_back_to_the_baseline_then_schema_equals_the_first_release(
    tmp_path, db_url, other_db_url
):
    released = _engine(db_url, tmp_path / "released")
    build_first_release(released)
    expected = _schema(released)
    released.dispose()
    engine = _engine(other_db_url, tmp_path / "unused")
    _alembic_upgrade(engine)
    _alembic_upgrade(engine, BASELINE, down=True)
    schema = _schema(engine)
    engine.dispose()
    assert schema.pop("alembic_version")
    assert schema == expected  # 0001 is the released schema, and 0002 undoes cleanly


def test_open_when_database_is_of_a_newer_release_then_says_to_upgrade_datawheel(tmp_path, db_url):
    with Workspace.open(tmp_path / "ws", db_url=db_url):
        pass  # a database at head
    engine = _engine(db_url, tmp_path / "ws")
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE alembic_version SET version_num = '0999'"))
    engine.dispose()
    with pytest.raises(UsageError, match=r"0999.*upgrade datawheel"):
        Workspace.open(tmp_path / "ws", db_url=db_url)


def test_migrate_when_many_open_at_once_then_one_upgrade_is_recorded(tmp_path, db_url, secret_key):
    root = tmp_path / "old"
    engine = _engine(db_url, root)
    build_first_release(engine, secret_key)
    engine.dispose()
    errors: list[BaseException] = []
    start = threading.Barrier(4)

    def opener() -> None:
        try:
            start.wait(30)
            migrate_workspace(root, db_url=db_url, key=secret_key, role="admin")
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=opener) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert errors == []
    with Workspace.open(root, db_url=db_url, key=secret_key) as ws:
        assert [e.action for e in audit.entries(ws.engine)].count("schema.upgrade") == 1
        assert ws.verify_audit().ok


def test_migrate_when_role_may_not_then_refused_and_nothing_changes(tmp_path, secret_key):
    engine = _engine(None, tmp_path / "old")
    build_first_release(engine, secret_key)
    engine.dispose()
    with pytest.raises(PermissionDenied, match="migrate"):
        migrate_workspace(tmp_path / "old", key=secret_key, role="engineer")
    engine = _engine(None, tmp_path / "old")
    with engine.connect() as conn:
        assert not sa.inspect(conn).has_table("alembic_version")  # still 0.1.0's schema
    engine.dispose()
