"""Python client of the sessions server: SessionClient, AsyncSessionClient, SessionLogHandler."""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import logging
import math
import os
import re
import sys
import threading
import time
import uuid
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, Generic, TypeAlias, TypeVar
from urllib.parse import quote

import httpx
import msgspec

from service import __version__
from service.domain.ids import new_session_id

DEFAULT_URL = "http://127.0.0.1:8558"
JSON = "application/json"
TEXT = "text/plain"
MAX_RETRY_AFTER = 60.0
DROPPED = "sessions: dropped {} log records while the server was unreachable"

T = TypeVar("T")
Answer: TypeAlias = dict[str, Any]
LogBatch: TypeAlias = Sequence[str | Mapping[str, Any]] | str | Mapping[str, Any]
_LINE_BREAK = re.compile(r"[\r\n]")


class SessionsError(Exception):
    """An error answer of the server: its status code and its `detail`."""

    def __init__(self, status_code: int, detail: str, retry_after: float | None = None) -> None:
        super().__init__(f"{status_code}: {detail}")
        self.status_code = status_code
        self.detail = detail
        self.retry_after = retry_after


# --- the shared core: what to send, how to read the answer, when to try again ---------------
# Both clients only run the loop in their `_send`; everything else is here, written once.


@dataclass(frozen=True, slots=True)
class _Call(Generic[T]):
    """One API call: the request, how to read its answer, and whether a repeat is harmless."""

    method: str
    path: str
    parse: Callable[[httpx.Response], T]
    params: dict[str, Any] | None = None
    headers: dict[str, str] = field(default_factory=dict)
    content: bytes | None = None
    retry: bool = True


@dataclass(frozen=True, slots=True)
class _Retries:
    """How often and how long to wait before a retryable call is tried again."""

    count: int
    backoff: float
    max_backoff: float

    def delay(
        self, call: _Call[Any], attempt: int, outcome: httpx.Response | Exception
    ) -> float | None:
        """Seconds to wait before trying `call` again, or None to stop with this outcome."""
        if not call.retry or attempt >= self.count:
            return None
        if isinstance(outcome, httpx.Response):
            if not _retryable(outcome.status_code):
                return None
            after = _retry_after(outcome)
            if after is not None:
                return after
        return min(self.backoff * 2.0**attempt, self.max_backoff)


def _retryable(status_code: int) -> bool:
    return status_code == 429 or status_code >= 500


def _retry_after(response: httpx.Response) -> float | None:
    """The `Retry-After` header in seconds (a number or an HTTP date), capped; None if absent."""
    value = response.headers.get("retry-after")
    if value is None:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        when = when if when.tzinfo else when.replace(tzinfo=UTC)
        seconds = (when - datetime.now(UTC)).total_seconds()
    return min(max(seconds, 0.0), MAX_RETRY_AFTER) if math.isfinite(seconds) else None


def _finish(call: _Call[T], outcome: httpx.Response | Exception) -> T:
    if isinstance(outcome, Exception):
        raise outcome
    return call.parse(outcome)


def _checked(response: httpx.Response) -> httpx.Response:
    if response.is_success:
        return response
    raise SessionsError(response.status_code, _detail(response), _retry_after(response))


def _detail(response: httpx.Response) -> str:
    try:
        detail = response.json()["detail"]
    except Exception:
        return response.text or response.reason_phrase
    return detail if isinstance(detail, str) else str(detail)


def _text(response: httpx.Response) -> str:
    return _checked(response).text.strip()


def _json(response: httpx.Response) -> Answer:
    answer: Answer = _checked(response).json()
    return answer


def _nothing(response: httpx.Response) -> None:
    _checked(response)


def _path(session_id: str, suffix: str = "") -> str:
    return f"/sessions/{quote(session_id, safe='')}{suffix}"


def _json_body(value: Any) -> dict[str, Any]:
    return {"headers": {"content-type": JSON}, "content": msgspec.json.encode(value)}


def _register_call(session_id: str | None, body: dict[str, Any]) -> _Call[str]:
    # no `metadata` key keeps an existing session's metadata
    fields = {k: v for k, v in body.items() if v is not None and v != ""}
    path = "/sessions/" if session_id is None else _path(session_id)
    # without an id, a repeat would register a second session
    return _Call("POST", path, _text, retry=session_id is not None, **_json_body(fields))


def _update_call(session_id: str, metadata: Mapping[str, Any]) -> _Call[None]:
    return _Call("PUT", _path(session_id), _nothing, **_json_body({"metadata": dict(metadata)}))


def _end_call(session_id: str) -> _Call[None]:
    # a repeat after a lost answer would be 404 "already ended": not retried
    return _Call("DELETE", _path(session_id), _nothing, retry=False)


def _get_call(session_id: str) -> _Call[Answer]:
    return _Call("GET", _path(session_id), _json)


def _list_call(status: str, filters: Mapping[str, str | None]) -> _Call[Answer]:
    params = {"status": status, **{k: v for k, v in filters.items() if v}}
    return _Call("GET", "/sessions/", _json, params=params)


def _read_call(
    session_id: str, cursor: int | None, offset: int | None, limit: int
) -> _Call[Answer]:
    params = {"cursor": cursor, "offset": offset, "limit": limit}
    params = {name: value for name, value in params.items() if value is not None}
    return _Call("GET", _path(session_id, "/log"), _json, params=params)


def _log_call(session_id: str, batch: LogBatch, key: str | None) -> _Call[Answer]:
    """A log batch: lines as text/plain, else JSON records; one Idempotency-Key for all tries."""
    items = [batch] if isinstance(batch, str | Mapping) else list(batch)
    headers = {"idempotency-key": key or uuid.uuid4().hex}
    if all(isinstance(item, str) and not _LINE_BREAK.search(item) for item in items):
        headers["content-type"] = TEXT
        content = "\n".join(item for item in items if isinstance(item, str)).encode()
    else:  # a line with a line break stays one entry only as a JSON record
        headers["content-type"] = JSON
        records = [{"message": item} if isinstance(item, str) else item for item in items]
        content = msgspec.json.encode({"entries": records})
    return _Call("POST", _path(session_id, "/log"), _json, headers=headers, content=content)


def _registration(
    appname: str,
    mode: str,
    platform: str,
    pid: int | None,
    parent_session_id: str | None,
    jobid: str | None,
    metadata: Mapping[str, Any] | None,
) -> dict[str, Any]:
    return {
        "appname": appname,
        "mode": mode,
        "platform": platform,
        "pid": pid,
        "parent_session_id": parent_session_id,
        "jobid": jobid,
        "metadata": None if metadata is None else dict(metadata),
    }


def resolve_url(base_url: str | None = None) -> str:
    """The server's address: the one given, else `$SESSIONS_URL`, else the default."""
    return (base_url or os.environ.get("SESSIONS_URL") or DEFAULT_URL).rstrip("/")


def resolve_token(token: str | None = None) -> str:
    """The access token: the one given (an empty one means none), else `$SESSIONS_TOKEN`."""
    return os.environ.get("SESSIONS_TOKEN", "") if token is None else token


def _client_options(base_url: str | None, timeout: float, token: str | None) -> dict[str, Any]:
    headers = {"accept": JSON, "user-agent": f"sessions-client/{__version__}"}
    token = resolve_token(token)
    if token:
        headers["authorization"] = f"Bearer {token}"
    return {"base_url": resolve_url(base_url), "timeout": timeout, "headers": headers}


# --- the clients ------------------------------------------------------------------------------


class SessionClient:
    """Blocking client over one keep-alive connection pool; safe to share between threads."""

    def __init__(
        self,
        base_url: str | None = None,
        *,
        token: str | None = None,
        timeout: float = 10.0,
        retries: int = 5,
        backoff: float = 0.1,
        max_backoff: float = 5.0,
        sleep: Callable[[float], None] = time.sleep,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        options = _client_options(base_url, timeout, token)
        self._http = httpx.Client(transport=transport, **options)
        self._retries = _Retries(retries, backoff, max_backoff)
        self._sleep = sleep

    @property
    def base_url(self) -> str:
        """The server's address."""
        return str(self._http.base_url).rstrip("/")

    def register(
        self,
        session_id: str | None = None,
        *,
        appname: str = "",
        mode: str = "",
        platform: str = "",
        pid: int | None = None,
        parent_session_id: str | None = None,
        jobid: str | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> str:
        """Register a session (a server-made id when none is given); returns its id."""
        body = _registration(appname, mode, platform, pid, parent_session_id, jobid, metadata)
        return self._send(_register_call(session_id, body))

    def update(self, session_id: str, metadata: Mapping[str, Any]) -> None:
        """Replace a session's metadata."""
        self._send(_update_call(session_id, metadata))

    def end(self, session_id: str) -> None:
        """End a session."""
        self._send(_end_call(session_id))

    def get(self, session_id: str) -> Answer:
        """A session's info."""
        return self._send(_get_call(session_id))

    def log(
        self, session_id: str, batch: LogBatch, *, idempotency_key: str | None = None
    ) -> Answer:
        """Append a batch (lines, or record dicts) atomically; `{"cursor", "count"}`."""
        return self._send(_log_call(session_id, batch, idempotency_key))

    def read(
        self,
        session_id: str,
        *,
        cursor: int | None = None,
        offset: int | None = None,
        limit: int = 0,
    ) -> Answer:
        """One page of the log: the entries after `cursor`, or from `offset` (0 when neither)."""
        return self._send(_read_call(session_id, cursor, offset, limit))

    def entries(self, session_id: str, cursor: int = 0, *, page: int = 1000) -> Iterator[Answer]:
        """Every entry after `cursor`, fetched a page at a time, up to the end of the log."""
        while True:
            answer = self.read(session_id, cursor=cursor, limit=page)
            yield from answer["entries"]
            cursor = answer["cursor"]
            if not answer["more"]:
                return

    def list(self, status: str = "active", **filters: str | None) -> Answer:
        """`{"self_id", "sessions"}` by status (active, ended, all) and exact-match filters."""
        return self._send(_list_call(status, filters))

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def __enter__(self) -> SessionClient:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def _send(self, call: _Call[T]) -> T:
        attempt = 0
        while True:
            outcome: httpx.Response | Exception
            try:
                outcome = self._http.request(
                    call.method,
                    call.path,
                    params=call.params,
                    headers=call.headers,
                    content=call.content,
                )
            except httpx.TransportError as exc:
                outcome = exc
            delay = self._retries.delay(call, attempt, outcome)
            if delay is None:
                return _finish(call, outcome)
            self._sleep(delay)
            attempt += 1


class AsyncSessionClient:
    """The same client for asyncio, over one keep-alive connection pool."""

    def __init__(
        self,
        base_url: str | None = None,
        *,
        token: str | None = None,
        timeout: float = 10.0,
        retries: int = 5,
        backoff: float = 0.1,
        max_backoff: float = 5.0,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        options = _client_options(base_url, timeout, token)
        self._http = httpx.AsyncClient(transport=transport, **options)
        self._retries = _Retries(retries, backoff, max_backoff)
        self._sleep = sleep

    @property
    def base_url(self) -> str:
        """The server's address."""
        return str(self._http.base_url).rstrip("/")

    async def register(
        self,
        session_id: str | None = None,
        *,
        appname: str = "",
        mode: str = "",
        platform: str = "",
        pid: int | None = None,
        parent_session_id: str | None = None,
        jobid: str | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> str:
        """Register a session (a server-made id when none is given); returns its id."""
        body = _registration(appname, mode, platform, pid, parent_session_id, jobid, metadata)
        return await self._send(_register_call(session_id, body))

    async def update(self, session_id: str, metadata: Mapping[str, Any]) -> None:
        """Replace a session's metadata."""
        await self._send(_update_call(session_id, metadata))

    async def end(self, session_id: str) -> None:
        """End a session."""
        await self._send(_end_call(session_id))

    async def get(self, session_id: str) -> Answer:
        """A session's info."""
        return await self._send(_get_call(session_id))

    async def log(
        self, session_id: str, batch: LogBatch, *, idempotency_key: str | None = None
    ) -> Answer:
        """Append a batch (lines, or record dicts) atomically; `{"cursor", "count"}`."""
        return await self._send(_log_call(session_id, batch, idempotency_key))

    async def read(
        self,
        session_id: str,
        *,
        cursor: int | None = None,
        offset: int | None = None,
        limit: int = 0,
    ) -> Answer:
        """One page of the log: the entries after `cursor`, or from `offset` (0 when neither)."""
        return await self._send(_read_call(session_id, cursor, offset, limit))

    async def entries(
        self, session_id: str, cursor: int = 0, *, page: int = 1000
    ) -> AsyncIterator[Answer]:
        """Every entry after `cursor`, fetched a page at a time, up to the end of the log."""
        while True:
            answer = await self.read(session_id, cursor=cursor, limit=page)
            for entry in answer["entries"]:
                yield entry
            cursor = answer["cursor"]
            if not answer["more"]:
                return

    async def list(self, status: str = "active", **filters: str | None) -> Answer:
        """`{"self_id", "sessions"}` by status (active, ended, all) and exact-match filters."""
        return await self._send(_list_call(status, filters))

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._http.aclose()

    async def __aenter__(self) -> AsyncSessionClient:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def _send(self, call: _Call[T]) -> T:
        attempt = 0
        while True:
            outcome: httpx.Response | Exception
            try:
                outcome = await self._http.request(
                    call.method,
                    call.path,
                    params=call.params,
                    headers=call.headers,
                    content=call.content,
                )
            except httpx.TransportError as exc:
                outcome = exc
            delay = self._retries.delay(call, attempt, outcome)
            if delay is None:
                return _finish(call, outcome)
            await self._sleep(delay)
            attempt += 1


# --- the logging handler ----------------------------------------------------------------------


@dataclass(slots=True)
class _Outgoing:
    """A batch on its way: its entries, how many are the user's records, and its one key."""

    entries: list[Answer]
    records: int
    key: str = field(default_factory=lambda: uuid.uuid4().hex)

    def halves(self) -> list[_Outgoing]:
        """Two smaller batches (for a 413), each with a key of its own."""
        middle = len(self.entries) // 2
        notices = len(self.entries) - self.records  # at most one, and it leads the batch
        return [
            _Outgoing(self.entries[:middle], middle - notices),
            _Outgoing(self.entries[middle:], len(self.entries) - middle),
        ]


class SessionLogHandler(logging.Handler):
    """Ships log records to a session from a background thread; `emit` never blocks or raises."""

    # Records wait in a bounded buffer (when it is full the oldest are dropped, and the drop is
    # reported in the log once the server answers again) and go out in batches of `batch_size`
    # or after `flush_delay` seconds. A batch keeps one Idempotency-Key across its retries, so
    # a retry never stores it twice; an unreachable server is retried with capped backoff.

    def __init__(
        self,
        appname: str = "",
        *,
        session_id: str | None = None,
        base_url: str | None = None,
        token: str | None = None,
        level: int | str = logging.NOTSET,
        mode: str = "",
        platform: str = "",
        pid: int | None = None,
        parent_session_id: str | None = None,
        jobid: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        end_on_close: bool = True,
        register_now: bool = False,
        capacity: int = 100_000,
        batch_size: int = 1_000,
        flush_delay: float = 0.2,
        max_backoff: float = 5.0,
        close_timeout: float = 10.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        super().__init__(level)
        self.session_id = session_id or new_session_id()
        self._owned = session_id is None
        self._registered = not self._owned
        self._registration = _registration(
            appname, mode, platform, pid or os.getpid(), parent_session_id, jobid, metadata
        )
        self._client = SessionClient(
            base_url, token=token, timeout=min(5.0, close_timeout), retries=0, transport=transport
        )
        self._end_on_close = end_on_close
        self.end_metadata: Mapping[str, Any] | None = None  # put on the session just before `end`
        self._capacity = capacity
        self._batch_size = batch_size
        self._flush_delay = flush_delay
        self._max_backoff = max_backoff
        self._close_timeout = close_timeout
        self._lock = threading.Lock()  # not the handler's lock: logging.shutdown holds that
        self._room = threading.Condition(self._lock)  # notified when the thread takes a batch
        self._stalled_at = -1  # `delivered` when `wait_for_room` last gave up
        self._buffer: deque[Answer] = deque()
        self._outbox: deque[_Outgoing] = deque()
        if register_now and self._owned:
            self._outbox.append(_Outgoing([], 0))  # an empty batch only registers the session
        self._emitted = self._settled = self._delivered = self._dropped = self._unreported = 0
        self._failures = 0
        self._reached = False  # the server has answered at least once
        self._healthy = True  # the last attempt reached the server
        self._wake = threading.Event()
        self._closing = threading.Event()
        self._deadline = math.inf
        self._thread = threading.Thread(target=self._run, name="sessions-log", daemon=True)
        self.addFilter(self._not_from_shipper)
        logging.getLogger("httpx").addFilter(self._not_from_shipper)
        self._thread.start()

    @classmethod
    def install(
        cls,
        appname: str = "",
        *,
        level: int | str = logging.INFO,
        logger: str | logging.Logger | None = None,
        **options: Any,
    ) -> SessionLogHandler:
        """A new handler on the root logger (or `logger`), which is opened down to `level`."""
        target = logger if isinstance(logger, logging.Logger) else logging.getLogger(logger)
        handler = cls(appname, level=level, **options)
        target.addHandler(handler)
        if target.getEffectiveLevel() > handler.level:
            target.setLevel(handler.level)
        return handler

    @property
    def pending(self) -> int:
        """Records emitted but not yet delivered, dropped or rejected."""
        return self._emitted - self._settled

    @property
    def delivered(self) -> int:
        """Records the server has acknowledged."""
        return self._delivered

    @property
    def dropped(self) -> int:
        """Records lost: pushed out of a full buffer, or still undelivered when closed."""
        return self._dropped

    def emit(self, record: logging.LogRecord) -> None:
        """Buffer the record for the shipping thread."""
        try:
            self.submit(self.entry(record))
        except Exception:
            self.handleError(record)

    def submit(self, entry: Mapping[str, Any]) -> None:
        """Buffer a ready-made log record (a dict as the API takes it) for the shipping thread."""
        with self._lock:
            if len(self._buffer) >= self._capacity:
                self._buffer.popleft()
                self._dropped += 1
                self._unreported += 1
                self._settled += 1
            self._buffer.append(dict(entry))
            self._emitted += 1
            full = len(self._buffer) >= self._batch_size
        if full and not self._wake.is_set():
            self._wake.set()

    def wait_for_room(self, stall: float = 2.0) -> None:
        """Block while the buffer is full and the server keeps taking batches."""
        # For a producer that may be slowed down (unlike `emit`). Returns at once while the
        # server is unreachable, and after `stall` seconds without a delivered batch; then
        # `submit` drops the oldest record, as ever.
        with self._room:
            mark, since = self._delivered, time.monotonic()
            while len(self._buffer) >= self._capacity and self._healthy:
                if self._closing.is_set() or self._delivered == self._stalled_at:
                    return
                if self._delivered != mark:
                    mark, since = self._delivered, time.monotonic()
                elif time.monotonic() - since >= stall:
                    self._stalled_at = self._delivered
                    return
                self._room.wait(0.05)

    def entry(self, record: logging.LogRecord) -> Answer:
        """The log entry a record becomes (see the README for the structured-record rules)."""
        entry: Answer = {
            "timestamp": _iso(record.created),
            "level": record.levelname.lower(),
            "logger": record.name,
        }
        extra = getattr(record, "fields", None)
        extra = extra if isinstance(extra, Mapping) else {}
        args = record.args
        if not args and extra and isinstance(record.msg, str):
            # a `{Name}` template with its fields: the server renders it, as Unreal does
            entry["format"] = record.msg + _escape_braces(self._trailer(record))
            entry["fields"] = _jsonable(extra)
            return entry
        entry["message"] = _render(record) + self._trailer(record)
        if args or extra:
            positional = args if isinstance(args, Mapping) else dict(enumerate(args or ()))
            entry["format"] = str(record.msg)
            entry["fields"] = _jsonable({**extra, **positional})
        return entry

    def flush(self) -> None:
        """Ship what is buffered now and wait (at most `close_timeout`) while the server answers."""
        self._wake.set()
        if threading.current_thread() is self._thread:
            return
        target = self._emitted
        deadline = time.monotonic() + self._close_timeout
        while self._settled < target and self._healthy and self._thread.is_alive():
            if time.monotonic() >= deadline:
                return
            time.sleep(0.005)

    def close(self) -> None:
        """Deliver what is buffered (at most `close_timeout`), end the session if it made it."""
        if not self._closing.is_set():
            self._deadline = time.monotonic() + self._close_timeout
            self._closing.set()
            self._wake.set()
            if threading.current_thread() is not self._thread:
                self._thread.join(self._close_timeout + 1.0)
            logging.getLogger("httpx").removeFilter(self._not_from_shipper)
            if not self._thread.is_alive():
                self._client.close()
        super().close()

    def _not_from_shipper(self, record: logging.LogRecord) -> bool:
        # the shipper's own HTTP requests are logged by httpx; shipping those would never end
        return threading.get_ident() != self._thread.ident

    def _trailer(self, record: logging.LogRecord) -> str:
        """The traceback and stack of a record, as a formatter would append them."""
        formatter = self.formatter or _FORMATTER
        text = ""
        if record.exc_info:
            record.exc_text = record.exc_text or formatter.formatException(record.exc_info)
        if record.exc_text:
            text += "\n" + record.exc_text
        if record.stack_info:
            text += "\n" + formatter.formatStack(record.stack_info)
        return text

    # --- the shipping thread ---

    def _run(self) -> None:
        while True:
            if not self._outbox:
                self._wait_for_records()
                batch = self._take()
                if batch is None:
                    if self._closing.is_set():
                        break
                    continue
                self._outbox.append(batch)
            delay = self._deliver(self._outbox[0])
            if delay is None:
                continue
            if self._closing.is_set() and (not self._reached or time.monotonic() >= self._deadline):
                self._give_up()
                return
            self._pause(delay)
        self._end_session()

    def _wait_for_records(self) -> None:
        if len(self._buffer) < self._batch_size and not self._closing.is_set():
            self._wake.wait(self._flush_delay)
            self._wake.clear()

    def _take(self) -> _Outgoing | None:
        with self._lock:
            count = min(len(self._buffer), self._batch_size)
            entries = [self._buffer.popleft() for _ in range(count)]
            dropped, self._unreported = self._unreported, 0
            self._room.notify_all()
        if dropped:
            notice = {"timestamp": _iso(time.time()), "level": "warn", "logger": __name__}
            entries.insert(0, {**notice, "message": DROPPED.format(dropped)})
        return _Outgoing(entries, count) if entries else None

    def _deliver(self, batch: _Outgoing) -> float | None:
        """Try to send the head batch: None when done with it, else seconds to wait first."""
        try:
            self._send(batch)
        except SessionsError as exc:
            self._reached = self._healthy = True
            if _retryable(exc.status_code):
                return self._backoff(exc.retry_after)
            self._outbox.popleft()
            if exc.status_code == 413 and len(batch.entries) > 1:
                self._outbox.extendleft(reversed(batch.halves()))
            else:
                self._settle(batch, delivered=False)
                print(f"sessions: server rejected {batch.records} records: {exc}", file=sys.stderr)
            return None
        except Exception:  # unreachable, timed out, or anything else: keep it and try again
            self._healthy = False
            return self._backoff(None)
        self._reached = self._healthy = True
        self._failures = 0
        self._outbox.popleft()
        self._settle(batch, delivered=True)
        return None

    def _send(self, batch: _Outgoing) -> None:
        self._register()
        if not batch.entries:
            return
        try:
            self._client.log(self.session_id, batch.entries, idempotency_key=batch.key)
        except SessionsError as exc:
            if exc.status_code != 404 or not self._owned:
                raise
            self._registered = False  # the server lost the session (a new database): again
            self._register()
            self._client.log(self.session_id, batch.entries, idempotency_key=batch.key)

    def _register(self) -> None:
        if not self._registered:
            self._client.register(self.session_id, **self._registration)
            self._registered = True

    def _settle(self, batch: _Outgoing, *, delivered: bool) -> None:
        with self._lock:
            self._settled += batch.records
            if delivered:
                self._delivered += batch.records
            else:
                self._dropped += batch.records

    def _backoff(self, retry_after: float | None) -> float:
        delay = min(0.05 * 2.0**self._failures, self._max_backoff)
        self._failures += 1
        return delay if retry_after is None else max(delay, retry_after)  # never sooner

    def _pause(self, delay: float) -> None:
        if self._closing.is_set():
            time.sleep(max(0.0, min(delay, self._deadline - time.monotonic())))
        else:
            self._closing.wait(delay)  # close() cuts the pause short

    def _give_up(self) -> None:
        """Closing with the server out of reach: count what is left as lost, and say so."""
        with self._lock:
            self._buffer.clear()
            lost = self._emitted - self._settled
            self._settled = self._emitted
            self._dropped += lost
        self._outbox.clear()
        url = self._client.base_url
        print(f"sessions: {lost} log records not delivered: {url} unreachable", file=sys.stderr)

    def _end_session(self) -> None:
        if self._end_on_close and self._owned and self._registered:
            # already ended, or the server went away: nothing more to do
            with contextlib.suppress(Exception):
                if self.end_metadata is not None:
                    self._client.update(self.session_id, self.end_metadata)
                self._client.end(self.session_id)


_FORMATTER = logging.Formatter()
_BRACES = str.maketrans({"{": "{{", "}": "}}"})


def _escape_braces(text: str) -> str:
    return text.translate(_BRACES)


def _render(record: logging.LogRecord) -> str:
    try:
        return record.getMessage()
    except Exception as exc:  # bad arguments must not lose the record
        return f"{record.msg!s} (formatting failed: {exc!r}; args: {_safe_repr(record.args)})"


def _iso(created: float) -> str:
    """ISO-8601 UTC with milliseconds, as the server stores it."""
    seconds = int(created)
    millis = int((created - seconds) * 1000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{millis:03d}Z"


def _jsonable(value: Any, depth: int = 0) -> Any:
    """`value` as JSON-ready data; anything JSON cannot hold becomes its `repr`."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        return int(value) if -(2**63) <= value < 2**64 else _safe_repr(value)
    if isinstance(value, float):
        return float(value) if math.isfinite(value) else _safe_repr(value)
    if isinstance(value, str):
        return str(value)
    if depth < 32:
        if isinstance(value, Mapping):
            return {str(k): _jsonable(v, depth + 1) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [_jsonable(item, depth + 1) for item in value]
    return _safe_repr(value)


def _safe_repr(value: Any) -> str:
    try:
        return repr(value)
    except Exception:
        return f"<unrepresentable {type(value).__name__}>"
