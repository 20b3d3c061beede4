"""The schema as SQLAlchemy Core tables; migrations must produce exactly this."""

from __future__ import annotations

from sqlalchemy import (
    Column,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    PrimaryKeyConstraint,
    Table,
    Text,
)

metadata = MetaData()

sessions = Table(
    "sessions",
    metadata,
    Column("id", Text, primary_key=True),
    Column("appname", Text, nullable=False, server_default=""),
    Column("mode", Text, nullable=False, server_default=""),
    Column("platform", Text, nullable=False, server_default=""),
    Column("pid", Integer),
    Column("pid_started_at", Text),
    Column("parent_session_id", Text),
    Column("jobid", Text),
    Column("metadata", Text, nullable=False, server_default="{}"),
    Column("metadata_cb", LargeBinary),
    Column("created_at", Text, nullable=False),
    Column("updated_at", Text, nullable=False),
    Column("ended_at", Text),
    Column("end_reason", Text),
    Column("log_count", Integer, nullable=False, server_default="0"),
    Column("log_bytes", Integer, nullable=False, server_default="0"),
    Index("ix_sessions_created_at", "created_at"),
)

log_entries = Table(
    "log_entries",
    metadata,
    Column("cursor", Integer, primary_key=True, autoincrement=True),
    Column(
        "session_id",
        Text,
        ForeignKey("sessions.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("timestamp", Text, nullable=False),
    Column("level", Text),
    Column("logger", Text),
    Column("message", Text, nullable=False),
    Column("format", Text),
    Column("fields", Text),
    Column("fields_cb", LargeBinary),
    Index("ix_log_entries_session_cursor", "session_id", "cursor"),
    sqlite_autoincrement=True,
)

idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    Column(
        "session_id",
        Text,
        ForeignKey("sessions.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("key", Text, nullable=False),
    Column("response", Text, nullable=False),
    Column("created_at", Text, nullable=False),
    PrimaryKeyConstraint("session_id", "key"),
    Index("ix_idempotency_keys_created_at", "created_at"),
)
