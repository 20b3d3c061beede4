"""Maintenance: ingest latency while a prune deletes a 1 M-entry ended session.

Each round, on a fresh copy of a database holding one ended session of `prune_entries`
entries (ended long ago, so the default 365-day age limit selects it), 16 clients ingest
without pause; their requests are split by time into "idle" (before the prune) and "during
the prune". Two prunes are measured, each on its own server:

- the server's own scheduled prune (`--prune-delay-seconds`, through its writer), from the
  first sign of deletion (the session's `log_count` dropping) to its summary log line, which
  comes after the incremental vacuum and checkpoint;
- `sessions prune --db` run beside the live server (another process, another writer: the
  two contend for SQLite's write lock), from process start to exit.

Where the checkout has no `sessions prune`, bench/chunkprune.py does the same deletes from a
separate sqlite3 connection, and the figure says so.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

from bench import dbfill, payload
from bench.common import PYTHON, ROOT, log, percentile, repeat
from bench.loadgen import Load
from bench.modes import Mode
from bench.report import Figure
from bench.scenarios.ingest import SESSION, log_requests
from bench.server import Process, get, register, serve_flags, session_server

NAME = "maintenance"
PRUNED = dbfill.session_id(7)
CLIENTS = 16
POLL = 0.05


def cli_prune_available() -> bool:
    """Whether this checkout has `sessions prune`."""
    done = subprocess.run(
        [PYTHON, "-m", "service", "prune", "--help"], cwd=ROOT, capture_output=True
    )
    return done.returncode == 0


def _log_count(server: Process) -> int:
    """The pruned session's remaining entries (-1 once it is gone)."""
    status, body = get(server.port, f"/sessions/{PRUNED}")
    return int(json.loads(body).get("log_count", 0)) if status == 200 else -1


def _split(result: dict[str, Any], idle: tuple[float, float], busy: tuple[float, float]) -> dict:
    """p99 and entries/s of the requests that ended in each period."""
    out: dict[str, float] = {}
    for key, (start, stop) in (("idle", idle), ("prune", busy)):
        lat = sorted(lat for end, lat in result["timed"] if start <= end <= stop)
        out[f"{key}_p99"] = percentile(lat, 99) * 1000
        out[f"{key}_p50"] = percentile(lat, 50) * 1000
        out[f"{key}_eps"] = len(lat) * payload.ENTRIES_PER_BATCH / max(1e-9, stop - start)
    out["prune_seconds"] = busy[1] - busy[0]
    return out


def _ingest(server: Process, mode: Mode) -> Load:
    register(server.port, SESSION)
    return Load(
        server.port,
        log_requests(),
        clients=CLIENTS,
        duration=mode.prune_timeout,
        warmup=mode.warmup,
        record_times=True,
    )


def _wait(seconds_from_now: float) -> None:
    time.sleep(max(0.0, seconds_from_now))


def in_server(db: Path, mode: Mode) -> dict[str, float]:
    """The server's own scheduled prune, started while 16 clients ingest."""
    # Scheduled a second or more after the idle window, which must not see the first chunk.
    delay = 1.5 + mode.warmup + mode.ingest_seconds
    server = session_server(
        db, "--prune-delay-seconds", str(delay), "--prune-interval-seconds", "3600"
    )
    with server:
        load = _ingest(server, mode)
        deadline = time.monotonic() + mode.prune_timeout
        started = 0.0
        while time.monotonic() < deadline and not started:
            if _log_count(server) < mode.prune_entries:
                started = time.monotonic()
            else:
                _wait(POLL)
        ended = 0.0
        while time.monotonic() < deadline and not ended:
            if "pruned " in server.log_path.read_text(errors="replace"):
                ended = time.monotonic()
            else:
                _wait(POLL)
        load.stop()
        result = load.result()
    if not ended:
        raise RuntimeError("the server's prune did not finish in time")
    # Detection lags the first chunk by up to a chunk's time and a poll: keep the idle window
    # clear of it; the prune window starts where the idle one ends.
    idle_end = min(started - 1.0, load.window[0] + mode.ingest_seconds)
    return _split(result, (load.window[0], idle_end), (idle_end, ended))


def beside(db: Path, mode: Mode, *, cli: bool) -> dict[str, float]:
    """`sessions prune` (or the stand-in) as another process beside the live server."""
    with session_server(db) as server:
        load = _ingest(server, mode)
        _wait(load.window[0] + mode.ingest_seconds - time.monotonic())
        command = (
            [PYTHON, "-m", "service", "prune", "--db", str(db)]
            if cli
            else [PYTHON, "-m", "bench.chunkprune", "--db", str(db), "--session", PRUNED]
        )
        started = time.monotonic()
        done = subprocess.run(
            command, cwd=ROOT, capture_output=True, text=True, timeout=mode.prune_timeout
        )
        ended = time.monotonic()
        load.stop()
        result = load.result()
        if done.returncode != 0:
            raise RuntimeError(f"prune failed: {done.stderr[-500:]}")
        if _log_count(server) != -1:
            raise RuntimeError(f"prune left the session: {done.stdout[-500:]}")
    return _split(result, (load.window[0], started), (started, ended))


def run(mode: Mode, workdir: Path) -> tuple[list[Figure], dict[str, Any]]:
    template = workdir / "maintenance-template.db"
    log(f"  building an ended session of {mode.prune_entries:,} entries")
    dbfill.build(template, [dbfill.Fixture(PRUNED, mode.prune_entries, ended=True)])
    cli = cli_prune_available()
    scheduled = "--prune-delay-seconds" in serve_flags()

    def one_round(i: int) -> dict[str, float]:
        r: dict[str, float] = {}
        if scheduled:
            db = workdir / f"maintenance-own-{i}.db"  # and a log file of its own
            shutil.copyfile(template, db)
            r.update({f"own_{k}": v for k, v in in_server(db, mode).items()})
        db = workdir / f"maintenance-cli-{i}.db"
        shutil.copyfile(template, db)
        r.update({f"cli_{k}": v for k, v in beside(db, mode, cli=cli).items()})
        return r

    rounds = repeat(NAME, mode.repeats, one_round)
    runs = rounds.runs

    n = f"{mode.prune_entries / 1e6:g} M-entry"
    figures = []
    how = "`sessions prune` beside the server" if cli else "sqlite3 5,000-row chunk deletes"
    note = "" if cli else "no `sessions prune` in this checkout: stand-in"
    for key, label in (("own", "server's scheduled prune"), ("cli", how)):
        if key == "own" and not scheduled:
            continue
        idle, busy = runs(f"{key}_idle_p99"), runs(f"{key}_prune_p99")
        figures.append(Figure(NAME, f"ingest p99 idle ({label} round)", "ms", idle))
        figures.append(
            Figure(
                NAME,
                f"ingest p99 during {n} prune: {label}",
                "ms",
                busy,
                note=note if key == "cli" else "",
            )
        )
        ratio = [b / a if a else float("nan") for a, b in zip(idle, busy, strict=True)]
        figures.append(Figure(NAME, f"p99 during / idle: {label}", "x", ratio).at_most(2, "≤ 2 x"))
        figures.append(
            Figure(NAME, f"ingest during prune: {label}", "entries/s", runs(f"{key}_prune_eps"))
        )
        figures.append(Figure(NAME, f"prune duration: {label}", "s", runs(f"{key}_prune_seconds")))
    return figures, {"rounds": rounds, "cli": cli, "scheduled": scheduled}
