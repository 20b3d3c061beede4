"""create_app(settings): routes, lifespan, error handlers."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

from litestar import Litestar, Request, Response
from litestar.datastructures import State
from litestar.di import Provide
from litestar.exceptions import HTTPException
from litestar.openapi import OpenAPIConfig

from service import __version__
from service.api import dashboard, logs, sessions, status, wire, ws
from service.api.deps import Services
from service.api.security import is_loopback_host, origin_guard, token_guard
from service.api.stats import Stats
from service.db.engine import create_read_engine, create_write_engine
from service.db.migrate import upgrade_file
from service.db.writer import StorageFull, StorageUnavailable, Writer, WriterBusy
from service.domain.errors import DomainError
from service.domain.selflog import SelfLogHandler
from service.domain.sessions import Sessions
from service.push.hub import Hub, SessionListWatcher
from service.settings import Settings
from service.tasks import maintenance

log = logging.getLogger("service")


def create_app(settings: Settings, *, clock: Callable[[], float] = time.time) -> Litestar:
    """The whole server for one database; nothing is read from the environment here."""
    stats = Stats()

    @contextlib.asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        async with running(app.state, settings, clock):
            yield

    app = Litestar(
        route_handlers=[
            *sessions.routes,
            *logs.routes,
            *status.routes,
            *ws.routes,
            *dashboard.routes,
        ],
        lifespan=[lifespan],
        dependencies={"services": Provide(_services, sync_to_thread=False)},
        exception_handlers={
            DomainError: _error,
            HTTPException: _error,
            WriterBusy: _storage_error,
            StorageFull: _storage_error,
            StorageUnavailable: _storage_error,
        },
        request_max_body_size=settings.max_body_bytes,
        openapi_config=OpenAPIConfig(title="Session Service", version=__version__),
        state=State({"settings": settings, "stats": stats}),
        logging_config=None,
    )
    # Wrapped outside the router so that unmatched requests are guarded and counted too.
    app.asgi_handler = stats.middleware(
        token_guard(origin_guard(app.asgi_handler, settings), settings)
    )
    return app


@contextlib.asynccontextmanager
async def running(
    state: State, settings: Settings, clock: Callable[[], float]
) -> AsyncIterator[None]:
    """Own every resource: engines, the writer, the self session, the push hub and the loops."""
    write_engine = create_write_engine(
        settings.db, durability=settings.durability, max_bytes=settings.max_db_bytes
    )
    read_engine = create_read_engine(settings.db)
    writer = Writer(write_engine, max_queued=settings.max_queued_entries)
    self_log = SelfLogHandler()
    loops: list[asyncio.Task[None]] = []
    sessions: Sessions | None = None
    try:
        # The writer's connection first: closing the last connection to a file checkpoints
        # and syncs it, which the migration's own connection would otherwise do at every start.
        await writer.start()
        await upgrade_file(settings.db)
        sessions = Sessions(
            writer,
            read_engine,
            clock=clock,
            idempotency_seconds=settings.idempotency_hours * 3600,
            queue_wait=settings.queue_wait_seconds,
        )
        hub = Hub(
            sessions, frame_entries=settings.ws_frame_entries, frame_bytes=settings.ws_frame_bytes
        )
        sessions.listeners.append(hub.appended)
        watcher = SessionListWatcher(sessions, limit=settings.max_list)
        state.services = Services(settings, state.stats, sessions, hub, watcher)
        await sessions.start_self(__version__)
        # The self session keeps INFO and above whatever the console shows.
        self_log.setLevel(logging.INFO)
        log.setLevel(min(logging.INFO, logging.getLogger().getEffectiveLevel()))
        log.addHandler(self_log)
        loops.append(asyncio.create_task(self_log.run(sessions), name="self-log"))
        watch = maintenance.every(settings.ws_list_seconds, watcher.poll, name="session list")
        loops.append(asyncio.create_task(watch, name="session-list"))
        loops += await maintenance.start(sessions, settings)
        # What start-up made lives as long as the server: move it out of the collector's way,
        # so that a full collection walks only what requests made since (39 ms pauses before).
        gc.collect()
        gc.freeze()
        log.info("serving %s (session service %s)", settings.db, __version__)
        if not settings.token and not settings.uds and not is_loopback_host(settings.host):
            log.warning(
                "listening on %s without a token: anyone who can reach it can read and write "
                "every session (set --token or SESSIONS_TOKEN)",
                settings.host,
            )
        yield
    finally:
        log.info("shutting down")
        for loop in loops:
            loop.cancel()
        await asyncio.gather(*loops, return_exceptions=True)
        log.removeHandler(self_log)
        if sessions is not None and sessions.self_id:
            await self_log.ship(sessions)
            try:
                await sessions.end(sessions.self_id, "server shutdown")
            except DomainError:
                pass  # already ended (by hand, or by a maintenance rule)
            except Exception as exc:  # a full or unwritable disk must not stop the shutdown
                log.error("could not end the server's own session: %s", exc)
        await writer.stop()
        write_engine.dispose()
        await read_engine.dispose()


def _services(state: State) -> Services:
    return state.services  # type: ignore[no-any-return]


def _storage_error(request: Request[Any, Any, Any], exc: Exception) -> Response[bytes]:
    """The writer could not take the request now: 503 busy or unwritable, 507 full."""
    status_code = 507 if isinstance(exc, StorageFull) else 503
    retry_after = exc.retry_after if isinstance(exc, WriterBusy) else 5
    if not isinstance(exc, WriterBusy):
        log.error("write refused: %s", exc)
    response = wire.respond(request, {"status_code": status_code, "detail": str(exc)}, status_code)
    response.headers["Retry-After"] = str(retry_after)
    return response


def _error(request: Request[Any, Any, Any], exc: DomainError | HTTPException) -> Response[bytes]:
    """Errors in the format the client reads: `{"status_code", "detail"}`."""
    body = {"status_code": exc.status_code, "detail": exc.detail}
    response = wire.respond(request, body, exc.status_code)
    response.headers.update(getattr(exc, "headers", None) or {})
    return response
