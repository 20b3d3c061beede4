"""Start-up: from process start to the first `/health` answer, on a large database.

The database holds `startup_entries` entries (quick: 1 M, full: 5 M) in 20 sessions, built by
direct inserts; the server starts with its default settings (maintenance loops on, as in
production). An empty database is timed beside it: the difference is what the data costs,
the rest is interpreter and import time. The file is in the OS page cache (it was just
written), so this is a warm start.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bench import dbfill
from bench.common import log, repeat
from bench.modes import Mode
from bench.report import Figure
from bench.server import session_server

NAME = "startup"
SESSIONS = 20


def _time_to_health(db: Path) -> float:
    server = session_server(db, quiet=False, graceful=True)
    with server:
        return server.ready_at - server.started_at


def run(mode: Mode, workdir: Path) -> tuple[list[Figure], dict[str, Any]]:
    big = workdir / "startup.db"
    log(f"  building {mode.startup_entries:,} entries")
    per_session = mode.startup_entries // SESSIONS
    dbfill.build(big, [dbfill.Fixture(dbfill.session_id(n), per_session) for n in range(SESSIONS)])
    empty = dbfill.fresh(workdir, "startup-empty")
    rounds = repeat(
        NAME, mode.repeats, lambda _: {"big": _time_to_health(big), "empty": _time_to_health(empty)}
    )
    n = f"{mode.startup_entries / 1e6:g} M entries"
    return [
        Figure(NAME, f"process start → first /health, {n}", "s", rounds.runs("big")).at_most(
            1.0, "≤ 1 s"
        ),
        Figure(NAME, "process start → first /health, empty db", "s", rounds.runs("empty")),
    ], {"rounds": rounds}
