"""A fresh PostgreSQL schema on a server, dropped afterwards: tests never share rows."""

from __future__ import annotations

import uuid
from collections.abc import Iterator


def fresh_schema_url(base: str) -> Iterator[str]:
    """Yield ``base`` with its search path set to a new schema; drop the schema after."""
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
