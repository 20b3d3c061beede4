"""Maintenance: prune by age, count and bytes; liveness; idle sessions; restarts; the CLI."""

from __future__ import annotations

import asyncio
import logging
import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import msgspec
import psutil
import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import text

from service.app import create_app
from service.cli import _parser
from service.db.engine import checkpoint, create_read_engine, create_write_engine
from service.db.maintenance import LocalSession
from service.db.migrate import upgrade_file
from service.db.store import Appended, store_figures
from service.db.writer import Writer
from service.domain.logs import Batch
from service.domain.sessions import RegisterBody, Sessions
from service.domain.timestamps import now_timestamp
from service.settings import Settings
from service.tasks import maintenance
from service.tasks.maintenance import PruneLimits, prune
from tests.conftest import SID, LoopbackPeer, ServerProcess

DAY = 86_400.0
T0 = 1_800_000_000.0  # 2027-01-15
ONLY_AGE = PruneLimits(max_age_days=365, max_ended_sessions=0, max_log_bytes=0)
ONLY_COUNT = PruneLimits(max_age_days=0, max_ended_sessions=2, max_log_bytes=0)
ALL_ENDED = PruneLimits(max_age_days=0, max_ended_sessions=0, max_log_bytes=1)
TEXT = {"content-type": "text/plain"}


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def sessions(settings: Settings, clock: Clock) -> AsyncIterator[Sessions]:
    """The rules over a fresh database, without a server (no self session, no loops)."""
    await upgrade_file(settings.db)
    write_engine = create_write_engine(settings.db)
    read_engine = create_read_engine(settings.db)
    writer = Writer(write_engine)
    await writer.start()
    yield Sessions(writer, read_engine, clock=clock, idempotency_seconds=DAY)
    await writer.stop()
    write_engine.dispose()
    await read_engine.dispose()


@pytest.fixture
def child() -> Iterator[subprocess.Popen[bytes]]:
    """A real local process that sleeps until killed."""
    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    yield process
    process.kill()
    process.wait()


def quiet(settings: Settings, **changes: Any) -> Settings:
    """Settings whose loops stay out of the way of a test unless it asks for them."""
    defaults = {"prune_interval_seconds": 0, "liveness_interval_seconds": 3600}
    return msgspec.structs.replace(settings, **{**defaults, **changes})


async def new_session(
    sessions: Sessions, *, pid: int | None = None, appname: str = "job", entries: int = 0
) -> str:
    body = RegisterBody(appname=appname, pid=pid)
    sid, _ = await sessions.register(None, body, local=pid is not None)
    await append(sessions, sid, entries)
    return sid


async def append(
    sessions: Sessions, sid: str, entries: int, size: int = 100, key: str | None = None
) -> None:
    now = sessions.now()
    for start in range(0, entries, 10_000):
        count = min(10_000, entries - start)
        message = "x" * size
        rows = [(sid, now, "info", "test", message, None, None, None)] * count
        await sessions.append(sid, Batch(rows=rows, nbytes=count * size, truncated=0), key)


async def ended_session(
    sessions: Sessions, clock: Clock, at: float, *, entries: int = 0, size: int = 100
) -> str:
    clock.now = at
    sid = await new_session(sessions)
    await append(sessions, sid, entries, size)
    await sessions.end(sid, "client request")
    return sid


def query(db: str, sql: str, *args: Any) -> list[Any]:
    with sqlite3.connect(db) as conn:
        return conn.execute(sql, args).fetchall()


def file_size(db: str) -> int:
    return Path(db).stat().st_size


def ids(db: str, where: str = "1") -> set[str]:
    return {sid for (sid,) in query(db, f"SELECT id FROM sessions WHERE {where}")}


def status(db: str, sid: str) -> tuple[str | None, str | None]:
    """(ended_at, end_reason) of a session."""
    ((ended_at, reason),) = query(db, "SELECT ended_at, end_reason FROM sessions WHERE id=?", sid)
    return ended_at, reason


def last_message(db: str, sid: str) -> str:
    sql = "SELECT message FROM log_entries WHERE session_id=? ORDER BY cursor DESC LIMIT 1"
    return str(query(db, sql, sid)[0][0])


# Prune


async def test_age_alone(sessions: Sessions, clock: Clock, settings: Settings) -> None:
    old = [await ended_session(sessions, clock, T0 + day * DAY) for day in (0, 5)]
    young = [await ended_session(sessions, clock, T0 + day * DAY) for day in (20, 30)]
    result = await prune(sessions.writer, sessions.readers, ONLY_AGE, now=T0 + 375 * DAY)
    assert (result.by_age, result.by_count, result.by_storage) == (2, 0, 0)
    assert [p.id for p in result.pruned] == old and result.sessions == 2
    assert ids(settings.db) == set(young)


async def test_count_alone_keeps_the_newest(
    sessions: Sessions, clock: Clock, settings: Settings
) -> None:
    ended = [await ended_session(sessions, clock, T0 + i * 60) for i in range(5)]
    active = await new_session(sessions)
    result = await prune(sessions.writer, sessions.readers, ONLY_COUNT, now=clock())
    assert (result.by_age, result.by_count, result.by_storage) == (0, 3, 0)
    assert ids(settings.db) == {*ended[3:], active}


async def test_storage_alone_keeps_the_newest_that_fit(
    sessions: Sessions, clock: Clock, settings: Settings
) -> None:
    sizes = [5000, 100, 7000, 2000, 0, 4000, 3000, 9000, 50, 6000, 1500, 800]
    ended = [
        await ended_session(sessions, clock, T0 + i * 60, entries=1, size=size)
        for i, size in enumerate(sizes)
    ]
    await new_session(sessions, entries=30)  # an active session's 3000 bytes count too
    limit = 20_000
    stored = dict(query(settings.db, "SELECT id, log_bytes FROM sessions"))
    total = sum(stored.values())
    expected = []
    for sid in ended:  # oldest first, while too much is stored
        if total <= limit:
            break
        expected.append(sid)
        total -= stored[sid]
    limits = PruneLimits(max_age_days=0, max_ended_sessions=0, max_log_bytes=limit)
    result = await prune(sessions.writer, sessions.readers, limits, now=clock())
    assert [p.id for p in result.pruned] == expected and result.by_storage == len(expected)
    assert 0 < len(expected) < len(ended)
    assert result.bytes == sum(stored[sid] for sid in expected)
    kept = query(settings.db, "SELECT sum(log_bytes) FROM sessions")[0][0]
    assert kept <= limit < kept + stored[expected[-1]]  # no more went than needed


async def test_every_reason_together(sessions: Sessions, clock: Clock, settings: Settings) -> None:
    days_and_sizes = [(0, 100), (1, 100), (100, 100), (200, 10_000), (300, 1000), (350, 1000)]
    ended = [
        await ended_session(sessions, clock, T0 + day * DAY, entries=1, size=size)
        for day, size in days_and_sizes
    ]
    await new_session(sessions, entries=10)
    limits = PruneLimits(max_age_days=365, max_ended_sessions=3, max_log_bytes=5000)
    result = await prune(sessions.writer, sessions.readers, limits, now=T0 + 400 * DAY)
    assert (result.by_age, result.by_count, result.by_storage) == (2, 1, 1)
    assert [(p.id, p.reason) for p in result.pruned] == [
        (ended[0], "age"),
        (ended[1], "age"),
        (ended[2], "count"),
        (ended[3], "storage"),
    ]
    assert "pruned 2 by age, 1 by count, 1 by storage" in result.summary()
    assert ids(settings.db, "ended_at IS NOT NULL") == set(ended[4:])


async def test_active_sessions_are_never_pruned(
    sessions: Sessions, clock: Clock, settings: Settings
) -> None:
    active = await new_session(sessions, entries=2000)  # old, big and busy
    await ended_session(sessions, clock, T0 + DAY, entries=10)
    limits = PruneLimits(max_age_days=0.001, max_ended_sessions=1, max_log_bytes=1)
    result = await prune(sessions.writer, sessions.readers, limits, now=T0 + 1000 * DAY)
    assert result.sessions == 1
    assert ids(settings.db) == {active}
    assert query(settings.db, "SELECT count(*) FROM log_entries")[0][0] == 2000


async def test_dry_run_changes_nothing(
    sessions: Sessions, clock: Clock, settings: Settings
) -> None:
    for i in range(4):
        await ended_session(sessions, clock, T0 + i, entries=10)
    before = query(settings.db, "SELECT * FROM sessions ORDER BY id")
    result = await prune(sessions.writer, sessions.readers, ONLY_COUNT, now=T0, dry_run=True)
    assert result.dry_run and result.by_count == 2 and result.entries == 2 * 11
    assert result.summary().startswith("would prune 0 by age, 2 by count, 0 by storage")
    assert query(settings.db, "SELECT * FROM sessions ORDER BY id") == before


async def test_limits_beyond_the_calendar_are_no_limits(
    sessions: Sessions, clock: Clock, settings: Settings
) -> None:
    await ended_session(sessions, clock, T0)
    limits = PruneLimits(
        max_age_days=1e9, max_ended_sessions=0, max_log_bytes=0, idempotency_hours=1e12
    )
    result = await prune(sessions.writer, sessions.readers, limits, now=T0)
    assert result.sessions == 0 and len(ids(settings.db)) == 1
    assert await maintenance.end_idle(sessions, 1e15) == 0


def test_prune_flags() -> None:
    args = _parser().parse_args(["prune", "--dry-run", "--max-log-bytes", "5", "--db", "x.db"])
    assert (args.dry_run, args.max_log_bytes, args.db, args.max_age_days) == (True, 5, "x.db", None)
    serve = _parser().parse_args(["serve", "--idle-hours", "0.5", "--prune-interval-seconds", "0"])
    assert (serve.idle_hours, serve.prune_interval_seconds) == (0.5, 0)


async def test_counters_keys_and_chunks_stay_right(
    sessions: Sessions, clock: Clock, settings: Settings
) -> None:
    big = await new_session(sessions)
    await append(sessions, big, 12_000, key="retry-1")  # more than two chunks
    await sessions.end(big, "client request")
    active = await new_session(sessions)
    await append(sessions, active, 5, key="old")
    clock.now = T0 + 2 * DAY
    await append(sessions, active, 5, key="new")
    limits = PruneLimits(max_age_days=1, max_ended_sessions=0, max_log_bytes=0)
    result = await prune(sessions.writer, sessions.readers, limits, now=clock())
    assert result.entries == 10_001 and result.expired_keys == 1  # the other went with `big`
    assert query(settings.db, "SELECT session_id, key FROM idempotency_keys") == [(active, "new")]
    async with sessions.readers.connect() as conn:
        figures = await store_figures(conn)
    assert figures["entries"] == query(settings.db, "SELECT count(*) FROM log_entries")[0][0] == 10
    assert figures["bytes"] == 1000


async def test_a_large_prune_gives_the_space_back(
    sessions: Sessions, clock: Clock, settings: Settings
) -> None:
    await ended_session(sessions, clock, T0, entries=200_000, size=120)
    keep = await new_session(sessions, entries=1000)
    async with sessions.readers.connect() as conn:
        await checkpoint(conn)
    before = file_size(settings.db)
    result = await prune(sessions.writer, sessions.readers, ONLY_AGE, now=T0 + 400 * DAY)
    after = file_size(settings.db)
    assert result.entries == 200_001 and result.file_bytes > 0
    assert after < before / 10
    assert query(settings.db, "SELECT count(*) FROM log_entries WHERE session_id=?", keep)[0][0]
    assert query(settings.db, "PRAGMA integrity_check") == [("ok",)]


async def test_ingestion_flows_during_a_large_prune(sessions: Sessions, settings: Settings) -> None:
    big = await new_session(sessions, entries=50_000)
    await sessions.end(big, "client request")
    writers = [await new_session(sessions, appname=f"writer-{i}") for i in range(4)]
    high_before = query(settings.db, "SELECT seq FROM sqlite_sequence")[0][0]
    done = asyncio.Event()
    during = 0

    async def post(sid: str) -> list[Appended]:
        nonlocal during
        acks: list[Appended] = []
        while not done.is_set() or len(acks) < 5:
            now = sessions.now()
            rows = [(sid, now, None, None, f"{len(acks)} {i}", None, None, None) for i in range(50)]
            batch = Batch(rows=rows, nbytes=sum(len(row[4]) for row in rows), truncated=0)
            acks.append(await sessions.append(sid, batch, None))  # acknowledged once committed
            during += not done.is_set()
        return acks

    async def prune_then_stop() -> maintenance.PruneResult:
        try:
            return await prune(sessions.writer, sessions.readers, ALL_ENDED, now=T0)
        finally:
            done.set()

    result, *all_acks = await asyncio.gather(prune_then_stop(), *(post(s) for s in writers))
    assert result.sessions == 1 and result.entries == 50_001
    assert during > 0  # writes were acknowledged while the prune ran
    for sid, acks in zip(writers, all_acks, strict=True):
        cursors = [ack.cursor for ack in acks]
        assert cursors == sorted(set(cursors)) and cursors[0] > high_before
        stored = [
            cursor
            for (cursor,) in query(
                settings.db, "SELECT cursor FROM log_entries WHERE session_id=? ORDER BY 1", sid
            )
        ]
        assert len(stored) == sum(ack.count for ack in acks)
        assert set(cursors) <= set(stored)
    async with sessions.readers.connect() as conn:
        figures = await store_figures(conn)
    assert figures["entries"] == query(settings.db, "SELECT count(*) FROM log_entries")[0][0]


# Liveness


async def test_a_session_whose_process_exited_is_ended(
    sessions: Sessions, settings: Settings, child: subprocess.Popen[bytes]
) -> None:
    gone = await new_session(sessions, pid=child.pid)
    mine = await new_session(sessions, pid=os.getpid())
    remote = await new_session(sessions)
    assert await maintenance.check_liveness(sessions) == 0
    child.kill()
    child.wait()
    assert await maintenance.check_liveness(sessions) == 1
    assert status(settings.db, gone)[1] == "process exited"
    assert last_message(settings.db, gone) == "session ended (process exited)"
    assert status(settings.db, mine) == status(settings.db, remote) == (None, None)
    assert await maintenance.check_liveness(sessions) == 0


def test_a_zombie_counts_as_exited() -> None:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    try:
        deadline = time.monotonic() + 20
        while psutil.Process(process.pid).status() != psutil.STATUS_ZOMBIE:  # exited, not reaped
            assert time.monotonic() < deadline
            time.sleep(0.01)
        zombie = LocalSession(id=SID, appname="", pid=process.pid, pid_started_at=None)
        assert maintenance.process_gone(zombie)
    finally:
        process.wait()


async def test_a_reused_pid_is_not_the_same_process(sessions: Sessions, settings: Settings) -> None:
    reused = await new_session(sessions, pid=os.getpid())
    close = await new_session(sessions, pid=os.getpid())
    started = psutil.Process().create_time()
    for sid, earlier in ((reused, 3600.0), (close, 0.5)):  # 0.5 s is within the tolerance

        def backdate(conn: Any, sid: str = sid, earlier: float = earlier) -> None:
            sql = "UPDATE sessions SET pid_started_at = :at WHERE id = :id"
            conn.execute(text(sql), {"at": now_timestamp(started - earlier), "id": sid})

        await sessions.writer.run(backdate)
    assert await maintenance.check_liveness(sessions) == 1
    assert status(settings.db, reused)[1] == "process exited"
    assert status(settings.db, close) == (None, None)


async def test_idle_sessions_are_ended(
    sessions: Sessions, clock: Clock, settings: Settings
) -> None:
    idle = await new_session(sessions)
    busy = await new_session(sessions)
    clock.now = T0 + 20 * 3600
    await append(sessions, busy, 1)
    clock.now = T0 + 25 * 3600
    assert await maintenance.end_idle(sessions, 0) == 0  # 0 turns it off
    assert await maintenance.end_idle(sessions, 24 * 3600) == 1
    assert status(settings.db, idle) == (now_timestamp(clock.now), "idle timeout")
    assert last_message(settings.db, idle) == "session ended (idle timeout)"
    assert status(settings.db, busy) == (None, None)


async def test_the_self_session_is_never_ended(
    sessions: Sessions, clock: Clock, settings: Settings, child: subprocess.Popen[bytes]
) -> None:
    own = await sessions.start_self("test")  # as the server registers itself, with its pid
    other = await new_session(sessions, pid=child.pid)
    child.kill()
    child.wait()
    await sessions.writer.run(  # the server's own pid looks reused too
        lambda conn: conn.execute(text("UPDATE sessions SET pid_started_at = '2000-01-01'"))
    )
    clock.now += 48 * 3600
    assert await maintenance.check_liveness(sessions) == 1
    assert await maintenance.end_idle(sessions, 3600) == 0
    assert status(settings.db, own) == (None, None)
    assert status(settings.db, other)[1] == "process exited"


async def test_restart_ends_sessions_of_gone_processes_only(
    settings: Settings, child: subprocess.Popen[bytes]
) -> None:
    settings = quiet(settings)
    async with AsyncTestClient(LoopbackPeer(create_app(settings))) as client:  # type: ignore[arg-type]
        orphan = (await client.post("/sessions/", json={"pid": child.pid})).text
        alive = (await client.post("/sessions/", json={"pid": os.getpid()})).text
        remote = (await client.post("/sessions/", json={})).text
        crashed = (await client.get("/sessions/")).json()["self_id"]
        assert (await client.get(f"/sessions/{orphan}")).json()["pid"] == child.pid
    child.kill()
    child.wait()
    with sqlite3.connect(settings.db) as db:  # as if the first server had been killed
        sql = "UPDATE sessions SET ended_at = NULL, end_reason = NULL, pid = ? WHERE id = ?"
        db.execute(sql, (child.pid, crashed))
    async with AsyncTestClient(create_app(settings)):
        pass
    assert status(settings.db, orphan)[1] == status(settings.db, crashed)[1] == "process exited"
    assert last_message(settings.db, orphan) == "session ended (process exited)"
    assert status(settings.db, alive) == status(settings.db, remote) == (None, None)


async def test_liveness_off_leaves_everything_at_start(
    settings: Settings, child: subprocess.Popen[bytes]
) -> None:
    settings = quiet(settings, liveness_interval_seconds=0)
    async with AsyncTestClient(LoopbackPeer(create_app(settings))) as client:  # type: ignore[arg-type]
        orphan = (await client.post("/sessions/", json={"pid": child.pid})).text
    child.kill()
    child.wait()
    async with AsyncTestClient(create_app(settings)):
        pass
    assert status(settings.db, orphan) == (None, None)


# Loops


async def test_a_loop_logs_failures_and_goes_on(caplog: pytest.LogCaptureFixture) -> None:
    calls = 0
    third = asyncio.Event()

    async def job() -> None:
        nonlocal calls
        calls += 1
        if calls == 3:
            third.set()
        if calls == 1:
            raise RuntimeError("boom")

    with caplog.at_level(logging.ERROR, logger="service.maintenance"):
        loop = asyncio.create_task(maintenance.every(0.001, job, name="flaky", delay=0))
        await asyncio.wait_for(third.wait(), 10)
        loop.cancel()
        with pytest.raises(asyncio.CancelledError):
            await loop
    assert [r.getMessage() for r in caplog.records] == ["flaky failed"]
    assert caplog.records[0].exc_info is not None


async def test_the_server_runs_the_loops(
    settings: Settings, child: subprocess.Popen[bytes]
) -> None:
    settings = quiet(
        settings,
        prune_delay_seconds=0,
        prune_interval_seconds=0.05,
        max_ended_sessions=1,
        liveness_interval_seconds=0.05,
    )
    async with AsyncTestClient(LoopbackPeer(create_app(settings))) as client:  # type: ignore[arg-type]
        watched = (await client.post("/sessions/", json={"pid": child.pid})).text
        for _ in range(3):
            await client.delete(f"/sessions/{(await client.post('/sessions/', json={})).text}")
        child.kill()
        child.wait()
        deadline = time.monotonic() + 20
        while True:
            listing = (await client.get("/sessions/?status=ended")).json()["sessions"]
            if [s["id"] for s in listing] == [watched]:
                break
            assert time.monotonic() < deadline, listing
            await asyncio.sleep(0.02)
        assert listing[0]["end_reason"] == "process exited"


# The `sessions prune` command


def sessions_command(*args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "service", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=60)


def test_prune_command_beside_a_running_server(server: ServerProcess) -> None:
    with httpx.Client(base_url=server.url) as http:
        created = [http.post("/sessions/").text for _ in range(4)]
        for sid in created:
            http.post(f"/sessions/{sid}/log", content="one\ntwo", headers=TEXT)
            http.delete(f"/sessions/{sid}")
        db = str(server.db)
        ended = "SELECT * FROM sessions WHERE ended_at IS NOT NULL ORDER BY id"
        before = query(db, ended)

        dry = sessions_command("prune", "--dry-run", "--db", db, "--max-ended-sessions", "1")
        assert dry.returncode == 0, dry.stderr
        assert "would prune 0 by age, 3 by count, 0 by storage (9 log entries" in dry.stdout
        assert [line.split()[0] for line in dry.stdout.splitlines()[:-1]] == created[:3]
        assert query(db, ended) == before

        done = sessions_command("prune", "--db", db, "--max-ended-sessions", "1")
        assert done.returncode == 0, done.stderr
        assert "pruned 0 by age, 3 by count, 0 by storage (9 log entries" in done.stdout
        listed = http.get("/sessions/?status=ended").json()["sessions"]
        assert [s["id"] for s in listed] == [created[3]]
        answer = http.post(f"/sessions/{created[3]}/log", content="still", headers=TEXT)
        assert answer.status_code == 200


async def test_prune_command_on_its_own(
    sessions: Sessions, clock: Clock, settings: Settings
) -> None:
    clock.now = time.time() - 400 * DAY
    old = await ended_session(sessions, clock, clock.now, entries=3)
    clock.now = time.time()
    young = await ended_session(sessions, clock, clock.now, entries=3)
    await sessions.writer.stop()  # no server: the command is alone with the file
    done = await asyncio.to_thread(sessions_command, "prune", "--db", settings.db)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"{old}  ended ") and " age " in done.stdout
    assert "pruned 1 by age, 0 by count, 0 by storage (4 log entries" in done.stdout
    assert ids(settings.db) == {young}


def test_prune_command_needs_a_database(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.db"
    done = sessions_command("prune", "--db", str(missing))
    assert done.returncode == 1 and "no database" in done.stderr and not missing.exists()
