"""Who may do what: local peers for pid trust, own origins for browsers."""

from __future__ import annotations

import hmac
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


OPEN_PATHS = ("/health",)
PAGE_PATHS = ("/", "/favicon.ico")  # the dashboard shell holds no data; it asks for the token


def token_ok(given: str | None, settings: Settings) -> bool:
    """No token configured, or the given one matches (compared in constant time)."""
    if not settings.token:
        return True
    return given is not None and hmac.compare_digest(given.encode(), settings.token.encode())


def bearer(authorization: str | None) -> str | None:
    """The token of an `Authorization: Bearer <token>` header."""
    if authorization and authorization[:7].lower() == "bearer ":
        return authorization[7:].strip()
    return None


def token_guard(app: ASGIApp, settings: Settings) -> ASGIApp:
    """Refuse HTTP requests without the bearer token (when one is set) with 401."""
    if not settings.token:
        return app

    async def guarded(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == ScopeType.HTTP:
            path = scope["path"]
            open_path = path in OPEN_PATHS or path in PAGE_PATHS or path.startswith("/static/")
            headers = dict(scope["headers"])
            given = bearer(headers.get(b"authorization", b"").decode("latin-1"))
            if not open_path and not token_ok(given, settings):
                body = msgspec.json.encode(
                    {
                        "status_code": 401,
                        "detail": "Missing or wrong token: send 'Authorization: Bearer <token>'",
                    }
                )
                refusal = ASGIResponse(
                    body=body,
                    status_code=401,
                    media_type="application/json",
                    headers={"WWW-Authenticate": "Bearer"},
                )
                await refusal(scope, receive, send)
                return
        await app(scope, receive, send)

    return guarded


def is_loopback_host(host: str) -> bool:
    """Whether a listen address only accepts connections from this machine."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
