"""The console round: errors counted per tenant beside requests (``usage.client_errors`` and
``server_errors``, 0 for the days before), when each API key was last used (``api_key_usage``,
written by the serving path's write-behind), plans made or changed in the console (``plans``,
overriding ``serve.plans`` of the same name), one-time sign-up links (``signup_tokens``, hashed)
the console's background work such as "retrain now" (``console_jobs``), each served version's
drift per feature and day (``drift_daily``, for drift over time); an index on the audit
log's action, so "the loop's latest checks" reads only those entries.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "console_jobs",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("requested_by", sa.String(length=320), nullable=False),
        sa.Column("requested_at", sa.String(length=32), nullable=False),
        sa.Column("finished_at", sa.String(length=32), nullable=True),
        sa.Column("owner", sa.JSON(), nullable=False),
        sa.Column("result", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("console_jobs", schema=None) as batch_op:
        batch_op.create_index("ix_console_jobs_requested", ["requested_at"], unique=False)

    op.create_table(
        "drift_daily",
        sa.Column("day", sa.String(length=10), nullable=False),
        sa.Column("version", sa.String(length=40), nullable=False),
        sa.Column("feature", sa.String(length=200), nullable=False),
        sa.Column("psi", sa.Float(), nullable=False),
        sa.Column("drifted", sa.Boolean(), nullable=False),
        sa.Column("recent", sa.Integer(), nullable=False),
        sa.Column("measured_at", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint("day", "version", "feature"),
    )
    op.create_table(
        "plans",
        sa.Column("name", sa.String(length=40), nullable=False),
        sa.Column("requests_per_minute", sa.Integer(), nullable=False),
        sa.Column("monthly_quota", sa.Integer(), nullable=False),
        sa.Column("feedback_per_minute", sa.Integer(), nullable=False),
        sa.Column("feedback_max_chars", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.String(length=32), nullable=False),
        sa.Column("updated_by", sa.String(length=320), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    op.create_table(
        "api_key_usage",
        sa.Column("key_id", sa.String(length=40), nullable=False),
        sa.Column("last_used_at", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["key_id"],
            ["api_keys.id"],
        ),
        sa.PrimaryKeyConstraint("key_id"),
    )
    op.create_table(
        "signup_tokens",
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.String(length=40), nullable=False),
        sa.Column("created_at", sa.String(length=32), nullable=False),
        sa.Column("expires_at", sa.Float(), nullable=False),
        sa.Column("used_at", sa.String(length=32), nullable=True),
        sa.Column("created_by", sa.String(length=320), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
        ),
        sa.PrimaryKeyConstraint("token_hash"),
    )
    with op.batch_alter_table("signup_tokens", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_signup_tokens_user_id"), ["user_id"], unique=False)

    op.create_index("ix_audit_action_seq", "audit", ["action", "seq"])
    with op.batch_alter_table("usage", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("client_errors", sa.Integer(), server_default="0", nullable=False)
        )
        batch_op.add_column(
            sa.Column("server_errors", sa.Integer(), server_default="0", nullable=False)
        )


def downgrade() -> None:
    op.drop_index("ix_audit_action_seq", table_name="audit")
    with op.batch_alter_table("usage", schema=None) as batch_op:
        batch_op.drop_column("server_errors")
        batch_op.drop_column("client_errors")

    with op.batch_alter_table("signup_tokens", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_signup_tokens_user_id"))

    op.drop_table("signup_tokens")
    op.drop_table("api_key_usage")
    op.drop_table("plans")
    op.drop_table("drift_daily")
    with op.batch_alter_table("console_jobs", schema=None) as batch_op:
        batch_op.drop_index("ix_console_jobs_requested")

    op.drop_table("console_jobs")
