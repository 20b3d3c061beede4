"""Profile: py-spy on the server during the 16-client ingest; where the CPU goes.

Not a figure of the table (sampling slows the server a little); it explains the figures.
Writes bench/results/ingest-profile.txt (collapsed stacks) and bench/results/ingest.svg
(a flamegraph), and returns a Markdown summary.

A second diagnostic runs the server under bench/gcwatch.py while 100 subscribers follow a
session at the push scenario's rate, and sets its oldest-generation garbage collections beside
the push latency outliers (frames more than 20 ms after their acknowledgement).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from bench import dbfill, gcwatch, pyspy
from bench.common import RESULTS, log
from bench.loadgen import Load
from bench.modes import Mode
from bench.report import Figure
from bench.scenarios import push
from bench.scenarios.ingest import SESSION, log_requests
from bench.server import register, session_server
from bench.wsclients import Subscribers

CLIENTS = 16


def _pct(n: int, total: int) -> str:
    return f"{100 * n / total:.1f}" if total else "n/a"


def summary(threads: dict[str, pyspy.Thread], seconds: float, eps: float) -> str:
    """Markdown: threads, the loop thread by layer, inclusive shares, hottest frames."""
    main = threads.get("MainThread")
    if main is None:
        return "py-spy saw no MainThread"
    wall = main.samples
    idle = pyspy.layers(main)["idle: event loop waiting in epoll"]
    busy = wall - idle
    out = [
        f"### Profile: py-spy, {CLIENTS}-client ingest, {seconds:.0f} s at {pyspy.RATE} Hz"
        f" ({eps:,.0f} entries/s while sampled)",
        "",
        "Threads (share of wall-clock time):",
        "",
        "| thread | busy % | notes |",
        "|---|---:|---|",
        f"| MainThread (event loop) | {_pct(busy, wall)} | idle {_pct(idle, wall)} % in epoll |",
    ]
    for name, thread in sorted(threads.items()):
        if "_connection_worker_thread" not in name:
            continue
        split = pyspy.worker_split(thread)
        idle_w = split["waiting for work (idle)"]
        if idle_w == thread.samples:
            continue  # a reader connection nobody used
        notes = ", ".join(
            f"{k} {_pct(v, thread.samples)} %" for k, v in split.most_common() if v and k
        )
        out.append(f"| {name} | {_pct(thread.samples - idle_w, thread.samples)} | {notes} |")
    out += [
        "",
        "Event-loop thread by layer (self time; % of busy loop time and of wall time):",
        "",
        "| layer | % of busy | % of wall |",
        "|---|---:|---:|",
    ]
    for layer, n in pyspy.layers(main).most_common():
        if layer.startswith("idle"):
            continue
        out.append(f"| {layer} | {_pct(n, busy)} | {_pct(n, wall)} |")
    out += [
        "",
        "Inclusive (stack contains; % of busy loop time):",
        "",
        "| where | % of busy |",
        "|---|---:|",
    ]
    out += [f"| {label} | {_pct(n, busy)} |" for label, n in pyspy.inclusive(main)]
    out += ["", "Hottest frames (self time, % of busy):", "", "| frame | % |", "|---|---:|"]
    out += [
        f"| `{frame}` | {_pct(n, busy)} |"
        for frame, n in pyspy.leaves(main, 20)
        if "selectors.py" not in frame
    ]
    return "\n".join(out)


OUTLIER_MS = 20.0


def gc_pauses(mode: Mode, workdir: Path) -> tuple[str, dict[str, Any]]:
    """Push to 100 subscribers under bench.gcwatch; collections against latency outliers."""
    db = dbfill.fresh(workdir, "gcwatch")
    with session_server(db, module="bench.gcwatch") as server:
        register(server.port, SESSION)
        subs = Subscribers(server.port, SESSION, 100, cursor=push.mark(server), deflate=False)
        seconds = 3 * mode.push_seconds  # long enough for one or more full collections
        load = Load(
            server.port,
            log_requests(),
            clients=1,
            duration=seconds,
            warmup=mode.warmup,
            rate=mode.push_rate,
            record_acks=True,
        )
        result = load.result()
        acks = result["acks"]
        records = subs.finish(acks[-1][1] if acks else 0, 10.0)["records"]
    start, stop = result["window"]
    collections = [p for p in gcwatch.pauses(server.log_path.read_text()) if start <= p[2] <= stop]
    oldest = sorted(ms for gen, ms, _ in collections if gen == 2)
    # An acknowledgement whose frames came late to most subscribers: a server-side stall.
    late = []
    for acked_at, cursor, _ in acks:
        lat = push.latencies([(acked_at, cursor, 0)], records)
        if lat and lat[len(lat) // 2] * 1000 > OUTLIER_MS:
            late.append((acked_at, lat[len(lat) // 2] * 1000))
    explained = sum(
        1
        for acked_at, ms in late
        if any(at - 0.1 <= acked_at <= at + ms / 1000 for gen, _, at in collections if gen == 2)
    )
    text = "\n".join(
        [
            f"### Garbage collection during push: 100 subscribers, {push.rate_text(mode)},"
            f" {stop - start:.0f} s",
            "",
            f"- full (generation-2) collections: {len(oldest)}"
            + (f", {oldest[0]:.0f} to {oldest[-1]:.0f} ms each" if oldest else ""),
            f"- collections of any generation over {gcwatch.SLOW_MS:.0f} ms:"
            f" {sum(1 for _, ms, _ in collections if ms > gcwatch.SLOW_MS)}",
            f"- POSTs whose frame reached the median subscriber over {OUTLIER_MS:.0f} ms late:"
            f" {len(late)} of {len(acks)}; within a full collection: {explained}",
        ]
    )
    return text, {"collections": collections, "late": late, "posts": len(acks)}


def run(mode: Mode, workdir: Path) -> tuple[list[Figure], dict[str, Any]]:
    if pyspy.executable() is None:
        log("  py-spy is not installed (pip install py-spy): no profile")
        return [], {"text": "No profile: py-spy is not installed (`pip install py-spy`)."}
    raw = RESULTS / "ingest-profile.txt"
    svg = RESULTS / "ingest.svg"
    seconds = mode.profile_seconds
    svg_seconds = min(3.0, seconds / 1.5)  # the flamegraph is to look at; numbers come from raw
    with session_server(dbfill.fresh(workdir, "profile")) as server:
        register(server.port, SESSION)
        load = Load(
            server.port,
            log_requests(),
            clients=CLIENTS,
            duration=seconds + svg_seconds + 4,
            warmup=1.0,
        )
        time.sleep(max(0.0, load.window[0] - time.monotonic()))
        log(f"  py-spy on pid {server.pid} for {seconds:.0f} s")
        pyspy.record(server.pid, seconds, raw)
        pyspy.record(server.pid, svg_seconds, svg, fmt="flamegraph")
        load.stop()
        result = load.result()
    threads = pyspy.parse(raw.read_text())
    text = summary(threads, seconds, result["rps"] * 50)
    log("  garbage collection during push")
    gc_text, gc_details = gc_pauses(mode, workdir)
    return [], {
        "text": text + "\n\n" + gc_text,
        "gc": gc_details,
        "collapsed": str(raw),
        "flamegraph": str(svg),
        "threads": {name: t.samples for name, t in threads.items()},
    }
