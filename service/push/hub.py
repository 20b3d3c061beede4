"""The push hub: wakes log subscribers on new cursors and shares reads and frames between them."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterator
from typing import Any

import msgspec

from service import compactbinary
from service.api.wire import encode_json, to_compact
from service.db.store import EntryRow
from service.domain.sessions import Sessions

log = logging.getLogger(__name__)


class LogFrame(msgspec.Struct, kw_only=True):
    """Entries of one session after a cursor, as pushed to subscribers."""

    type: str = "log"
    session: str
    cursor: int
    count: int
    entries: list[EntryRow]


class Frame(msgspec.Struct, frozen=True):
    """An encoded frame and the cursor its receiver has after it."""

    data: bytes | str
    cursor: int
    count: int


class Hub:
    """Knows each session's newest cursor; subscribers wait here and pull from the database."""

    def __init__(self, sessions: Sessions, *, frame_entries: int, frame_bytes: int) -> None:
        self.sessions = sessions
        self.frame_entries = frame_entries
        self.frame_bytes = frame_bytes
        self._watchers: dict[str, int] = {}
        self._latest: dict[str, int] = {}  # only for sessions someone watches
        self._waiters: dict[str, asyncio.Event] = {}
        self._reads: dict[tuple[str, int, str], asyncio.Future[Frame]] = {}
        self.reads = 0  # database reads made for subscribers (shared reads count once)
        self.connections = 0

    @contextlib.contextmanager
    def watching(self, session_id: str) -> Iterator[None]:
        """Track the session's newest cursor while a subscriber follows it.

        A subscriber enters before its first read, so an append is either visible to that read
        or announced afterwards: no wake-up is lost, and sessions nobody follows cost nothing.
        """
        self._watchers[session_id] = self._watchers.get(session_id, 0) + 1
        self._latest.setdefault(session_id, 0)
        try:
            yield
        finally:
            self._watchers[session_id] -= 1
            if not self._watchers[session_id]:
                del self._watchers[session_id], self._latest[session_id]
                self._waiters.pop(session_id, None)

    @property
    def followed(self) -> int:
        """How many sessions have subscribers."""
        return len(self._watchers)

    def appended(self, session_id: str, cursor: int) -> None:
        """Called after a commit: the session has entries up to this cursor."""
        if session_id not in self._latest:
            return
        if cursor > self._latest[session_id]:
            self._latest[session_id] = cursor
        event = self._waiters.pop(session_id, None)
        if event is not None:
            event.set()

    async def wait_beyond(self, session_id: str, cursor: int) -> None:
        """Return once the session may have entries after the cursor."""
        while self._latest.get(session_id, 0) <= cursor:
            event = self._waiters.get(session_id)
            if event is None:
                event = self._waiters[session_id] = asyncio.Event()
            await event.wait()

    async def frame(self, session_id: str, cursor: int, encoding: str) -> Frame:
        """The next frame after a cursor; subscribers asking for the same one share it."""
        key = (session_id, cursor, encoding)
        pending = self._reads.get(key)
        if pending is None:
            pending = asyncio.ensure_future(self._read_frame(session_id, cursor, encoding))
            self._reads[key] = pending
            pending.add_done_callback(lambda _: self._reads.pop(key, None))
        return await asyncio.shield(pending)

    async def _read_frame(self, session_id: str, cursor: int, encoding: str) -> Frame:
        self.reads += 1
        entries = await self.sessions.entries_after(session_id, cursor, self.frame_entries)
        while True:
            last = entries[-1].cursor if entries else cursor
            frame = LogFrame(session=session_id, cursor=last, count=len(entries), entries=entries)
            data = encode_frame(frame, encoding)
            if len(data) <= self.frame_bytes or len(entries) <= 1:
                return Frame(data, last, len(entries))
            entries = entries[: len(entries) // 2]  # too large: send fewer entries this time


def encode_frame(frame: LogFrame, encoding: str) -> bytes | str:
    """JSON text, or compact binary as Zen sends it (`session` a String, times DateTime)."""
    if encoding == "json":
        return encode_json(frame).decode()
    return compactbinary.encode(to_compact(frame))


class SessionListWatcher:
    """Reads the session list every interval while anyone listens; bumps a version on change."""

    def __init__(self, sessions: Sessions, *, limit: int) -> None:
        self.sessions = sessions
        self.limit = limit
        self.listeners = 0
        self.text = ""
        self.version = 0
        self._changed = asyncio.Event()

    async def refresh(self) -> bool:
        """Read the list now; True when it differs from the last one."""
        listing = await self.sessions.list("all", {}, self.limit)
        text = encode_json(
            SessionsFrame(self_id=listing.self_id, sessions=listing.sessions)
        ).decode()
        if text == self.text:
            return False
        self.text = text
        self.version += 1
        self._changed.set()
        self._changed = asyncio.Event()
        return True

    async def poll(self) -> None:
        """One tick of the watch loop: refresh only when someone is listening."""
        if self.listeners:
            await self.refresh()

    async def wait_newer(self, version: int) -> None:
        """Return once the list is newer than the given version."""
        while self.version <= version:
            await self._changed.wait()

    @contextlib.contextmanager
    def listening(self) -> Any:
        """Count a listener for as long as the block runs."""
        self.listeners += 1
        try:
            yield self
        finally:
            self.listeners -= 1


class SessionsFrame(msgspec.Struct, kw_only=True):
    """The session list as pushed: the shape of GET /sessions/?status=all plus its type."""

    type: str = "sessions"
    self_id: str
    sessions: list[Any]
