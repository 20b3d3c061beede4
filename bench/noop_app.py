"""The HTTP ceiling: a bare Litestar app whose one POST handler reads the body and answers {}.

`python -m bench.noop_app --port P` serves it with the uvicorn options of `sessions serve`
(same route shape, same body, same load), so the gap between this and the real ingest is
what the service itself costs per request, and this app's rate is the most any Litestar-on-
uvicorn server could take on this machine.
"""

from __future__ import annotations

import argparse

import uvicorn
from litestar import Litestar, Request, Response, get, post

from service.settings import Settings


@post("/sessions/{sid:str}/log", status_code=200)
async def append(request: Request[object, object, object], sid: str) -> Response[bytes]:
    """Read the body, store nothing, answer `{}`."""
    await request.body()
    return Response(b"{}", media_type="application/json")


@get("/health", media_type="text/plain")
async def health() -> str:
    """Only so that the harness knows when the server is up."""
    return "OK!"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    settings = Settings()
    app = Litestar(
        route_handlers=[append, health],
        request_max_body_size=settings.max_body_bytes,
        logging_config=None,
        openapi_config=None,
    )
    # The same uvicorn.Config as service/cli.py:serve builds, but for the app.
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=args.port,
        log_level=settings.log_level.lower(),
        access_log=settings.access_log,
        lifespan="on",
        ws_ping_interval=settings.ws_ping_seconds,
        ws_ping_timeout=settings.ws_ping_seconds,
        ws_max_size=64 * 1024,
        log_config=None,
    )
    uvicorn.Server(config).run()


if __name__ == "__main__":
    main()
