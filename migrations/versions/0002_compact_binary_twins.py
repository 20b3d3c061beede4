"""Keep metadata and fields sent as compact binary in their original bytes beside the JSON.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("sessions", sa.Column("metadata_cb", sa.LargeBinary()))
    op.add_column("log_entries", sa.Column("fields_cb", sa.LargeBinary()))


def downgrade() -> None:
    with op.batch_alter_table("log_entries") as batch:
        batch.drop_column("fields_cb")
    with op.batch_alter_table("sessions") as batch:
        batch.drop_column("metadata_cb")
