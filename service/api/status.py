"""Routes about the server itself: health, status, statistics, Prometheus metrics."""

from __future__ import annotations

from litestar import Response, get
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from service.api import wire
from service.api.deps import Req, ServicesDep
from service.db.engine import database_bytes


@get("/health", media_type="text/plain")
async def health() -> str:
    """Liveness probe."""
    return "OK!"


@get("/status/sessions")
async def status(request: Req) -> Response[bytes]:
    """The sessions service is up."""
    return wire.respond(request, {"ok": True})


@get("/stats/sessions")
async def stats_sessions(request: Req, services: ServicesDep) -> Response[bytes]:
    """Zen's counters, request latency percentiles and store figures."""
    sessions, stats, hub = services.sessions, services.stats, services.hub
    figures = await sessions.figures()
    body = {
        "requests": stats.latency(),
        "sessions": {**stats.counts, "count": figures["active"]},
        "store": {
            **figures,
            "db_bytes": database_bytes(services.settings.db),
            "entries_appended": stats.entries_appended,
            "entries_truncated": stats.entries_truncated,
            "writer_commits": sessions.writer.commits,
            "writer_backlog": sessions.writer.backlog,
            "writer_queued_entries": sessions.writer.queued,
            "writer_refused": sessions.writer.refused,
        },
        "push": {
            "connections": hub.connections,
            "followed_sessions": hub.followed,
            "subscriber_reads": hub.reads,
        },
    }
    return wire.respond(request, body)


@get("/metrics")
async def metrics(services: ServicesDep) -> Response[bytes]:
    """Prometheus text format."""
    sessions, stats = services.sessions, services.stats
    figures = await sessions.figures()
    figures["db_bytes"] = database_bytes(services.settings.db)
    figures["writer_backlog"] = sessions.writer.backlog
    for name, value in figures.items():
        stats.store.labels(name).set(value)
    return Response(generate_latest(stats.registry), media_type=CONTENT_TYPE_LATEST)


routes = [health, status, stats_sessions, metrics]
