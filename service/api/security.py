"""Who may do what: local peers for pid trust, own origins for browsers."""

from __future__ import annotations

import ipaddress
from typing import Any
from urllib.parse import urlsplit

import msgspec
from litestar.connection import ASGIConnection
from litestar.enums import ScopeType
from litestar.response.base import ASGIResponse
from litestar.types import ASGIApp, Receive, Scope, Send

from service.settings import Settings

STATE_CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def is_local(connection: ASGIConnection[Any, Any, Any, Any], settings: Settings) -> bool:
    """A loopback TCP peer, or any peer of a unix socket."""
    if settings.uds:
        return True
    client = connection.client
    if client is None:
        return False
    try:
        address = ipaddress.ip_address(client.host)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    return address.is_loopback


def origin_allowed(origin: str | None, host: str | None, settings: Settings) -> bool:
    """No Origin (not a browser), the server's own, or one the settings allow."""
    if origin is None:
        return True
    if origin.rstrip("/") in settings.allowed_origins:
        return True
    netloc = urlsplit(origin).netloc.lower()
    return bool(netloc) and netloc == (host or "").lower()


def origin_guard(app: ASGIApp, settings: Settings) -> ASGIApp:
    """Refuse state-changing HTTP requests from foreign browser origins with 403."""

    async def guarded(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == ScopeType.HTTP and scope["method"] in STATE_CHANGING:
            headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
            origin = headers.get("origin")
            if not origin_allowed(origin, headers.get("host"), settings):
                detail = f"Cross-origin request from '{origin}' refused"
                body = msgspec.json.encode({"status_code": 403, "detail": detail})
                refusal = ASGIResponse(body=body, status_code=403, media_type="application/json")
                await refusal(scope, receive, send)
                return
        await app(scope, receive, send)

    return guarded
