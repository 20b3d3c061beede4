"""Live push: from a POST's acknowledgement to the frame's arrival at WebSocket subscribers.

Subscribers (a process of their own, bench/wsclients.py) follow one session with
`{"type":"sub_log","encoding":"json"}` from its current end; a poster (the load generator)
sends 50-entry batches paced at `push_rate` per second and records each acknowledgement's
time and cursor. A POST's latency, for each subscriber, is the arrival of the first frame
whose cursor reaches the POST's last cursor, minus the acknowledgement's arrival (both
CLOCK_MONOTONIC on this machine).

The subscribers offer permessage-deflate by default, as browsers and the README's example
client do; the same loads without it show what compressing every frame once per connection
costs. The sustained rate is the entries per second each of 100 subscribers received while
16 posters sent as fast as the server took them.
"""

from __future__ import annotations

import bisect
import json
import math
import statistics
from pathlib import Path
from typing import Any

from bench import dbfill, payload
from bench.common import percentile, repeat
from bench.loadgen import Load
from bench.modes import Mode
from bench.report import Figure
from bench.scenarios.ingest import SESSION, log_requests
from bench.server import Process, post, register, session_server
from bench.wsclients import Subscribers

NAME = "push"
CATCH_UP_SECONDS = 10.0


def mark(server: Process) -> int:
    """Append one entry and return its cursor: subscribers start from the session's end."""
    answer = post(server.port, f"/sessions/{SESSION}/log", b'{"message": "mark"}')
    return int(json.loads(answer)["cursor"])


def latencies(acks: list[tuple[float, int, int]], records: list[list[Any]]) -> list[float]:
    """For each acknowledged POST and each subscriber: frame arrival minus acknowledgement."""
    out = []
    for frames in records:
        cursors = [cursor for _, cursor, _ in frames]
        for acked_at, cursor, _ in acks:
            i = bisect.bisect_left(cursors, cursor)
            if i < len(frames):
                out.append(frames[i][0] - acked_at)
    return sorted(out)


def latency(server: Process, mode: Mode, subscribers: int, *, deflate: bool) -> dict[str, float]:
    """Paced posting to a session followed by `subscribers` connections."""
    subs = Subscribers(server.port, SESSION, subscribers, cursor=mark(server), deflate=deflate)
    load = Load(
        server.port,
        log_requests(),
        clients=1,
        duration=mode.push_seconds,
        warmup=mode.warmup,
        rate=mode.push_rate,
        record_acks=True,
    )
    result = load.result()
    acks = result["acks"]
    out = subs.finish(acks[-1][1] if acks else 0, CATCH_UP_SECONDS)
    lat = latencies(acks, out["records"])
    return {
        "deflate": out["deflate"] / subscribers,
        "p50": percentile(lat, 50) * 1000,
        "p99": percentile(lat, 99) * 1000,
        "max": (lat[-1] * 1000) if lat else float("nan"),
        "missed": len(acks) * subscribers - len(lat),
        "posts": len(acks),
    }


def sustained(server: Process, mode: Mode, subscribers: int, *, deflate: bool) -> dict[str, float]:
    """16 posters as fast as they go; entries/s each subscriber received meanwhile."""
    subs = Subscribers(server.port, SESSION, subscribers, cursor=mark(server), deflate=deflate)
    # A longer warm-up: the window should see the steady state, not the first burst.
    load = Load(
        server.port,
        log_requests(),
        clients=16,
        duration=mode.push_seconds,
        warmup=3 * mode.warmup,
    )
    result = load.result()
    out = subs.finish(0, 0)  # stop now: only the window matters
    start, stop = result["window"]
    received = [
        sum(count for at, _, count in frames if start <= at <= stop) / (stop - start)
        for frames in out["records"]
    ]
    return {
        "deflate": out["deflate"] / subscribers,
        "delivered_median": statistics.median(received),
        "delivered_min": min(received),
        "ingest": result["rps"] * payload.ENTRIES_PER_BATCH,
    }


CASES = (
    ("one", 1, True),
    ("hundred", 100, True),
    ("hundred_plain", 100, False),
)


def rate_text(mode: Mode) -> str:
    return f"{mode.push_rate * payload.ENTRIES_PER_BATCH:,.0f} entries/s"


def run(mode: Mode, workdir: Path) -> tuple[list[Figure], dict[str, Any]]:

    def one_round(_: int) -> dict[str, float]:
        r: dict[str, float] = {}
        with session_server(dbfill.fresh(workdir, "push")) as server:
            register(server.port, SESSION)
            for key, count, deflate in CASES:
                if deflate or mode.push_without_deflate:
                    for name, value in latency(server, mode, count, deflate=deflate).items():
                        r[f"{key}_{name}"] = value
            for key, deflate in (("sus", True), ("sus_plain", False)):
                if deflate or mode.push_without_deflate:
                    for name, value in sustained(server, mode, 100, deflate=deflate).items():
                        r[f"{key}_{name}"] = value
        return r

    rounds = repeat(NAME, mode.repeats, one_round)
    runs = rounds.runs

    rate = rate_text(mode)
    # The subscribers offer permessage-deflate; whether the server took it is part of the result.
    took = [r.get("hundred_deflate", 0.0) for r in rounds]
    deflate = "deflate offered, " + (
        "taken" if min(took) == 1 else "refused" if max(took) == 0 else "mixed"
    )
    figures = [
        Figure(NAME, f"ack→frame p50, 1 subscriber, {rate}", "ms", runs("one_p50")),
        Figure(NAME, f"ack→frame p99, 1 subscriber, {rate}", "ms", runs("one_p99")),
        Figure(
            NAME, f"ack→frame p50, 100 subscribers, {rate}", "ms", runs("hundred_p50"), note=deflate
        ),
        Figure(
            NAME, f"ack→frame p99, 100 subscribers, {rate}", "ms", runs("hundred_p99"), note=deflate
        ).at_most(20, "≤ 20 ms"),
        Figure(
            NAME,
            f"ack→frame p50, 100 subscribers, no deflate, {rate}",
            "ms",
            runs("hundred_plain_p50"),
        ),
        Figure(
            NAME,
            f"ack→frame p99, 100 subscribers, no deflate, {rate}",
            "ms",
            runs("hundred_plain_p99"),
        ),
        Figure(
            NAME,
            "sustained: delivered to each of 100 subscribers (median sub)",
            "entries/s",
            runs("sus_delivered_median"),
            note=deflate,
        ),
        Figure(
            NAME,
            "sustained: delivered to the slowest of 100 subscribers",
            "entries/s",
            runs("sus_delivered_min"),
        ),
        Figure(
            NAME,
            "sustained: ingest meanwhile (16 posters)",
            "entries/s",
            runs("sus_ingest"),
            note=deflate,
        ),
        Figure(
            NAME,
            "sustained, no deflate: delivered to each of 100 (median sub)",
            "entries/s",
            runs("sus_plain_delivered_median"),
        ),
        Figure(
            NAME,
            "sustained, no deflate: ingest meanwhile (16 posters)",
            "entries/s",
            runs("sus_plain_ingest"),
        ),
    ]
    # Cases this mode skipped leave figures with no runs: leave them out of the table.
    figures = [f for f in figures if not math.isnan(f.median)]
    return figures, {"rounds": rounds}
