"""Memory: server RSS before and after ingesting many entries, and with a stalled subscriber.

Each round: a fresh server; a short warm-up (so first-request allocations and lazy imports
are in the baseline); RSS; `memory_entries` entries from 16 clients; RSS again. Then a
subscriber that asks for the whole log from cursor 0 and never reads a byte (a raw socket
with a 4 KiB receive buffer) stays connected while `stall_entries` more are ingested: what
the server holds for it shows as growth. RSS is also sampled every 100 ms for the peak.

The entries go in 200-entry batches (the ingest scenario's 50-entry bodies, four times over):
the same per-entry path at 2.5x the rate, which keeps 3 x 2 M entries within minutes;
10,000 requests per 2 M entries still show any per-request leak.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

from bench import dbfill
from bench.common import repeat
from bench.loadgen import run_load
from bench.modes import Mode
from bench.report import Figure
from bench.scenarios.ingest import SESSION, log_requests
from bench.server import Process, register, session_server
from bench.wsclients import StalledSubscriber

NAME = "memory"
MB = 1024 * 1024
WARMUP_BATCHES = 50
SETTLE_SECONDS = 0.2  # let in-flight work and the list watcher's tick finish before reading RSS


class PeakRss:
    """Samples a process's RSS in a thread; the highest value seen."""

    def __init__(self, server: Process) -> None:
        self.server = server
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(0.1):
            self.peak = max(self.peak, self.server.rss())

    def stop(self) -> int:
        self._stop.set()
        self._thread.join()
        return self.peak


BATCH = 200


def ingest(server: Process, entries: int) -> dict[str, Any]:
    """Post `entries` entries from 16 clients; bounded by count and by time."""
    return run_load(
        server.port,
        log_requests(BATCH),
        clients=16,
        duration=max(30.0, entries / 2_000),  # a bound far above the expected time
        warmup=0.0,
        max_requests=entries // BATCH,
    )


def one_round(mode: Mode, workdir: Path) -> dict[str, float]:
    r: dict[str, float] = {}
    with session_server(dbfill.fresh(workdir, "memory")) as server:
        register(server.port, SESSION)
        ingest(server, WARMUP_BATCHES * BATCH)
        time.sleep(SETTLE_SECONDS)
        before = server.rss()
        peak = PeakRss(server)
        started = time.monotonic()
        res = ingest(server, mode.memory_entries)
        r["seconds"] = time.monotonic() - started
        r["errors"] = res["errors"]
        time.sleep(SETTLE_SECONDS)
        after = server.rss()
        r["before"], r["after"] = before / MB, after / MB
        r["growth"] = (after - before) / MB
        r["peak_growth"] = (max(peak.stop(), after) - before) / MB

        stalled = StalledSubscriber(server.port, SESSION)
        try:
            time.sleep(SETTLE_SECONDS)  # its first frames fill the socket buffers
            stall_before = server.rss()
            peak = PeakRss(server)
            ingest(server, mode.stall_entries)
            time.sleep(SETTLE_SECONDS)
            stall_after = server.rss()
            r["stall_growth"] = (stall_after - stall_before) / MB
            r["stall_peak_growth"] = (max(peak.stop(), stall_after) - stall_before) / MB
        finally:
            stalled.close()
    return r


def run(mode: Mode, workdir: Path) -> tuple[list[Figure], dict[str, Any]]:
    rounds = repeat(NAME, mode.repeats, lambda _: one_round(mode, workdir))
    runs = rounds.runs

    n = f"{mode.memory_entries / 1e6:g} M entries"
    s = f"{mode.stall_entries / 1e6:g} M entries"
    figures = [
        Figure(NAME, "RSS before (after warm-up)", "MB", runs("before")),
        Figure(NAME, f"RSS after {n}", "MB", runs("after")),
        Figure(NAME, f"RSS growth over {n}", "MB", runs("growth")).at_most(20, "≤ 20 MB"),
        Figure(NAME, f"RSS peak growth during {n}", "MB", runs("peak_growth")),
        Figure(
            NAME, f"RSS growth, stalled subscriber, over {s}", "MB", runs("stall_growth")
        ).at_most(20, "≤ 20 MB"),
        Figure(NAME, f"RSS peak growth, stalled subscriber, {s}", "MB", runs("stall_peak_growth")),
    ]
    return figures, {"rounds": rounds}
