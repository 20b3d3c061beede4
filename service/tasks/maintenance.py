"""Maintenance jobs: prune, liveness, idle sessions; each once-callable, and their loops."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
from collections.abc import Awaitable, Callable

import msgspec
import psutil
from sqlalchemy.ext.asyncio import AsyncEngine

from service.db import maintenance as queries
from service.db.engine import checkpoint, incremental_vacuum, page_size
from service.db.maintenance import AGE, COUNT, STORAGE, Deleted, LocalSession, Prunable
from service.db.writer import Writer
from service.domain.errors import NotFound
from service.domain.sessions import Sessions
from service.domain.timestamps import now_timestamp
from service.settings import Settings

log = logging.getLogger("service.maintenance")

LOG_CHUNK = 2_000  # log entries deleted per writer transaction (it holds the event loop)
VACUUM_CHUNK = 1_000  # pages given back per writer transaction
PID_TOLERANCE_SECONDS = 2.0  # start times are stored to the millisecond; clocks jitter a little
PROCESS_EXITED = "process exited"
IDLE_TIMEOUT = "idle timeout"


class PruneLimits(msgspec.Struct, frozen=True, kw_only=True):
    """When ended sessions go (0 turns a limit off), and how long idempotency keys last."""

    max_age_days: float = 365.0
    max_ended_sessions: int = 1_000
    max_log_bytes: int = 50 * 1024 * 1024
    idempotency_hours: float = 24.0

    @classmethod
    def of(cls, settings: Settings) -> PruneLimits:
        """The limits a server or the `prune` command was given."""
        return cls(
            max_age_days=settings.max_age_days,
            max_ended_sessions=settings.max_ended_sessions,
            max_log_bytes=settings.max_log_bytes,
            idempotency_hours=settings.idempotency_hours,
        )


class PruneResult(msgspec.Struct, kw_only=True):
    """What a prune removed (or, dry, would remove)."""

    dry_run: bool = False
    sessions: int = 0
    by_age: int = 0
    by_count: int = 0
    by_storage: int = 0
    entries: int = 0
    bytes: int = 0
    expired_keys: int = 0
    file_bytes: int = 0
    pruned: list[Prunable] = msgspec.field(default_factory=list)

    def summary(self) -> str:
        """One line, as Zen logs it."""
        verb = "would prune" if self.dry_run else "pruned"
        line = (
            f"{verb} {self.by_age} by age, {self.by_count} by count, {self.by_storage} by storage"
            f" ({self.entries} log entries, {self.bytes} bytes of messages"
        )
        if not self.dry_run:
            line += (
                f"; {self.expired_keys} expired idempotency keys;"
                f" {self.file_bytes} bytes given back to the file system"
            )
        return line + ")"

    def add(self, session: Prunable, deleted: Deleted) -> None:
        """Count one session that went."""
        field = {AGE: "by_age", COUNT: "by_count", STORAGE: "by_storage"}[session.reason]
        setattr(self, field, getattr(self, field) + 1)
        self.sessions += 1
        self.entries += deleted.entries
        self.bytes += deleted.bytes
        self.pruned.append(session)


async def prune(
    writer: Writer,
    readers: AsyncEngine,
    limits: PruneLimits,
    *,
    now: float,
    dry_run: bool = False,
    share_lock: bool = False,
) -> PruneResult:
    """Delete the ended sessions past the limits, oldest first, in bounded writer operations.

    `share_lock`: another process (a running server) writes to the same file; pause after
    each chunk for as long as it took, so that the other writer gets the lock half the time.
    """
    async with readers.connect() as conn:
        chosen = await queries.prunable(
            conn,
            ended_before=_before(now, limits.max_age_days * 86_400),
            keep_ended=limits.max_ended_sessions or None,
            max_log_bytes=limits.max_log_bytes or None,
        )
    result = PruneResult(dry_run=dry_run)
    for session in chosen:
        if dry_run:
            result.add(session, Deleted(session.log_count, session.log_bytes))
            continue
        deleted = await _delete(writer, session, share_lock)
        if deleted is not None:
            result.add(session, deleted)
    if not dry_run:
        keys_before = (
            _before(now, limits.idempotency_hours * 3600)
            if limits.idempotency_hours
            else now_timestamp(now)
        )
        if keys_before is not None:
            result.expired_keys = await _expire_keys(writer, keys_before)
        result.file_bytes = await _vacuum(writer)
        async with readers.connect() as conn:
            await checkpoint(conn)
    log.log(logging.INFO if result.sessions else logging.DEBUG, "%s", result.summary())
    return result


async def _delete(writer: Writer, session: Prunable, share_lock: bool) -> Deleted | None:
    """One session: its log a chunk per transaction (ingestion runs between), then the row."""
    total = Deleted()
    while True:
        started = time.monotonic()
        chunk = await writer.run(
            lambda conn: queries.delete_log_chunk(conn, session.id, session.ended_at, LOG_CHUNK)
        )
        if share_lock:
            await asyncio.sleep(time.monotonic() - started)
        if chunk is None:  # gone already (another prune)
            return None
        total.entries += chunk.entries
        total.bytes += chunk.bytes
        if chunk.entries < LOG_CHUNK:
            break
    rest = await writer.run(lambda conn: queries.delete_session(conn, session.id, session.ended_at))
    if rest is None:
        return None
    return Deleted(total.entries + rest.entries, total.bytes + rest.bytes)


def _before(now: float, seconds: float) -> str | None:
    """The timestamp `seconds` before now; None for no limit (0, or before year 1)."""
    if seconds <= 0:
        return None
    try:
        return now_timestamp(now - seconds)
    except (OverflowError, ValueError, OSError):
        return None


async def _expire_keys(writer: Writer, since: str) -> int:
    """Forget idempotency keys older than they are kept for, a chunk per transaction."""
    total = 0
    while True:
        count = await writer.run(
            lambda conn: queries.delete_expired_keys(conn, created_before=since, limit=LOG_CHUNK)
        )
        total += count
        if count < LOG_CHUNK:
            return total


async def _vacuum(writer: Writer) -> int:
    """Give the free pages back to the file system, a bounded number per transaction; bytes."""
    freed = 0
    while pages := await writer.run(lambda conn: incremental_vacuum(conn, VACUUM_CHUNK)):
        freed += pages
    return freed * await writer.run(page_size) if freed else 0


async def check_liveness(sessions: Sessions) -> int:
    """End active sessions whose local process is gone or whose pid was reused; how many."""
    async with sessions.readers.connect() as conn:
        local = await queries.local_active(conn, besides=sessions.self_id)
    if not local:
        return 0
    gone = await asyncio.to_thread(lambda: [s for s in local if process_gone(s)])
    ended = 0
    for session in gone:
        if await _end(sessions, session.id, PROCESS_EXITED):
            ended += 1
            log.info(
                "session %s (%s, pid %d) ended: %s",
                session.id,
                session.appname or "no appname",
                session.pid,
                PROCESS_EXITED,
            )
    return ended


async def end_orphans_at_start(sessions: Sessions) -> int:
    """Sessions an earlier run left active whose local process is gone are ended; how many."""
    ended = await check_liveness(sessions)
    if ended:
        log.info("ended %d session(s) left active by an earlier run", ended)
    return ended


async def end_idle(sessions: Sessions, idle_seconds: float) -> int:
    """End active sessions with no update and no log for longer than idle_seconds; how many."""
    since = _before(sessions.clock(), idle_seconds)
    if since is None:
        return 0
    async with sessions.readers.connect() as conn:
        idle = await queries.idle_active(conn, updated_before=since, besides=sessions.self_id)
    ended = 0
    for sid in idle:
        if await _end(sessions, sid, IDLE_TIMEOUT):
            ended += 1
            log.info("session %s ended: %s (silent since before %s)", sid, IDLE_TIMEOUT, since)
    return ended


async def _end(sessions: Sessions, sid: str, reason: str) -> bool:
    """End a session unless something else ended it first."""
    try:
        await sessions.end(sid, reason)
    except NotFound:
        return False
    return True


def process_gone(session: LocalSession) -> bool:
    """The session's process has exited (or is a zombie), or its pid is now another's."""
    try:
        process = psutil.Process(session.pid)
        if process.status() == psutil.STATUS_ZOMBIE:
            return True
        started = process.create_time()
    except psutil.NoSuchProcess:
        return True
    except (psutil.Error, OverflowError):
        return False  # not ours to inspect: assume it lives
    try:
        recorded = dt.datetime.fromisoformat(session.pid_started_at or "").timestamp()
    except ValueError:
        return False  # no start time known: the pid alone says it lives
    return started > recorded + PID_TOLERANCE_SECONDS


async def every(
    seconds: float, job: Callable[[], Awaitable[object]], *, name: str, delay: float | None = None
) -> None:
    """Run a job every `seconds` (first after `delay`) until cancelled; failures are logged."""
    await asyncio.sleep(seconds if delay is None else delay)
    while True:
        try:
            await job()
        except Exception:
            log.exception("%s failed", name)
        await asyncio.sleep(seconds)


async def start(sessions: Sessions, settings: Settings) -> list[asyncio.Task[None]]:
    """End what an earlier run left behind, then start the loops; an interval of 0 is off."""
    loops: list[asyncio.Task[None]] = []
    if settings.prune_interval_seconds > 0:
        limits = PruneLimits.of(settings)
        loops.append(
            _loop(
                settings.prune_interval_seconds,
                lambda: prune(sessions.writer, sessions.readers, limits, now=sessions.clock()),
                name="prune",
                delay=settings.prune_delay_seconds,
            )
        )
    if settings.liveness_interval_seconds > 0:
        try:
            await end_orphans_at_start(sessions)
        except Exception:
            log.exception("liveness at start failed")
        loops.append(
            _loop(settings.liveness_interval_seconds, lambda: check_liveness(sessions), "liveness")
        )
        if settings.idle_hours > 0:
            idle_seconds = settings.idle_hours * 3600
            loops.append(
                _loop(
                    settings.liveness_interval_seconds,
                    lambda: end_idle(sessions, idle_seconds),
                    "idle",
                )
            )
    return loops


def _loop(
    seconds: float,
    job: Callable[[], Awaitable[object]],
    name: str,
    delay: float | None = None,
) -> asyncio.Task[None]:
    return asyncio.create_task(every(seconds, job, name=name, delay=delay), name=name)
