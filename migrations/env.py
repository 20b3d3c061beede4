"""Alembic environment: runs on a connection the application hands in, or on -x db=FILE."""

from __future__ import annotations

import asyncio
import os

from alembic import context
from sqlalchemy.engine import Connection

from service.db.engine import create_tool_engine
from service.db.tables import metadata


def run_on(connection: Connection) -> None:
    """Run the migrations on one open connection."""
    context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


async def run_standalone() -> None:
    """Used by the plain `alembic` command: open the database named by -x db= or SESSIONS_DB."""
    db = context.get_x_argument(as_dictionary=True).get("db") or os.environ.get(
        "SESSIONS_DB", "data/sessions.db"
    )
    engine = create_tool_engine(db)
    async with engine.begin() as conn:
        await conn.run_sync(run_on)
    await engine.dispose()


def main() -> None:
    """Entry point Alembic calls."""
    connection = context.config.attributes.get("connection")
    if connection is not None:
        run_on(connection)
    else:
        asyncio.run(run_standalone())


main()
