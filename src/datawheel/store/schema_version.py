"""The workspace database's schema version: a new database is created at the newest revision,
an older one is upgraded by the Alembic migrations in ``store/migrations`` (see docs/migrations.md).

SQLite (one workspace, one machine) is upgraded when it is opened. PostgreSQL may be shared by
servers on many hosts, some still running the previous release: it is upgraded only by
``datawheel migrate`` (`migrate_workspace`), run once by whoever upgrades the fleet; until then
opening it says so.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Column,
    Connection,
    Engine,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    insert,
    inspect,
    select,
    text,
)

from datawheel.errors import UsageError
from datawheel.secret import SecretKey
from datawheel.store.db import meta, metadata, reading, safe_url, seed

__all__ = [
    "BASELINE",
    "HEAD",
    "SchemaChange",
    "migrate_workspace",
    "pending",
    "prepare",
    "revision",
]

HEAD = "0006"  # the newest file in migrations/versions (a test keeps the two equal)
BASELINE = "0001"  # the first release's schema, which recorded no revision
_SCRIPTS = "datawheel.store:migrations"
_PG_LOCK = 0x64617461776865  # pg_advisory_xact_lock key: one schema change at a time

# Alembic's own bookkeeping table, declared the way Alembic creates it, so that a database
# created here and one upgraded by Alembic are the same.
version_table = Table(
    "alembic_version",
    MetaData(),
    Column("version_num", String(32), nullable=False),
    PrimaryKeyConstraint("version_num", name="alembic_version_pkc"),
)


@dataclass(frozen=True)
class SchemaChange:
    """What opening or migrating did: ``before`` is None for a database created just now."""

    before: str | None
    after: str
    applied: tuple[str, ...]  # revisions run, oldest first (empty when created at head)


def revision(conn: Connection) -> str | None:
    """The database's recorded revision; `BASELINE` for a first-release database that recorded
    none; None for an empty one."""
    tables = set(inspect(conn).get_table_names())
    if version_table.name in tables:
        recorded = conn.execute(select(version_table.c.version_num)).scalar()
        if recorded is not None:
            return str(recorded)
    return BASELINE if meta.name in tables else None


def pending(current: str | None) -> tuple[str, ...]:
    """The revisions an upgrade from ``current`` runs, oldest first; a `UsageError` when
    ``current`` is not one this datawheel knows (a newer release wrote it)."""
    from alembic.script import ScriptDirectory
    from alembic.script.revision import RevisionError

    scripts = ScriptDirectory.from_config(_config())
    try:
        steps = list(scripts.iterate_revisions(HEAD, current))
    except RevisionError:
        raise UsageError(
            f"the workspace database is at schema revision {current}, which this datawheel "
            f"does not know (its newest is {HEAD})",
            hint="a newer datawheel wrote it: upgrade datawheel (pip install -U datawheel)",
        ) from None
    return tuple(reversed([s.revision for s in steps]))


# ``Workspace.record``: appends an audit entry inside the connection's transaction
Record = Callable[[Connection, str, str, dict[str, Any]], Any]


def prepare(
    engine: Engine, *, record: Record | None = None, upgrade: bool | None = None
) -> SchemaChange:
    """Bring the database to `HEAD`: create a new one, upgrade an older one (``upgrade``: None
    means SQLite yes, PostgreSQL no), or raise a `UsageError` naming ``datawheel migrate``.

    The check is one read when the database is current. Changes run in one write transaction,
    with ``record``'s audit entry; concurrent openers queue on it (SQLite's write lock, an
    advisory lock on PostgreSQL) and find the work done.
    """
    with reading(engine) as conn:
        current = revision(conn)
    if current == HEAD:
        return SchemaChange(HEAD, HEAD, ())
    if upgrade is None:
        upgrade = engine.dialect.name == "sqlite"
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_LOCK})
        current = revision(conn)
        if current == HEAD:
            return SchemaChange(HEAD, HEAD, ())
        if current is None:
            metadata.create_all(conn)
            version_table.create(conn)
            conn.execute(insert(version_table).values(version_num=HEAD))
            seed(conn)
            return SchemaChange(None, HEAD, ())
        steps = pending(current)
        if not upgrade:
            raise UsageError(
                f"the workspace database is at schema revision {current}; this datawheel "
                f"needs {HEAD} (migrations to run: {', '.join(steps)})",
                where=safe_url(str(engine.url)),
                hint="stop servers of the older release, then run `datawheel migrate` once",
            )
        _upgrade(conn, current)
        if record is not None:
            details = {"from": current, "to": HEAD, "revisions": list(steps)}
            record(conn, "schema.upgrade", "database", details)
        return SchemaChange(current, HEAD, steps)


def migrate_workspace(
    root: str | Path,
    *,
    db_url: str | None = None,
    key_dir: Path | None = None,
    key: SecretKey | None = None,
    actor: str = "cli",
    role: str | None = None,
) -> SchemaChange:
    """Upgrade the workspace database at ``root`` (or ``db_url``) to `HEAD`, whatever the
    database, as a role that may ``migrate``: what ``datawheel migrate`` runs."""
    from datawheel.store.roles import check, resolve_identity
    from datawheel.store.workspace import Workspace

    check(resolve_identity(key_dir, role).role, "migrate")  # before anything is written
    with Workspace.open(
        root, db_url=db_url, key_dir=key_dir, key=key, actor=actor, role=role, upgrade=True
    ) as ws:
        assert ws.schema is not None
        return ws.schema


def _upgrade(conn: Connection, current: str) -> None:
    """Alembic's upgrade to head on ``conn``, inside its transaction."""
    from alembic import command

    if current == BASELINE and not inspect(conn).has_table(version_table.name):
        version_table.create(conn)  # a first-release database: record where it stands
        conn.execute(insert(version_table).values(version_num=BASELINE))
    config = _config()
    config.attributes["connection"] = conn
    command.upgrade(config, "head")


def _config() -> Any:
    """Alembic's configuration for the migrations shipped in the package (no alembic.ini)."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", _SCRIPTS)
    return config
