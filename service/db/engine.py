"""Engines and per-connection setup; every SQLite-only statement lives here."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from typing import Any

import sqlalchemy
from sqlalchemy import Engine, event
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

BUSY_TIMEOUT_MS = 10_000
LOCK_POLL_SECONDS = 0.001


def create_read_engine(db: str) -> AsyncEngine:
    """The readers' engine: a small pool of `query_only` connections beside the writer."""
    engine = create_async_engine(_url(db), pool_size=4, max_overflow=4)
    _install_hooks(engine.sync_engine, begin="BEGIN", read_only=True)
    return engine


def create_tool_engine(db: str) -> AsyncEngine:
    """A throwaway engine for one-off commands (migrate) that holds no idle connections."""
    engine = create_async_engine(_url(db), poolclass=NullPool)
    _install_hooks(engine.sync_engine, begin="BEGIN IMMEDIATE", read_only=False)
    return engine


def create_write_engine(db: str, *, durability: str = "normal", max_bytes: int = 0) -> Engine:
    """The writer's engine: a plain (synchronous) one, since the writer runs its statements
    on the event loop itself and only commits in a thread (see service.db.writer).

    The writer begins and commits its transactions on the driver connection, so this engine
    has no BEGIN of its own; the connection may be used from the writer's thread.
    `durability` "normal" survives a crash of the process (WAL, synchronous=NORMAL); "full"
    also a power loss (synchronous=FULL). `max_bytes` caps the file (0: no cap).
    """
    engine = sqlalchemy.create_engine(
        _url(db, driver="pysqlite"),
        pool_size=1,
        max_overflow=0,
        connect_args={"check_same_thread": False},
    )
    _install_hooks(
        engine,
        begin=None,
        read_only=False,
        synchronous="FULL" if durability == "full" else "NORMAL",
        max_bytes=max_bytes,
    )
    return engine


def _url(db: str, driver: str = "aiosqlite") -> str:
    """The SQLAlchemy URL of a database file, creating its folder on first use."""
    Path(db).parent.mkdir(parents=True, exist_ok=True)
    return f"sqlite+{driver}:///{db}"


def _install_hooks(
    engine: Engine,
    *,
    begin: str | None,
    read_only: bool,
    synchronous: str = "NORMAL",
    max_bytes: int = 0,
) -> None:
    @event.listens_for(engine, "connect")
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

    if begin is None:
        return

    @event.listens_for(engine, "begin")
    def _begin(connection: Connection) -> None:
        connection.exec_driver_sql(begin)


def never_wait(driver: sqlite3.Connection) -> None:
    """Statements on this connection fail at once on a lock instead of sleeping.

    For the writer, whose statements run on the event loop: a sleep there would stop the
    whole server. Waiting for a lock another process holds is done by `begin_waiting`.
    """
    driver.execute("PRAGMA busy_timeout=0")


def begin_at_once(driver: sqlite3.Connection) -> bool:
    """Begin a write transaction if no other connection holds the write lock; whether it did."""
    try:
        driver.execute("BEGIN IMMEDIATE")
    except sqlite3.OperationalError as exc:
        if "locked" in str(exc) or "busy" in str(exc):
            return False
        raise
    return True


def begin_waiting(driver: sqlite3.Connection) -> None:
    """Begin a write transaction, waiting up to the busy timeout for the lock (in a thread).

    It asks every millisecond: SQLite's own busy handler backs off to 100 ms between tries,
    and would let another writer that takes the lock back quickly (`sessions prune`) keep it.
    """
    deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
    while not begin_at_once(driver):
        if time.monotonic() > deadline:
            raise sqlite3.OperationalError("database is locked")
        time.sleep(LOCK_POLL_SECONDS)


def last_insert_cursor(driver: sqlite3.Connection) -> int:
    """The cursor (rowid) of the last log entry inserted on this connection."""
    return int(driver.execute("SELECT last_insert_rowid()").fetchone()[0])


def database_bytes(db: str) -> int:
    """Bytes on disk of the database file and its WAL."""
    total = 0
    for suffix in ("", "-wal"):
        path = Path(db + suffix)
        if path.exists():
            total += path.stat().st_size
    return total


def free_pages(conn: Connection) -> int:
    """Pages of the file that hold nothing: freed by deletes, not yet given back."""
    return int(conn.exec_driver_sql("PRAGMA freelist_count").scalar_one())


def page_size(conn: Connection) -> int:
    """Bytes per database page."""
    return int(conn.exec_driver_sql("PRAGMA page_size").scalar_one())


def incremental_vacuum(conn: Connection, pages: int) -> int:
    """Give up to `pages` free pages back to the file system, in this transaction; how many."""
    before = free_pages(conn)
    steps = min(before, pages)
    if steps <= 0:
        return 0
    # The PRAGMA frees one page per step, and Python's sqlite3 steps a statement without
    # result columns once per execution: executemany steps it once per parameter set.
    driver: Any = conn.connection.driver_connection
    driver.executemany("PRAGMA incremental_vacuum", [()] * steps).close()
    return before - free_pages(conn)


async def checkpoint(conn: AsyncConnection) -> None:
    """Copy the WAL into the database file as far as no reader needs it; never waits."""
    # Freed pages leave the file only when checkpointed. A checkpoint cannot run inside a
    # transaction, and SQLAlchemy would begin one: this goes to the driver directly.
    raw = await conn.get_raw_connection()
    driver: Any = raw.driver_connection
    cursor = await driver.execute("PRAGMA wal_checkpoint(PASSIVE)")
    await cursor.fetchall()
    await cursor.close()
