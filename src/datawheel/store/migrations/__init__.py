"""Alembic migrations of the workspace database: ``env.py`` and one file per revision in
``versions/``. ``store.schema_version`` runs them; contributors add one with ``alembic revision``
(CONTRIBUTING.md, "A table")."""
