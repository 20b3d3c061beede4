"""The single writer: group commit, isolation of a failing operation, clean stop, and never
holding up the event loop while another connection has the database locked."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import Connection, text

from service.db.engine import create_write_engine
from service.db.migrate import upgrade_file
from service.db.writer import Writer, WriterBusy, WriterClosed


@pytest.fixture
def db(tmp_path: Path) -> str:
    return str(tmp_path / "w.db")


@pytest.fixture
async def writer(db: str) -> AsyncIterator[Writer]:
    await upgrade_file(db)
    engine = create_write_engine(db)
    started = Writer(engine)
    await started.start()
    yield started
    await started.stop()
    engine.dispose()


@pytest.fixture
def lock_holder(db: str) -> Iterator[sqlite3.Connection]:
    """Another connection, as `sessions prune` or a hand-run script would be; not locking yet."""
    other = sqlite3.connect(db, isolation_level=None)
    yield other
    if other.in_transaction:
        other.rollback()
    other.close()


def insert(sid: str) -> Callable[[Connection], str]:
    def op(conn: Connection) -> str:
        conn.execute(
            text("INSERT INTO sessions (id, created_at, updated_at) VALUES (:id, 'now', 'now')"),
            {"id": sid},
        )
        return sid

    return op


def stored(db: str) -> list[str]:
    """Session ids as another connection sees them: only what was committed."""
    with sqlite3.connect(db) as conn:
        return [row[0] for row in conn.execute("SELECT id FROM sessions ORDER BY id")]


async def test_queued_operations_share_one_commit(writer: Writer, db: str) -> None:
    before = writer.commits
    results = await asyncio.gather(*(writer.run(insert(f"{i:024x}")) for i in range(50)))
    assert results == [f"{i:024x}" for i in range(50)]
    assert writer.commits - before < 50  # grouped, not one transaction each
    assert stored(db) == results  # committed: visible to another connection


async def test_a_failing_operation_does_not_fail_its_neighbours(writer: Writer, db: str) -> None:
    ops = [insert("a" * 24), insert("a" * 24), insert("b" * 24)]  # the second is a duplicate
    results = await asyncio.gather(*(writer.run(op) for op in ops), return_exceptions=True)
    assert results[0] == "a" * 24 and results[2] == "b" * 24
    assert isinstance(results[1], Exception) and "UNIQUE" in str(results[1])
    assert stored(db) == ["a" * 24, "b" * 24]


async def test_a_failed_operation_leaves_nothing_behind(writer: Writer, db: str) -> None:
    def half_done(conn: Connection) -> None:
        insert("c" * 24)(conn)
        raise RuntimeError("failed after its first statement")

    with pytest.raises(RuntimeError):
        await writer.run(half_done)
    assert await writer.run(insert("d" * 24)) == "d" * 24
    assert stored(db) == ["d" * 24]


async def test_a_lock_held_elsewhere_is_waited_for_off_the_event_loop(
    writer: Writer, db: str, lock_holder: sqlite3.Connection
) -> None:
    lock_holder.execute("BEGIN IMMEDIATE")
    pending = asyncio.ensure_future(writer.run(insert("e" * 24)))
    ticks = 0
    started = time.monotonic()
    while time.monotonic() - started < 0.3:  # the loop keeps turning while the writer waits
        await asyncio.sleep(0.01)
        ticks += 1
    assert not pending.done() and ticks >= 15
    lock_holder.rollback()
    assert await asyncio.wait_for(pending, 5) == "e" * 24
    assert stored(db) == ["e" * 24]


async def test_a_weighted_operation_waits_for_room_then_gives_up(
    writer: Writer, lock_holder: sqlite3.Connection
) -> None:
    writer.max_queued = 10
    lock_holder.execute("BEGIN IMMEDIATE")  # stalls the writer on its first transaction
    first = asyncio.ensure_future(writer.run(insert("e" * 24), weight=8))
    await asyncio.sleep(0.05)
    with pytest.raises(WriterBusy) as busy:
        await writer.run(insert("f" * 24), weight=5, wait=0.1)
    assert busy.value.retry_after == 1 and writer.refused == 1
    waiting = asyncio.ensure_future(writer.run(insert("g" * 24), weight=5, wait=10))
    await asyncio.sleep(0.05)
    assert not waiting.done()
    lock_holder.rollback()
    assert await first == "e" * 24
    assert await waiting == "g" * 24
    assert writer.queued == 0


async def test_an_oversized_batch_goes_in_alone(writer: Writer) -> None:
    writer.max_queued = 10
    assert await writer.run(insert("h" * 24), weight=50, wait=0) == "h" * 24


async def test_stop_commits_queued_work_then_refuses(db: str) -> None:
    await upgrade_file(db)
    engine = create_write_engine(db)
    writer = Writer(engine)
    await writer.start()
    pending = [asyncio.ensure_future(writer.run(insert(f"{i:024x}"))) for i in range(10)]
    await asyncio.sleep(0)
    await writer.stop()
    assert [await p for p in pending] == [f"{i:024x}" for i in range(10)]
    with pytest.raises(WriterClosed):
        await writer.run(insert("d" * 24))
    engine.dispose()
    assert len(stored(db)) == 10
