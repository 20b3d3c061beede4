"""A load against a server process, with the server's CPU use over the measuring window."""

from __future__ import annotations

import time
from math import nan
from typing import Any

from bench.loadgen import Load
from bench.server import Process


def _sleep_until(moment: float) -> None:
    delay = moment - time.monotonic()
    if delay > 0:
        time.sleep(delay)


def load_with_cpu(
    server: Process, requests: list[dict[str, str]], **options: Any
) -> dict[str, Any]:
    """Run a load; add the server's CPU use over the window (% of one core) and its commits."""
    load = Load(server.port, requests, **options)
    _sleep_until(load.window[0])
    commits_start = server.writer_commits()
    cpu_start, wall_start = server.cpu_seconds(), time.monotonic()
    _sleep_until(load.window[1])
    cpu_end, wall_end = server.cpu_seconds(), time.monotonic()
    commits_end = server.writer_commits()
    result = load.result()
    result["server_cpu"] = 100.0 * (cpu_end - cpu_start) / (wall_end - wall_start)
    # Group commit at work: transactions per second, and requests per transaction.
    result["commits_per_s"] = (commits_end - commits_start) / (wall_end - wall_start)
    result["per_commit"] = (
        result["rps"] / result["commits_per_s"] if commits_end > commits_start else nan
    )
    return result
