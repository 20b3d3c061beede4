"""The rules of sessions and their logs, over the store and the writer."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import msgspec
import psutil
from sqlalchemy.ext.asyncio import AsyncEngine

from service.compactbinary import ObjectId
from service.db import store
from service.db.store import Appended, EntryRow, LogRow, Outcome, SessionRow
from service.db.writer import Writer
from service.domain.errors import InvalidInput, NotFound
from service.domain.ids import InvalidId, new_session_id, parse_session_id
from service.domain.logs import Batch
from service.domain.timestamps import now_timestamp
from service.domain.values import stored

T = TypeVar("T")
STATUSES = ("active", "ended", "all")
FILTERS = ("appname", "mode", "platform", "jobid", "parent_session_id")
SELF_APPNAME = "sessions-server"
MAX_IDEMPOTENCY_KEY = 256


class RegisterBody(msgspec.Struct):
    """What a client may say about its session when it registers."""

    appname: str = ""
    mode: str = ""
    platform: str = ""
    pid: int | None = None
    parent_session_id: Any = None
    jobid: Any = None
    metadata: dict[str, Any] | msgspec.UnsetType = msgspec.UNSET


class SessionList(msgspec.Struct):
    """The answer of a list: the server's own session id and the sessions."""

    self_id: str
    sessions: list[SessionRow]


class CursorPage(msgspec.Struct):
    """Entries after a cursor."""

    cursor: int
    count: int
    total: int
    more: bool
    entries: list[EntryRow]


class OffsetPage(msgspec.Struct):
    """Entries from an offset."""

    total: int
    entries: list[EntryRow]


def session_id(text: str) -> str:
    """A normalized session id, or InvalidInput."""
    try:
        return parse_session_id(text)
    except InvalidId as exc:
        raise InvalidInput(str(exc)) from None


class Sessions:
    """Registers, updates, ends and reads sessions and their logs."""

    def __init__(
        self,
        writer: Writer,
        readers: AsyncEngine,
        *,
        clock: Callable[[], float],
        idempotency_seconds: float,
        queue_wait: float = 0.0,
    ) -> None:
        self.writer = writer
        self.readers = readers
        self.clock = clock
        self.idempotency_seconds = idempotency_seconds
        self.queue_wait = queue_wait
        self.self_id = ""
        # Told (session id, last cursor) after every commit that appended to a session's log.
        self.listeners: list[Callable[[str, int], None]] = []

    def now(self) -> str:
        """The current time as stored."""
        return now_timestamp(self.clock())

    async def register(
        self, requested_id: str | None, body: RegisterBody, *, local: bool, typed: bool = False
    ) -> tuple[str, bool]:
        """Create or refresh a session; returns its id and whether it is new."""
        sid = session_id(requested_id) if requested_id is not None else new_session_id()
        values = self._session_values(sid, body, local=local, typed=typed)
        has_metadata = body.metadata is not msgspec.UNSET
        now = self.now()

        outcome = await self.writer.run(
            lambda conn: store.register_session(conn, values, now=now, update_metadata=has_metadata)
        )
        return sid, outcome is Outcome.CREATED

    async def replace_metadata(self, sid: str, metadata: dict[str, Any], *, typed: bool) -> None:
        """Replace a session's metadata whole."""
        text, compact = stored(metadata, typed=typed)
        now = self.now()
        outcome = await self.writer.run(
            lambda conn: store.replace_metadata(conn, sid, text, compact, now=now)
        )
        _found(outcome, sid)

    async def end(self, sid: str, reason: str) -> None:
        """End an active session with a reason and its final log line."""
        now = self.now()
        line: LogRow = (sid, now, "info", "sessions", f"session ended ({reason})", None, None, None)
        outcome = await self.writer.run(
            lambda conn: store.end_session(conn, sid, reason=reason, now=now, final_line=line)
        )
        if not isinstance(outcome, Appended):
            raise NotFound(f"Session '{sid}' not found")
        self._appended(sid, outcome)

    async def append(self, sid: str, batch: Batch, idempotency_key: str | None) -> Appended:
        """Append a batch atomically, once per Idempotency-Key."""
        if idempotency_key is not None and not 0 < len(idempotency_key) <= MAX_IDEMPOTENCY_KEY:
            raise InvalidInput(f"Idempotency-Key must be 1 to {MAX_IDEMPOTENCY_KEY} characters")
        now = self.now()
        since = ""  # only a keyed batch needs the oldest key still remembered
        if idempotency_key is not None:
            since = now_timestamp(self.clock() - self.idempotency_seconds)
        outcome = await self.writer.run(
            lambda conn: store.append_log(
                conn,
                sid,
                batch.rows,
                nbytes=batch.nbytes,
                now=now,
                idempotency_key=idempotency_key,
                idempotency_since=since,
            ),
            weight=len(batch.rows),
            wait=self.queue_wait,
        )
        if not isinstance(outcome, Appended):
            raise NotFound(f"Session '{sid}' not found")
        self._appended(sid, outcome)
        return outcome

    def _appended(self, sid: str, appended: Appended) -> None:
        if appended.count:
            for listener in self.listeners:
                listener(sid, appended.cursor)

    async def entries_after(self, sid: str, cursor: int, limit: int) -> list[EntryRow]:
        """Up to limit entries after a cursor, without the page's session figures."""
        async with self.readers.connect() as conn:
            return await store.read_log_after(conn, sid, cursor, limit)

    async def get(self, sid: str) -> SessionRow:
        """One session's info."""
        async with self.readers.connect() as conn:
            row = await store.get_session(conn, sid)
        return _found(row, sid)

    async def list(self, status: str, filters: dict[str, str], limit: int) -> SessionList:
        """Sessions by status and filters, active first, each newest first."""
        if status not in STATUSES:
            raise InvalidInput(f"Invalid 'status' parameter '{status}': use active, ended or all")
        async with self.readers.connect() as conn:
            rows = await store.list_sessions(conn, status=status, filters=filters, limit=limit)
        return SessionList(self_id=self.self_id, sessions=rows)

    async def read_after(self, sid: str, cursor: int, limit: int) -> CursorPage:
        """Entries after a cursor; `more` tells whether the limit cut the page."""
        async with self.readers.connect() as conn, conn.begin():
            session = _found(await store.get_session(conn, sid), sid)
            entries = await store.read_log_after(conn, sid, cursor, limit + 1)
        more = len(entries) > limit
        del entries[limit:]
        last = entries[-1].cursor if entries else cursor
        return CursorPage(last, len(entries), session.log_count, more, entries)

    async def read_offset(self, sid: str, offset: int, limit: int) -> OffsetPage:
        """Entries from an offset into the session's log."""
        async with self.readers.connect() as conn, conn.begin():
            session = _found(await store.get_session(conn, sid), sid)
            entries = await store.read_log_offset(conn, sid, offset, limit)
        return OffsetPage(session.log_count, entries)

    async def figures(self) -> dict[str, int]:
        """Stored totals from the counters."""
        async with self.readers.connect() as conn:
            return await store.store_figures(conn)

    async def start_self(self, version: str) -> str:
        """Register the server's own session, into which its log records go."""
        body = RegisterBody(
            appname=SELF_APPNAME,
            mode="server",
            platform=sys.platform,
            pid=os.getpid(),
            metadata={"version": version},
        )
        self.self_id, _ = await self.register(None, body, local=True)
        return self.self_id

    def _session_values(
        self, sid: str, body: RegisterBody, *, local: bool, typed: bool
    ) -> dict[str, Any]:
        metadata = body.metadata if body.metadata is not msgspec.UNSET else {}
        metadata_json, metadata_cb = stored(metadata, typed=typed)
        values: dict[str, Any] = {
            "id": sid,
            "appname": body.appname,
            "mode": body.mode,
            "platform": body.platform,
            "parent_session_id": _optional_id(body.parent_session_id, "parent_session_id"),
            "jobid": _jobid(body.jobid),
            "metadata": metadata_json,
            "metadata_cb": metadata_cb,
        }
        if local and body.pid is not None:
            if body.pid <= 0:
                raise InvalidInput(f"Invalid 'pid' {body.pid}: must be a positive integer")
            values["pid"] = body.pid
            values["pid_started_at"] = _process_started_at(body.pid)
        return values


def _found(value: T | None, sid: str) -> T:
    if value is None or value is Outcome.NOT_FOUND:
        raise NotFound(f"Session '{sid}' not found")
    return value


def _optional_id(value: Any, field: str) -> str | None:
    if value is None or value == "":
        return None
    if isinstance(value, ObjectId):
        return value.hex()
    if isinstance(value, str):
        try:
            return parse_session_id(value)
        except InvalidId:
            raise InvalidInput(f"Invalid '{field}' '{value}': expected a session id") from None
    raise InvalidInput(f"Invalid '{field}': expected a session id")


def _jobid(value: Any) -> str | None:
    if value is None or value == "":
        return None
    if isinstance(value, ObjectId):
        return value.hex()
    if isinstance(value, str):
        try:
            return parse_session_id(value)
        except InvalidId:
            return value  # job ids from other schedulers are kept as given
    raise InvalidInput("Invalid 'jobid': expected a string or an ObjectId")


def _process_started_at(pid: int) -> str | None:
    """The start time of a local process, so that a reused pid is not mistaken for it."""
    try:
        started = psutil.Process(pid).create_time()
    except (psutil.Error, OverflowError):
        return None
    return now_timestamp(started)
