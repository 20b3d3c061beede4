"""WebSocket /sessions/ws: the live session list and an exactly-once, resumable log tail."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Annotated, Any, Literal

import msgspec
from litestar import WebSocket, websocket
from litestar.exceptions import WebSocketDisconnect

from service.api.deps import ServicesDep
from service.api.security import bearer, origin_allowed, token_ok
from service.domain.ids import InvalidId, parse_session_id
from service.push.hub import Hub, SessionListWatcher
from service.settings import Settings

log = logging.getLogger(__name__)

TRY_AGAIN_LATER = 1013
AUTH_SECONDS = 10
POLICY_VIOLATION = 1008


class SubLog(msgspec.Struct, tag="sub_log", tag_field="type", forbid_unknown_fields=False):
    """Follow one session's log from a cursor (replaces any earlier subscription)."""

    session: str
    cursor: Annotated[int, msgspec.Meta(ge=0, le=2**63 - 1)] = 0
    encoding: Literal["cb", "json"] = "cb"


class Auth(msgspec.Struct, tag="auth", tag_field="type"):
    """The token, for a connection that could not send it at the handshake (a browser)."""

    token: str


class UnsubLog(msgspec.Struct, tag="unsub_log", tag_field="type"):
    """Stop following."""


Message = SubLog | UnsubLog
KNOWN_TYPES = frozenset({"sub_log", "unsub_log"})  # a late "auth" is harmless: ignored


@websocket("/sessions/ws")
async def session_stream(socket: WebSocket[Any, Any, Any], services: ServicesDep) -> None:
    """Push the session list on change and the subscribed log as it grows."""
    hub, watcher, settings = services.hub, services.watcher, services.settings
    if not origin_allowed(socket.headers.get("origin"), socket.headers.get("host"), settings):
        await socket.close(code=POLICY_VIOLATION, reason="cross-origin connection refused")
        return
    if hub.connections >= settings.ws_max_connections:
        await socket.close(code=TRY_AGAIN_LATER, reason="too many connections")
        return
    offered = socket.query_params.get("token") or bearer(socket.headers.get("authorization"))
    if offered is not None and not token_ok(offered, settings):
        await socket.close(code=POLICY_VIOLATION, reason="wrong token")
        return
    await socket.accept()
    if offered is None and not await _first_message_authorizes(socket, settings):
        await socket.close(code=POLICY_VIOLATION, reason="missing or wrong token")
        return
    hub.connections += 1
    try:
        await Connection(socket, hub, watcher).run()
    finally:
        hub.connections -= 1


async def _first_message_authorizes(socket: WebSocket[Any, Any, Any], settings: Settings) -> bool:
    """With a token set and none offered at the handshake: `{"type": "auth", "token": ...}`."""
    if not settings.token:
        return True
    detail = 'this server needs a token: send {"type": "auth", "token": "..."} first'
    await socket.send_text(msgspec.json.encode({"type": "error", "detail": detail}).decode())
    try:
        message = await asyncio.wait_for(socket.receive(), AUTH_SECONDS)
        text = message.get("text")
        auth = msgspec.json.decode(text if isinstance(text, str) else b"", type=Auth)
    except (TimeoutError, msgspec.DecodeError, msgspec.ValidationError, WebSocketDisconnect):
        return False
    return token_ok(auth.token, settings)


class Connection:
    """One client: a list pusher, at most one log follower, and the messages it sends."""

    def __init__(
        self, socket: WebSocket[Any, Any, Any], hub: Hub, watcher: SessionListWatcher
    ) -> None:
        self.socket = socket
        self.hub = hub
        self.watcher = watcher
        self.follower: asyncio.Task[None] | None = None
        self.sending = asyncio.Lock()

    async def run(self) -> None:
        """Serve until the client goes away."""
        pusher = asyncio.create_task(self.push_list())
        try:
            while True:
                message = await self.socket.receive()
                if message["type"] == "websocket.disconnect":
                    return
                text = message.get("text")
                await self.handle(text if isinstance(text, str) else None)
        except WebSocketDisconnect:
            return
        except Exception:
            log.exception("WebSocket connection failed")
            raise
        finally:
            pusher.cancel()
            await self.unsubscribe()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await pusher

    async def handle(self, text: str | None) -> None:
        """Act on one client frame; a frame that cannot be acted on gets an error frame."""
        if text is None:
            await self.error("binary frames are not understood; send JSON text")
            return
        try:
            raw = msgspec.json.decode(text)
        except msgspec.DecodeError:
            await self.error("frame is not JSON")
            return
        if not isinstance(raw, dict):
            await self.error("frame is not a JSON object")
            return
        if raw.get("type") not in KNOWN_TYPES:
            return  # unknown types are ignored, so newer clients can talk to older servers
        try:
            message = msgspec.convert(raw, Message)
        except msgspec.ValidationError as exc:
            await self.error(f"invalid {raw['type']}: {exc}")
            return
        match message:
            case SubLog(session=session, cursor=cursor, encoding=encoding):
                try:
                    session_id = parse_session_id(session)
                except InvalidId as exc:
                    await self.error(str(exc))
                    return
                await self.unsubscribe()
                self.follower = asyncio.create_task(self.follow(session_id, cursor, encoding))
            case UnsubLog():
                await self.unsubscribe()

    async def unsubscribe(self) -> None:
        """Stop the log follower, if any, and wait until it has stopped."""
        if self.follower is not None:
            self.follower.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.follower
            self.follower = None

    async def follow(self, session_id: str, cursor: int, encoding: str) -> None:
        """Send every entry after the cursor once, in order: the first frame at once, even empty."""
        with self.hub.watching(session_id):
            frame = await self.hub.frame(session_id, cursor, encoding)
            await self.send(frame.data)
            while True:
                cursor = frame.cursor
                if not frame.count:  # caught up: sleep until the session has more
                    await self.hub.wait_beyond(session_id, cursor)
                frame = await self.hub.frame(session_id, cursor, encoding)
                if frame.count:
                    await self.send(frame.data)

    async def push_list(self) -> None:
        """Send the session list now, then whenever it changes."""
        with self.watcher.listening():
            await self.watcher.refresh()
            while True:
                version = self.watcher.version
                await self.send(self.watcher.text)
                await self.watcher.wait_newer(version)

    async def error(self, detail: str) -> None:
        """Tell the client what could not be done; the connection stays."""
        await self.send(msgspec.json.encode({"type": "error", "detail": detail}).decode())

    async def send(self, data: str | bytes) -> None:
        """One frame at a time: text for JSON, binary for compact binary."""
        async with self.sending:
            if isinstance(data, str):
                await self.socket.send_text(data)
            else:
                await self.socket.send_bytes(data)


routes = [session_stream]
