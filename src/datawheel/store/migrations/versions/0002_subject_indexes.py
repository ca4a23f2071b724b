"""Index the subject of predictions and feedback: erasure and subject export look a data
subject's rows up by pseudonym, which scanned the whole prediction log. Partial indexes (rows
that name a subject only), so the serving path's many subject-less rows cost nothing to log.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_NAMED = sa.text("subject IS NOT NULL")


def upgrade() -> None:
    for table in ("predictions", "feedback"):
        op.create_index(
            f"ix_{table}_subject",
            table,
            ["subject"],
            sqlite_where=_NAMED,
            postgresql_where=_NAMED,
        )


def downgrade() -> None:
    for table in ("predictions", "feedback"):
        op.drop_index(f"ix_{table}_subject", table_name=table)
