"""The migrated database is exactly the schema of db/tables.py, with the PRAGMAs set."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy.engine import Connection

from service.db.engine import create_read_engine, create_tool_engine, create_write_engine
from service.db.migrate import head_revision, upgrade, upgrade_file
from service.db.tables import metadata


def _diff(connection: Connection) -> list[object]:
    return list(compare_metadata(MigrationContext.configure(connection), metadata))


async def test_migrations_match_tables(tmp_path: Path) -> None:
    engine = create_tool_engine(str(tmp_path / "s.db"))
    assert await upgrade(engine) == head_revision()
    async with engine.connect() as conn:
        assert await conn.run_sync(_diff) == []
    await engine.dispose()


@pytest.mark.parametrize(("durability", "synchronous"), [("normal", 1), ("full", 2)])
async def test_the_writer_connection_is_set_up(
    tmp_path: Path, durability: str, synchronous: int
) -> None:
    db = str(tmp_path / "s.db")
    await upgrade_file(db)
    engine = create_write_engine(db, durability=durability, max_bytes=1 << 30)
    with engine.connect() as conn:
        pragma = {
            name: conn.exec_driver_sql(f"PRAGMA {name}").scalar()
            for name in ("auto_vacuum", "journal_mode", "foreign_keys", "busy_timeout")
        }
        pragma["synchronous"] = conn.exec_driver_sql("PRAGMA synchronous").scalar()
        pages = conn.exec_driver_sql("PRAGMA max_page_count").scalar()
        sequence = "SELECT name FROM sqlite_master WHERE name = 'sqlite_sequence'"
        assert conn.exec_driver_sql(sequence).scalar() == "sqlite_sequence"  # AUTOINCREMENT
    engine.dispose()
    assert pragma == {
        "auto_vacuum": 2,
        "journal_mode": "wal",
        "foreign_keys": 1,
        "busy_timeout": 10_000,  # while connecting; the writer then turns it to 0 (never_wait)
        "synchronous": synchronous,
    }
    assert pages == (1 << 30) // 4096


async def test_upgrade_is_idempotent(tmp_path: Path) -> None:
    engine = create_tool_engine(str(tmp_path / "s.db"))
    first = await upgrade(engine)
    assert await upgrade(engine) == first
    await engine.dispose()


async def test_readers_cannot_write(tmp_path: Path) -> None:
    writer = create_tool_engine(str(tmp_path / "s.db"))
    await upgrade(writer)
    readers = create_read_engine(str(tmp_path / "s.db"))
    async with readers.connect() as conn:
        try:
            await conn.exec_driver_sql("DELETE FROM sessions")
        except Exception as exc:
            assert "readonly" in str(exc).lower()
        else:
            raise AssertionError("a reader connection could write")
    await readers.dispose()
    await writer.dispose()
