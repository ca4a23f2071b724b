"""The tables of sharing and licensing: signing keys, releases to partners and the subjects
each held (erasure lists them), the differential-privacy budget ledger and its queries, and the
license register.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "dp_budgets",
        sa.Column("dataset", sa.String(length=400), nullable=False),
        sa.Column("epsilon_budget", sa.Float(), nullable=False),
        sa.Column("delta_budget", sa.Float(), nullable=False),
        sa.Column("epsilon_spent", sa.Float(), nullable=False),
        sa.Column("delta_spent", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("dataset"),
    )
    op.create_table(
        "dp_queries",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("dataset", sa.String(length=400), nullable=False),
        sa.Column("epsilon", sa.Float(), nullable=False),
        sa.Column("delta", sa.Float(), nullable=False),
        sa.Column("query", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_dp_queries_dataset", "dp_queries", ["dataset"])
    op.create_table(
        "licenses",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("licensee", sa.String(length=200), nullable=False),
        sa.Column("expires", sa.String(length=10), nullable=False),
        sa.Column("features", sa.JSON(), nullable=False),
        sa.Column("max_rows", sa.Integer(), nullable=True),
        sa.Column("model_sha256", sa.String(length=64), nullable=False),
        sa.Column("key_id", sa.String(length=16), nullable=False),
        sa.Column("issued_at", sa.String(length=32), nullable=False),
        sa.Column("revoked_at", sa.String(length=32), nullable=True),
        sa.Column("revoked_reason", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "releases",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("partner", sa.String(length=200), nullable=False),
        sa.Column("source", sa.String(length=400), nullable=False),
        sa.Column("rows", sa.Integer(), nullable=False),
        sa.Column("manifest_sha256", sa.String(length=64), nullable=False),
        sa.Column("key_id", sa.String(length=16), nullable=False),
        sa.Column("encrypted_to", sa.String(length=16), nullable=True),
        sa.Column("policy", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "signing_keys",
        sa.Column("key_id", sa.String(length=16), nullable=False),
        sa.Column("public_key", sa.String(length=64), nullable=False),
        sa.Column("first_used_at", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint("key_id"),
    )
    op.create_table(
        "release_subjects",
        sa.Column("release_id", sa.String(length=40), nullable=False),
        sa.Column("subject", sa.String(length=80), nullable=False),
        sa.ForeignKeyConstraint(["release_id"], ["releases.id"]),
        sa.PrimaryKeyConstraint("release_id", "subject"),
    )


def downgrade() -> None:
    op.drop_table("release_subjects")
    op.drop_table("signing_keys")
    op.drop_table("releases")
    op.drop_table("licenses")
    op.drop_index("ix_dp_queries_dataset", table_name="dp_queries")
    op.drop_table("dp_queries")
    op.drop_table("dp_budgets")
