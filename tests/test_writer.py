"""The single writer: group commit, isolation of a failing operation, clean stop."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from service.db.engine import create_engine
from service.db.migrate import upgrade
from service.db.writer import Writer, WriterBusy, WriterClosed


@pytest.fixture
async def writer(tmp_path: Path) -> Writer:
    engine = create_engine(str(tmp_path / "w.db"), writer=True)
    await upgrade(engine)
    started = Writer(engine)
    await started.start()
    yield started  # type: ignore[misc]
    await started.stop()
    await engine.dispose()


def insert(sid: str) -> object:
    async def op(conn: AsyncConnection) -> str:
        await conn.execute(
            text("INSERT INTO sessions (id, created_at, updated_at) VALUES (:id, 'now', 'now')"),
            {"id": sid},
        )
        return sid

    return op


async def count(writer: Writer) -> int:
    async def op(conn: AsyncConnection) -> int:
        return int((await conn.execute(text("SELECT count(*) FROM sessions"))).scalar_one())

    return await writer.run(op)


async def test_queued_operations_share_one_commit(writer: Writer) -> None:
    before = writer.commits
    results = await asyncio.gather(*(writer.run(insert(f"{i:024x}")) for i in range(50)))  # type: ignore[arg-type]
    assert results == [f"{i:024x}" for i in range(50)]
    assert writer.commits - before < 50  # grouped, not one transaction each
    assert await count(writer) == 50


async def test_a_failing_operation_does_not_fail_its_neighbours(writer: Writer) -> None:
    ops = [insert("a" * 24), insert("a" * 24), insert("b" * 24)]  # the second is a duplicate
    results = await asyncio.gather(*(writer.run(op) for op in ops), return_exceptions=True)  # type: ignore[arg-type]
    assert results[0] == "a" * 24 and results[2] == "b" * 24
    assert isinstance(results[1], Exception) and "UNIQUE" in str(results[1])
    assert await count(writer) == 2


async def test_a_weighted_operation_waits_for_room_then_gives_up(writer: Writer) -> None:
    writer.max_queued = 10
    gate = asyncio.Event()

    async def blocked(conn: AsyncConnection) -> None:
        await gate.wait()

    first = asyncio.ensure_future(writer.run(blocked, weight=8))
    await asyncio.sleep(0.05)
    with pytest.raises(WriterBusy) as busy:
        await writer.run(insert("e" * 24), weight=5, wait=0.1)  # type: ignore[arg-type]
    assert busy.value.retry_after == 1 and writer.refused == 1
    waiting = asyncio.ensure_future(writer.run(insert("f" * 24), weight=5, wait=10))  # type: ignore[arg-type]
    await asyncio.sleep(0.05)
    assert not waiting.done()
    gate.set()
    await first
    assert await waiting == "f" * 24
    assert writer.queued == 0


async def test_an_oversized_batch_goes_in_alone(writer: Writer) -> None:
    writer.max_queued = 10
    assert await writer.run(insert("g" * 24), weight=50, wait=0) == "g" * 24  # type: ignore[arg-type]


async def test_stop_commits_queued_work_then_refuses(tmp_path: Path) -> None:
    engine = create_engine(str(tmp_path / "w.db"), writer=True)
    await upgrade(engine)
    writer = Writer(engine)
    await writer.start()
    pending = [asyncio.ensure_future(writer.run(insert(f"{i:024x}"))) for i in range(10)]  # type: ignore[arg-type]
    await asyncio.sleep(0)
    await writer.stop()
    assert [await p for p in pending] == [f"{i:024x}" for i in range(10)]
    with pytest.raises(WriterClosed):
        await writer.run(insert("d" * 24))  # type: ignore[arg-type]
    await engine.dispose()
