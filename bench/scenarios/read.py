"""Read: cursor pages of 1,000 near the start, middle and end of a 1 M-entry session, and the
session list with 1,000 sessions.

The database is built by direct inserts (bench/dbfill.py); each round starts a fresh server
process on it, and one client reads back to back (latency, not throughput, is the question).
An offset page from the middle is measured too, to show what OFFSET costs against a cursor.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bench import dbfill
from bench.common import log, repeat
from bench.loadgen import request_spec
from bench.measure import load_with_cpu
from bench.modes import Mode
from bench.report import Figure
from bench.server import session_server

NAME = "read"
PAGE = 1_000
PAGES_PER_REGION = 20  # distinct pages cycled in each region


def _fixtures(mode: Mode) -> list[dbfill.Fixture]:
    metadata = '{"branch":"main","changelist":123456,"machine":"build-agent-07"}'
    big = dbfill.Fixture(dbfill.session_id(0), mode.read_entries, metadata=metadata)
    small = [
        dbfill.Fixture(dbfill.session_id(n), 0, ended=n % 2 == 0, metadata=metadata)
        for n in range(1, mode.read_sessions)
    ]
    return [big, *small]


def _requests(filled: dbfill.Filled, entries: int) -> dict[str, list[dict[str, str]]]:
    log_path = f"/sessions/{filled.id}/log"
    before_first = filled.first - 1
    middle = before_first + entries // 2
    near_end = filled.last - PAGE * (PAGES_PER_REGION + 1)
    pages = range(PAGES_PER_REGION)

    def after(cursor: int) -> list[dict[str, str]]:
        return [
            request_spec("GET", f"{log_path}?cursor={cursor + k * PAGE}&limit={PAGE}")
            for k in pages
        ]

    return {
        "start": after(before_first),
        "middle": after(middle),
        "end": after(near_end),
        "offset": [
            request_spec("GET", f"{log_path}?offset={entries // 2 + k * PAGE}&limit={PAGE}")
            for k in pages
        ],
        "list": [request_spec("GET", "/sessions/?status=all")],
    }


def run(mode: Mode, workdir: Path) -> tuple[list[Figure], dict[str, Any]]:
    db = workdir / "read.db"
    log(f"  building {mode.read_entries:,} entries and {mode.read_sessions:,} sessions")
    filled = dbfill.build(db, _fixtures(mode))[0]
    requests = _requests(filled, mode.read_entries)

    def one_round(_: int) -> dict[str, float]:
        r: dict[str, float] = {}
        with session_server(db) as server:
            for region, specs in requests.items():
                if region == "offset" and not mode.read_offset:
                    continue
                res = load_with_cpu(
                    server, specs, clients=1, duration=mode.read_seconds, warmup=mode.warmup
                )
                r[f"{region}_p50"], r[f"{region}_p99"] = res["p50_ms"], res["p99_ms"]
                r[f"{region}_rps"] = res["rps"]
                r[f"{region}_kb"] = res["bytes_per_response"] / 1024
                r[f"{region}_err"] = res["errors"]
        return r

    rounds = repeat(NAME, mode.repeats, one_round)
    runs = rounds.runs

    n = f"{mode.read_entries / 1e6:g} M"
    figures = []
    for region in ("start", "middle", "end"):
        figures.append(
            Figure(NAME, f"cursor page p50, {region} of {n}", "ms", runs(f"{region}_p50"))
        )
        figures.append(
            Figure(NAME, f"cursor page p99, {region} of {n}", "ms", runs(f"{region}_p99")).at_most(
                10, "≤ 10 ms"
            )
        )
    if mode.read_offset:
        figures.append(Figure(NAME, f"offset page p50, middle of {n}", "ms", runs("offset_p50")))
        figures.append(Figure(NAME, f"offset page p99, middle of {n}", "ms", runs("offset_p99")))
    sessions = f"{mode.read_sessions:,} sessions"
    figures.append(Figure(NAME, f"session list p50, {sessions}", "ms", runs("list_p50")))
    figures.append(Figure(NAME, f"session list p99, {sessions}", "ms", runs("list_p99")))
    figures.append(Figure(NAME, "cursor page size", "KB", runs("middle_kb")))
    figures.append(Figure(NAME, f"session list size, {sessions}", "KB", runs("list_kb")))
    return figures, {"rounds": rounds}
