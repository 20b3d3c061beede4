"""The migrated database is exactly the schema of db/tables.py, with the PRAGMAs set."""

from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy.engine import Connection

from service.db.engine import create_engine
from service.db.migrate import head_revision, upgrade
from service.db.tables import metadata


def _diff(connection: Connection) -> list[object]:
    return list(compare_metadata(MigrationContext.configure(connection), metadata))


async def test_migrations_match_tables(tmp_path: Path) -> None:
    engine = create_engine(str(tmp_path / "s.db"), writer=True)
    assert await upgrade(engine) == head_revision()
    async with engine.connect() as conn:
        assert await conn.run_sync(_diff) == []
    await engine.dispose()


async def test_pragmas_and_sequence(tmp_path: Path) -> None:
    engine = create_engine(str(tmp_path / "s.db"), writer=True)
    await upgrade(engine)
    async with engine.connect() as conn:
        pragma = {
            name: (await conn.exec_driver_sql(f"PRAGMA {name}")).scalar()
            for name in ("auto_vacuum", "journal_mode", "foreign_keys", "busy_timeout")
        }
        sequence = "SELECT name FROM sqlite_master WHERE name = 'sqlite_sequence'"
        assert (await conn.exec_driver_sql(sequence)).scalar() == "sqlite_sequence"  # AUTOINCREMENT
    assert pragma == {
        "auto_vacuum": 2,
        "journal_mode": "wal",
        "foreign_keys": 1,
        "busy_timeout": 10_000,
    }
    await engine.dispose()


async def test_upgrade_is_idempotent(tmp_path: Path) -> None:
    engine = create_engine(str(tmp_path / "s.db"), writer=True)
    first = await upgrade(engine)
    assert await upgrade(engine) == first
    await engine.dispose()


async def test_readers_cannot_write(tmp_path: Path) -> None:
    writer = create_engine(str(tmp_path / "s.db"), writer=True)
    await upgrade(writer)
    readers = create_engine(str(tmp_path / "s.db"), writer=False)
    async with readers.connect() as conn:
        try:
            await conn.exec_driver_sql("DELETE FROM sessions")
        except Exception as exc:
            assert "readonly" in str(exc).lower()
        else:
            raise AssertionError("a reader connection could write")
    await readers.dispose()
    await writer.dispose()
