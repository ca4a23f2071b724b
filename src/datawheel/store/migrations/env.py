"""Alembic's environment. datawheel hands over a connection already inside its transaction
(``config.attributes["connection"]``), so a whole upgrade and its audit entry commit together;
run as ``alembic …`` from the repository (alembic.ini), it opens the URL named there."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context

from datawheel.store.db import metadata

config = context.config


def _run(connection: sa.Connection) -> None:
    if connection.dialect.name == "sqlite":
        # A batch operation rebuilds a table (create, copy, drop, rename); checking foreign keys
        # at commit instead of at the drop keeps the tables that reference it valid.
        connection.exec_driver_sql("PRAGMA defer_foreign_keys=ON")
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=True,  # SQLite alters tables by rebuilding them
        compare_type=True,
    )
    with context.begin_transaction():  # joins the caller's transaction when there is one
        context.run_migrations()


if context.is_offline_mode():  # `alembic upgrade --sql`: the SQL for a DBA to review and run
    context.configure(
        url=config.get_main_option("sqlalchemy.url"),
        target_metadata=metadata,
        literal_binds=True,
        render_as_batch=True,
    )
    with context.begin_transaction():
        context.run_migrations()
elif (given := config.attributes.get("connection")) is not None:
    _run(given)
else:
    engine = sa.create_engine(config.get_main_option("sqlalchemy.url") or "")
    with engine.begin() as conn:
        _run(conn)
    engine.dispose()
