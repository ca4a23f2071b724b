"""Alembic migrations of the workspace database: ``env.py`` and one file per revision in
``versions/``. ``store.schema`` runs them; contributors add one with ``alembic revision``
(CONTRIBUTING.md, "A table")."""
