"""The dashboard: one page at `/` and its static files, shipped inside the package."""

from __future__ import annotations

from pathlib import Path

from litestar import Response, Router, get
from litestar.handlers import HTTPRouteHandler
from litestar.static_files import create_static_files_router

STATIC = Path(__file__).resolve().parent.parent / "static"


@get("/", media_type="text/html", include_in_schema=False)
async def dashboard() -> Response[bytes]:
    """The dashboard page."""
    return Response((STATIC / "index.html").read_bytes(), media_type="text/html")


routes: list[HTTPRouteHandler | Router] = [
    dashboard,
    create_static_files_router(path="/static", directories=[STATIC], include_in_schema=False),
]
