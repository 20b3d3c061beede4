"""Sessions, log entries and idempotency keys.

Revision ID: 0001
Revises:
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sessions",
        sa.Column("id", sa.Text(), primary_key=True),
        sa.Column("appname", sa.Text(), nullable=False, server_default=""),
        sa.Column("mode", sa.Text(), nullable=False, server_default=""),
        sa.Column("platform", sa.Text(), nullable=False, server_default=""),
        sa.Column("pid", sa.Integer()),
        sa.Column("pid_started_at", sa.Text()),
        sa.Column("parent_session_id", sa.Text()),
        sa.Column("jobid", sa.Text()),
        sa.Column("metadata", sa.Text(), nullable=False, server_default="{}"),
        sa.Column("created_at", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.Text(), nullable=False),
        sa.Column("ended_at", sa.Text()),
        sa.Column("end_reason", sa.Text()),
        sa.Column("log_count", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("log_bytes", sa.Integer(), nullable=False, server_default="0"),
    )
    op.create_index("ix_sessions_created_at", "sessions", ["created_at"])
    op.create_table(
        "log_entries",
        sa.Column("cursor", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column(
            "session_id",
            sa.Text(),
            sa.ForeignKey("sessions.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("timestamp", sa.Text(), nullable=False),
        sa.Column("level", sa.Text()),
        sa.Column("logger", sa.Text()),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("format", sa.Text()),
        sa.Column("fields", sa.Text()),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_log_entries_session_cursor", "log_entries", ["session_id", "cursor"])
    op.create_table(
        "idempotency_keys",
        sa.Column(
            "session_id",
            sa.Text(),
            sa.ForeignKey("sessions.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("key", sa.Text(), nullable=False),
        sa.Column("response", sa.Text(), nullable=False),
        sa.Column("created_at", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("session_id", "key"),
    )
    op.create_index("ix_idempotency_keys_created_at", "idempotency_keys", ["created_at"])


def downgrade() -> None:
    op.drop_table("idempotency_keys")
    op.drop_table("log_entries")
    op.drop_table("sessions")
