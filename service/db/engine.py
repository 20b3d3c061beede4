"""Engines and per-connection setup; every SQLite-only statement lives here."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

BUSY_TIMEOUT_MS = 10_000


def create_engine(
    db: str, *, writer: bool, durability: str = "normal", max_bytes: int = 0
) -> AsyncEngine:
    """An engine on the database file: the writer's (one connection) or the readers'.

    `durability` "normal" survives a crash of the process (WAL, synchronous=NORMAL); "full"
    also a power loss (synchronous=FULL). `max_bytes` caps the file (0: no cap).
    """
    options: dict[str, Any] = (
        {"pool_size": 1, "max_overflow": 0} if writer else {"pool_size": 4, "max_overflow": 4}
    )
    engine = create_async_engine(_url(db), **options)
    _install_hooks(
        engine,
        begin="BEGIN IMMEDIATE" if writer else "BEGIN",
        read_only=not writer,
        synchronous="FULL" if durability == "full" else "NORMAL",
        max_bytes=max_bytes,
    )
    return engine


def create_tool_engine(db: str) -> AsyncEngine:
    """A throwaway engine for one-off commands (migrate) that holds no idle connections."""
    engine = create_async_engine(_url(db), poolclass=NullPool)
    _install_hooks(engine, begin="BEGIN IMMEDIATE", read_only=False)
    return engine


def _url(db: str) -> str:
    """The SQLAlchemy URL of a database file, creating its folder on first use."""
    Path(db).parent.mkdir(parents=True, exist_ok=True)
    return f"sqlite+aiosqlite:///{db}"


def _install_hooks(
    engine: AsyncEngine,
    *,
    begin: str,
    read_only: bool,
    synchronous: str = "NORMAL",
    max_bytes: int = 0,
) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transaction control from the driver so BEGIN is ours (IMMEDIATE for the writer).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        # First, so that nothing below fails at once on a lock another connection holds.
        cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        if read_only:
            cursor.execute("PRAGMA query_only=ON")
            cursor.close()
            return
        # auto_vacuum only takes effect before the first table exists: set it on every connect.
        cursor.execute("PRAGMA auto_vacuum=INCREMENTAL")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA synchronous={synchronous}")
        cursor.execute("PRAGMA foreign_keys=ON")
        if max_bytes:
            cursor.execute("PRAGMA page_size")
            page = cursor.fetchone()[0]
            cursor.execute(f"PRAGMA max_page_count={max(1, max_bytes // page)}")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _begin(connection: Connection) -> None:
        connection.exec_driver_sql(begin)


async def last_insert_cursor(conn: AsyncConnection) -> int:
    """The cursor (rowid) of the last log entry inserted on this connection."""
    result = await conn.exec_driver_sql("SELECT last_insert_rowid()")
    return int(result.scalar_one())


def database_bytes(db: str) -> int:
    """Bytes on disk of the database file and its WAL."""
    total = 0
    for suffix in ("", "-wal"):
        path = Path(db + suffix)
        if path.exists():
            total += path.stat().st_size
    return total


async def free_pages(conn: AsyncConnection) -> int:
    """Pages of the file that hold nothing: freed by deletes, not yet given back."""
    result = await conn.exec_driver_sql("PRAGMA freelist_count")
    return int(result.scalar_one())


async def page_size(conn: AsyncConnection) -> int:
    """Bytes per database page."""
    result = await conn.exec_driver_sql("PRAGMA page_size")
    return int(result.scalar_one())


async def incremental_vacuum(conn: AsyncConnection, pages: int) -> int:
    """Give up to `pages` free pages back to the file system, in this transaction; how many."""
    before = await free_pages(conn)
    steps = min(before, pages)
    if steps <= 0:
        return 0
    # The PRAGMA frees one page per step, and Python's sqlite3 steps a statement without
    # result columns once per execution: executemany steps it once per parameter set.
    raw = await conn.get_raw_connection()
    driver: Any = raw.driver_connection
    cursor = await driver.executemany("PRAGMA incremental_vacuum", [()] * steps)
    await cursor.close()
    return before - await free_pages(conn)


async def checkpoint(conn: AsyncConnection) -> None:
    """Copy the WAL into the database file as far as no reader needs it; never waits."""
    # Freed pages leave the file only when checkpointed. A checkpoint cannot run inside a
    # transaction, and SQLAlchemy would begin one: this goes to the driver directly.
    raw = await conn.get_raw_connection()
    driver: Any = raw.driver_connection
    cursor = await driver.execute("PRAGMA wal_checkpoint(PASSIVE)")
    await cursor.fetchall()
    await cursor.close()
