"""Ingest: entries/s and latency of 50-entry POSTs, beside the raw-SQLite and HTTP ceilings.

Every round measures all of it once, in the same order (raw SQLite, the service at 1/16/64
clients with /health after each level, then the no-op Litestar app), so each ratio divides
figures from the same round on the same machine, and drift on a noisy machine hits every
figure of a round alike.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

from bench import dbfill, payload
from bench.common import PYTHON, ROOT, repeat
from bench.loadgen import request_spec
from bench.measure import load_with_cpu
from bench.modes import Mode
from bench.report import Figure, ratio
from bench.server import noop_server, register, session_server

NAME = "ingest"
LEVELS = (1, 16, 64)
SESSION = "1a9e57000000000000000001"
LOG_PATH = f"/sessions/{SESSION}/log"


def raw_ceilings(workdir: Path, seconds: float) -> dict[int, float]:
    """Rows/s of stdlib sqlite3 alone for each K of LEVELS, in a process of its own."""
    dbs = ",".join(str(dbfill.fresh(workdir, f"raw{k}")) for k in LEVELS)
    out = subprocess.run(
        [
            *(PYTHON, "-m", "bench.ceilings", "--db", dbs, "--duration", str(seconds)),
            *("--batches-per-txn", ",".join(str(k) for k in LEVELS)),
        ],
        cwd=ROOT,
        check=True,
        capture_output=True,
        timeout=len(LEVELS) * seconds + 60,
    ).stdout
    return {int(k): float(v["rows_per_s"]) for k, v in json.loads(out).items()}


BIG_BATCH = 500  # entries per POST of the second batch size, to split per-request from per-entry


def log_requests(size: int = payload.ENTRIES_PER_BATCH) -> list[dict[str, str]]:
    """16 distinct bodies of `size` entries, as POSTs to the benchmark session."""
    return [request_spec("POST", LOG_PATH, body) for body in payload.bodies(16, size)]


def one_round(mode: Mode, workdir: Path) -> dict[str, float]:
    """Every figure of the scenario once."""
    r: dict[str, float] = {}
    for k, rows_per_s in raw_ceilings(workdir, mode.ceiling_seconds).items():
        r[f"raw{k}"] = rows_per_s
    posts = log_requests()
    health = [request_spec("GET", "/health")]
    with session_server(dbfill.fresh(workdir, "ingest")) as server:
        register(server.port, SESSION)
        for n in LEVELS:
            res = load_with_cpu(
                server, posts, clients=n, duration=mode.ingest_seconds, warmup=mode.warmup
            )
            r[f"eps{n}"] = res["rps"] * payload.ENTRIES_PER_BATCH
            r[f"rps{n}"] = res["rps"]
            r[f"p50_{n}"], r[f"p99_{n}"] = res["p50_ms"], res["p99_ms"]
            r[f"cpu{n}"] = res["server_cpu"]
            r[f"group{n}"] = res["per_commit"]
            r[f"gen{n}"] = 100 * res["loadgen_cpu"]
            r[f"err{n}"] = res["errors"]
            if n == 16:
                # The same load with 10x larger batches: the two rates give the server's time
                # per request (fixed) and per entry, since 16 clients keep it saturated.
                res = load_with_cpu(
                    server,
                    log_requests(BIG_BATCH),
                    clients=n,
                    duration=mode.ingest_seconds,
                    warmup=mode.warmup,
                )
                r["eps16_big"] = res["rps"] * BIG_BATCH
                per_request_small = 1 / r["rps16"]
                per_request_big = 1 / res["rps"]
                small = payload.ENTRIES_PER_BATCH
                per_entry = (per_request_big - per_request_small) / (BIG_BATCH - small)
                r["per_entry_us"] = per_entry * 1e6
                r["per_request_ms"] = (per_request_small - small * per_entry) * 1e3
            if n in mode.ceiling_levels:
                res = load_with_cpu(
                    server, health, clients=n, duration=mode.ceiling_seconds, warmup=mode.warmup
                )
                r[f"health{n}"] = res["rps"]
                r[f"health_gen{n}"] = 100 * res["loadgen_cpu"]
    with noop_server(workdir) as noop:
        for n in mode.ceiling_levels:
            res = load_with_cpu(
                noop, posts, clients=n, duration=mode.ceiling_seconds, warmup=mode.warmup
            )
            r[f"noop{n}"] = res["rps"]
            r[f"noop_p99_{n}"] = res["p99_ms"]
            r[f"noop_gen{n}"] = 100 * res["loadgen_cpu"]
    return r


def run(mode: Mode, workdir: Path) -> tuple[list[Figure], dict[str, Any]]:
    rounds = repeat(NAME, mode.repeats, lambda _: one_round(mode, workdir))
    runs = rounds.runs

    figures: list[Figure] = []
    for n in LEVELS:
        figures.append(Figure(NAME, f"ingest, {n} client(s)", "entries/s", runs(f"eps{n}")))
    figures.append(
        Figure(
            NAME, f"ingest, 16 clients, {BIG_BATCH}-entry batches", "entries/s", runs("eps16_big")
        )
    )
    figures.append(
        Figure(
            NAME, "server time per request, fixed part (16 clients)", "ms", runs("per_request_ms")
        )
    )
    figures.append(Figure(NAME, "server time per entry (16 clients)", "us", runs("per_entry_us")))
    for n in LEVELS:
        p50 = Figure(NAME, f"request p50, {n} client(s)", "ms", runs(f"p50_{n}"))
        p99 = Figure(NAME, f"request p99, {n} client(s)", "ms", runs(f"p99_{n}"))
        if n == 16:
            p99.at_most(50, "≤ 50 ms")
        figures += [p50, p99]
    for n in LEVELS:
        figures.append(
            Figure(NAME, f"server CPU during ingest, {n} client(s)", "%", runs(f"cpu{n}"))
        )
    for n in LEVELS:
        figures.append(
            Figure(NAME, f"batches per writer commit, {n} client(s)", "x", runs(f"group{n}"))
        )
    for k in LEVELS:
        figures.append(
            Figure(
                NAME,
                f"raw ceiling: sqlite3 executemany, {k} batch(es)/txn",
                "rows/s",
                runs(f"raw{k}"),
            )
        )
    for n in mode.ceiling_levels:
        figures.append(
            Figure(NAME, f"HTTP ceiling: GET /health, {n} client(s)", "req/s", runs(f"health{n}"))
        )
        figures.append(
            Figure(
                NAME,
                f"HTTP ceiling: no-op Litestar POST, {n} client(s)",
                "req/s",
                runs(f"noop{n}"),
            )
        )
    for n in LEVELS:
        share = ratio(
            NAME,
            f"ingest {n} client(s) / raw ceiling {n} batch(es)/txn",
            runs(f"eps{n}"),
            runs(f"raw{n}"),
        )
        if n == 16:
            share.at_least(60, "≥ 60 %")
        figures.append(share)
    for n in mode.ceiling_levels:
        figures.append(
            ratio(
                NAME,
                f"ingest / no-op POST (req/s), {n} client(s)",
                runs(f"rps{n}"),
                runs(f"noop{n}"),
            )
        )
        figures.append(
            ratio(
                NAME,
                f"ingest / GET /health (req/s), {n} client(s)",
                runs(f"rps{n}"),
                runs(f"health{n}"),
            )
        )
    # The generator must not be the bottleneck: its busiest moment, in % of one core.
    generator = [
        max(v for k, v in r.items() if k.startswith(("gen", "health_gen", "noop_gen")))
        for r in rounds
    ]
    figures.append(Figure(NAME, "load generator CPU, busiest load of the round", "%", generator))
    return figures, {"rounds": rounds}
