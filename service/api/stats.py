"""Request counters and latencies for /stats/sessions and /metrics."""

from __future__ import annotations

import time
from collections import deque

from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, Scope, Send
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

_LATENCY_WINDOW = 10_000


class Stats:
    """Zen's session counters plus latency percentiles and Prometheus metrics, per app."""

    def __init__(self) -> None:
        self.counts = dict.fromkeys(
            (
                "readcount",
                "writecount",
                "deletecount",
                "listcount",
                "requestcount",
                "badrequestcount",
            ),
            0,
        )
        self.requests = 0
        self.latencies: deque[float] = deque(maxlen=_LATENCY_WINDOW)
        self.entries_appended = 0
        self.entries_truncated = 0
        self.registry = CollectorRegistry()
        self.http_requests = Counter(
            "sessions_http_requests",
            "HTTP requests answered",
            ["method", "status"],
            registry=self.registry,
        )
        self.http_seconds = Histogram(
            "sessions_http_request_duration_seconds",
            "HTTP request latency",
            registry=self.registry,
        )
        self.appended = Counter(
            "sessions_log_entries_appended", "Log entries accepted", registry=self.registry
        )
        self.truncated = Counter(
            "sessions_log_entries_truncated",
            "Log entries cut to the size limit",
            registry=self.registry,
        )
        self.store = Gauge(
            "sessions_store",
            "Stored figures (sessions, entries, bytes)",
            ["figure"],
            registry=self.registry,
        )

    def logged(self, count: int, truncated: int) -> None:
        """Count an accepted log batch."""
        self.entries_appended += count
        self.entries_truncated += truncated
        self.appended.inc(count)
        if truncated:
            self.truncated.inc(truncated)

    def observe(self, method: str, path: str, status: int, seconds: float) -> None:
        """Count one answered request."""
        self.requests += 1
        self.latencies.append(seconds)
        self.http_requests.labels(method, str(status)).inc()
        self.http_seconds.observe(seconds)
        if not path.startswith("/sessions"):
            return
        counts = self.counts
        counts["requestcount"] += 1
        if 400 <= status < 500:
            counts["badrequestcount"] += 1
        if method == "GET":
            is_list = path.rstrip("/") in ("/sessions", "/sessions/list")
            counts["listcount" if is_list else "readcount"] += 1
        elif method in ("POST", "PUT"):
            counts["writecount"] += 1
        elif method == "DELETE":
            counts["deletecount"] += 1

    def latency(self) -> dict[str, float | int]:
        """Request count and latency percentiles (ms) over the recent window."""
        ordered = sorted(self.latencies)
        if not ordered:
            return {"count": self.requests}

        def pick(q: float) -> float:
            return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000, 3)

        return {
            "count": self.requests,
            "p50_ms": pick(0.50),
            "p90_ms": pick(0.90),
            "p99_ms": pick(0.99),
            "max_ms": round(ordered[-1] * 1000, 3),
        }

    def middleware(self, app: ASGIApp) -> ASGIApp:
        """Wrap an ASGI app so that every HTTP request is counted and timed."""

        async def timed(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] != ScopeType.HTTP:
                await app(scope, receive, send)
                return
            started = time.perf_counter()
            status = 500

            async def send_status(message: Message) -> None:
                nonlocal status
                if message["type"] == "http.response.start":
                    status = message["status"]
                await send(message)

            try:
                await app(scope, receive, send_status)
            finally:
                elapsed = time.perf_counter() - started
                self.observe(scope["method"], scope["path"], status, elapsed)

        return timed
