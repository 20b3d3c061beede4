"""Alembic upgrades run on a connection the application hands in."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from service.db.engine import create_tool_engine

_PACKAGE = Path(__file__).resolve().parent.parent


def migrations_dir() -> Path:
    """Inside an installed wheel the migrations ship in the package; in a checkout, beside it."""
    shipped = _PACKAGE / "migrations"
    return shipped if shipped.is_dir() else _PACKAGE.parent / "migrations"


def alembic_config(connection: Connection | None = None) -> Config:
    """An Alembic config that needs no alembic.ini."""
    config = Config()
    config.set_main_option("script_location", str(migrations_dir()))
    config.attributes["connection"] = connection
    return config


async def upgrade_file(db: str) -> str | None:
    """Create or upgrade the schema of a database file to the newest revision; which it is."""
    engine = create_tool_engine(db)
    try:
        return await upgrade(engine)
    finally:
        await engine.dispose()


async def upgrade(engine: AsyncEngine, revision: str = "head") -> str | None:
    """Upgrade the database to a revision; returns the revision it is at afterwards."""
    async with engine.begin() as conn:
        return await conn.run_sync(_upgrade, revision)


def _upgrade(connection: Connection, revision: str) -> str | None:
    command.upgrade(alembic_config(connection), revision)
    return MigrationContext.configure(connection).get_current_revision()


def head_revision() -> str | None:
    """The newest revision the code knows."""
    return ScriptDirectory.from_config(alembic_config()).get_current_head()
