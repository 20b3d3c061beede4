"""Routes of a session's log: append a batch, read by cursor or offset."""

from __future__ import annotations

import re
from collections.abc import Mapping

from litestar import Response, get, post

from service.api import wire
from service.api.deps import PathId, Req, ServicesDep
from service.domain import logs
from service.domain.errors import InvalidInput
from service.domain.sessions import session_id

LOG_TYPES = (wire.JSON, wire.CB, wire.TEXT)
_NUMBER = re.compile(r"[0-9]{1,19}")
_MAX_NUMBER = 2**63 - 1


@post("/sessions/{sid:str}/log", status_code=200)
async def append(request: Req, services: ServicesDep, sid: PathId) -> Response[bytes]:
    """Append a batch of entries atomically; answers the last cursor and the count."""
    sessions, settings = services.sessions, services.settings
    sid = session_id(sid)
    kind, body = await wire.read_raw(request, LOG_TYPES)
    limits = logs.Limits(settings.max_entry_bytes, settings.max_batch_entries)
    now = sessions.now()
    if kind == wire.TEXT:
        batch = logs.text_batch(body, sid, now, limits)
    else:
        parsed = wire.decode(kind, body, logs.LogBody, logs.batch_error)
        typed = wire.is_typed(kind)
        batch = logs.record_batch(parsed.records(), sid, now, limits, typed=typed)
    appended = await sessions.append(sid, batch, request.headers.get("idempotency-key"))
    services.stats.logged(len(batch.rows), batch.truncated)
    return wire.respond(request, appended)


@get("/sessions/{sid:str}/log")
async def read(request: Req, services: ServicesDep, sid: PathId) -> Response[bytes]:
    """Entries after `cursor`, or from `offset`; at most `limit` (capped) per page."""
    sessions, settings = services.sessions, services.settings
    sid = session_id(sid)
    params = request.query_params
    limit = min(_number(params, "limit") or settings.default_page, settings.max_page)
    if "cursor" in params and "offset" in params:
        raise InvalidInput("Give either 'cursor' or 'offset', not both")
    if "cursor" in params:
        page = await sessions.read_after(sid, _number(params, "cursor"), limit)
        return wire.respond(request, page)
    return wire.respond(request, await sessions.read_offset(sid, _number(params, "offset"), limit))


def _number(params: Mapping[str, str], name: str) -> int:
    """A query number: absent is 0; empty, negative, not an integer or >= 2^63 is 400."""
    if name not in params:
        return 0
    text = params[name]
    if not _NUMBER.fullmatch(text) or int(text) > _MAX_NUMBER:
        raise InvalidInput(f"Invalid '{name}' parameter")
    return int(text)


routes = [append, read]
