"""The dashboard: one page at `/` and its static files, shipped inside the package."""

from __future__ import annotations

from pathlib import Path

from litestar import Response, Router, get
from litestar.datastructures import CacheControlHeader
from litestar.handlers import HTTPRouteHandler
from litestar.static_files import create_static_files_router

STATIC = Path(__file__).resolve().parent.parent / "static"

# Data is only ever text in this page; the policy makes sure nothing else could run.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; "
        "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'none'; "
        "frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
NO_CACHE = CacheControlHeader(no_cache=True)  # revalidate (ETag), so an upgrade shows at once


@get("/", media_type="text/html", include_in_schema=False, cache_control=NO_CACHE)
async def dashboard() -> Response[bytes]:
    """The dashboard page."""
    return Response(
        (STATIC / "index.html").read_bytes(), media_type="text/html", headers=SECURITY_HEADERS
    )


async def _secure(response: Response[bytes]) -> Response[bytes]:
    response.headers.update(SECURITY_HEADERS)
    return response


routes: list[HTTPRouteHandler | Router] = [
    dashboard,
    create_static_files_router(
        path="/static",
        directories=[STATIC],
        include_in_schema=False,
        cache_control=NO_CACHE,
        after_request=_secure,
    ),
]
