"""`sessions tail`: a session's last lines, then (following) every new one, over the WebSocket."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TextIO
from urllib.parse import urlencode, urlsplit, urlunsplit

from websockets.exceptions import ConnectionClosed, InvalidStatus, WebSocketException
from websockets.sync.client import ClientConnection, connect

from service.client import Answer, SessionClient
from service.tools.lines import json_line, passes, text_line
from service.tools.terminal import is_tty, wants_colour

PAGE = 1000  # entries per read while looking back for the last lines
MAX_FRAME = 256 * 1024 * 1024  # the session list of a busy server is one large frame
POLICY_VIOLATION = 1008  # a wrong token, say: trying again would not help
Emit = Callable[[list[Answer]], None]


class TailError(Exception):
    """The tail cannot go on: refused by the server, or the server stayed away too long."""


@dataclass(frozen=True, slots=True)
class Window:
    """What to print: the entries after `start`, up to `end` (the last cursor when we looked)."""

    start: int
    end: int


def window(
    client: SessionClient, session_id: str, *, lines: int | None, minimum: int | None = None
) -> Window:
    """Start at the last `lines` entries that pass the filter (at the beginning if None)."""
    total = client.read(session_id, offset=0, limit=1)["total"]
    last = client.read(session_id, offset=max(total - 1, 0), limit=1)["entries"]
    end = last[-1]["cursor"] if last else 0
    if lines is None or end == 0:
        return Window(0, end)
    needed, high = lines, total
    while needed > 0 and high > 0:  # look back a page at a time
        low = max(high - PAGE, 0)
        page = client.read(session_id, offset=low, limit=high - low)["entries"]
        for entry in reversed(page):
            needed -= passes(entry, minimum)
            if needed == 0:
                return Window(entry["cursor"] - 1, end)
        high = low
    return Window(end if lines == 0 else 0, end)


def websocket_url(base_url: str, token: str) -> str:
    """`ws://host:port/sessions/ws` for `http://host:port`, with the token as a parameter."""
    parts = urlsplit(base_url)
    scheme = "wss" if parts.scheme == "https" else "ws"
    query = urlencode({"token": token}) if token else ""
    return urlunsplit((scheme, parts.netloc, parts.path.rstrip("/") + "/sessions/ws", query, ""))


@dataclass(slots=True)
class Follower:
    """Every entry after a cursor, in order and once, resuming at the last one after a drop."""

    url: str
    token: str
    session_id: str
    cursor: int
    emit: Emit
    until: int | None = None  # stop after this cursor; None: follow for ever
    patience: float = 10.0  # with `until`: seconds to wait for a lost server before failing
    sleep: Callable[[float], None] = time.sleep
    backoff: float = 0.1
    max_backoff: float = 2.0
    _failures: int = field(default=0, init=False)

    def run(self) -> None:
        """Stream until `until` is reached, or for ever; reconnect quietly with backoff."""
        lost_since = 0.0
        while not self._done():
            socket = self._connect()
            if socket is not None:
                with socket:
                    try:
                        if self._listen(socket):
                            return
                    except ConnectionClosed as exc:
                        if exc.rcvd is not None and exc.rcvd.code == POLICY_VIOLATION:
                            raise TailError(f"the server refused: {exc.rcvd.reason}") from None
                    except WebSocketException:
                        pass  # the connection dropped: resume from the last cursor
            now = time.monotonic()
            if self._failures == 0:  # connected until now (or never tried): the clock starts
                lost_since = now
            elif self.until is not None and now - lost_since > self.patience:
                raise TailError(f"lost the connection to {self.url}")
            self.sleep(min(self.backoff * 2.0**self._failures, self.max_backoff))
            self._failures += 1

    def _connect(self) -> ClientConnection | None:
        """A connection, or None while the server cannot be reached (it may be restarting)."""
        headers = {"authorization": f"Bearer {self.token}"} if self.token else None
        try:
            return connect(
                websocket_url(self.url, self.token),
                additional_headers=headers,
                open_timeout=5,
                close_timeout=1,
                max_size=MAX_FRAME,
                proxy=None,
            )
        except InvalidStatus as exc:
            if 400 <= exc.response.status_code < 500:
                raise TailError(f"the server refused the connection: {exc}") from None
            return None
        except (OSError, TimeoutError, WebSocketException):
            return None

    def _listen(self, socket: ClientConnection) -> bool:
        """Subscribe at the cursor and pass frames on; True when the stream is complete."""
        request = {"type": "sub_log", "session": self.session_id, "cursor": self.cursor}
        socket.send(json.dumps({**request, "encoding": "json"}))
        first = True
        while True:
            message = _message(socket.recv())
            if message.get("type") == "error":
                raise TailError(f"the server says: {message.get('detail')}")
            if message.get("type") != "log":
                continue  # the session list, which a tail does not show
            self._failures = 0
            entries = [e for e in message.get("entries", []) if self._fresh(e["cursor"])]
            if entries:
                self.cursor = entries[-1]["cursor"]
                self.emit(entries)
            if self.until is not None and (
                message.get("cursor", 0) >= self.until
                # the first frame after sub_log comes at once: empty, there is nothing more
                or (first and not message.get("count"))
            ):
                return True
            first = False

    def _fresh(self, cursor: int) -> bool:
        # never a duplicate, whatever arrives; never past the end of a finite tail
        return cursor > self.cursor and (self.until is None or cursor <= self.until)

    def _done(self) -> bool:
        return self.until is not None and self.cursor >= self.until


def printer(out: TextIO, *, as_json: bool, minimum: int | None) -> Emit:
    """Write each frame's entries that pass the filter, as text lines or JSON lines."""
    terminal = is_tty(out)
    colour = wants_colour(out)

    def emit(entries: list[Answer]) -> None:
        for entry in entries:
            if passes(entry, minimum):
                line = (
                    json_line(entry) if as_json else text_line(entry, colour=colour, safe=terminal)
                )
                out.write(line + "\n")
        out.flush()

    return emit


def _message(data: str | bytes) -> dict[str, Any]:
    try:
        message = json.loads(data)
    except ValueError:
        return {}
    return message if isinstance(message, dict) else {}
