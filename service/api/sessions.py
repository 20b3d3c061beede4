"""Routes of sessions: list, register, update, read, end."""

from __future__ import annotations

from litestar import Response, delete, get, post, put

from service.api import wire
from service.api.deps import PathId, Req, ServicesDep
from service.api.security import is_local
from service.domain.sessions import FILTERS, RegisterBody, Sessions, session_id
from service.settings import Settings

BODY_TYPES = (wire.JSON, wire.CB)


@get(["/sessions/", "/sessions/list"])
async def list_sessions(request: Req, services: ServicesDep) -> Response[bytes]:
    """Sessions by `status` (active, ended, all) and exact-match filters."""
    params = request.query_params
    filters = {name: params[name] for name in FILTERS if params.get(name)}
    status = params.get("status") or "active"
    listed = await services.sessions.list(status, filters, services.settings.max_list)
    return wire.respond(request, listed)


@post("/sessions/")
async def register_new(request: Req, services: ServicesDep) -> Response[bytes]:
    """Register a session under an id the server makes."""
    return await _register(request, services.sessions, services.settings, None)


@post("/sessions/{sid:str}")
async def register(request: Req, services: ServicesDep, sid: PathId) -> Response[bytes]:
    """Register a session (201) or refresh an existing one's metadata (200)."""
    return await _register(request, services.sessions, services.settings, session_id(sid))


@put("/sessions/{sid:str}")
async def update(request: Req, services: ServicesDep, sid: PathId) -> Response[bytes]:
    """Replace a session's metadata."""
    sid = session_id(sid)
    kind, raw = await wire.read_raw(request, BODY_TYPES)
    body = wire.decode(kind, raw, RegisterBody)
    await services.sessions.replace_metadata(sid, body.metadata or {}, typed=wire.is_typed(kind))
    return wire.respond_text(sid)


@get("/sessions/{sid:str}")
async def info(request: Req, services: ServicesDep, sid: PathId) -> Response[bytes]:
    """One session's info."""
    return wire.respond(request, await services.sessions.get(session_id(sid)))


@delete("/sessions/{sid:str}", status_code=200)
async def end(services: ServicesDep, sid: PathId) -> Response[bytes]:
    """End a session at the client's request."""
    sid = session_id(sid)
    await services.sessions.end(sid, "client request")
    return wire.respond_text(sid)


async def _register(
    request: Req, sessions: Sessions, settings: Settings, sid: str | None
) -> Response[bytes]:
    kind, raw = await wire.read_raw(request, BODY_TYPES)
    body = wire.decode(kind, raw, RegisterBody)
    local = is_local(request, settings)
    new_id, created = await sessions.register(sid, body, local=local, typed=wire.is_typed(kind))
    return wire.respond_text(new_id, 201 if created else 200)


routes = [list_sessions, register_new, register, update, info, end]
