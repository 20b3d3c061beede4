"""Large fixture databases, fast: direct sqlite3 inserts into the migrated schema.

Going through the server would take minutes per million entries; the rows written here have
the shape the server writes (same columns, JSON fields, ISO timestamps), and the session
counters (`log_count`, `log_bytes`) are kept right, as the writer would keep them.
"""

from __future__ import annotations

import datetime as dt
import itertools
import shutil
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from bench.payload import PLATFORMS, TEMPLATE
from bench.server import migrate

CHUNK = 50_000  # rows per executemany call
SEED = 200_000  # rows made in Python per session; the rest are copies made by SQLite
ENDED_LONG_AGO = "2024-01-01T00:00:00.000Z"  # older than the default 365-day prune age


@dataclass
class Fixture:
    """One session to create: its id, how many entries, and whether it has ended."""

    id: str
    entries: int = 0
    ended: bool = False
    metadata: str = "{}"


@dataclass
class Filled:
    """The cursor range a session's entries got."""

    id: str
    first: int
    last: int


def session_id(n: int) -> str:
    """A valid, readable session id (24 lowercase hex)."""
    return f"beef{n:020x}"


def _rows(sid: str, count: int) -> Iterator[tuple[object, ...]]:
    base = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)
    second = ""
    for n in range(count):
        if n % 1000 == 0:  # one strftime per simulated second, not per row
            second = (base + dt.timedelta(seconds=n // 1000)).strftime("%Y-%m-%dT%H:%M:%S")
        asset = f"/Game/Environment/Props/Industrial/Crates/SM_Crate_Wooden_{n % 100_000:05d}"
        platform = PLATFORMS[n % len(PLATFORMS)]
        ms = 5 + n % 40
        yield (
            sid,
            f"{second}.{n % 1000:03d}Z",
            "warn" if n % 10 == 9 else "info",
            "LogCook",
            f"Cooked {asset} for {platform} in {ms} ms",
            TEMPLATE,
            f'{{"Asset":"{asset}","Platform":"{platform}","Ms":{ms}}}',
        )


def _now() -> str:
    now = dt.datetime.now(dt.UTC)
    return now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z"


_INSERT = (
    "INSERT INTO log_entries (session_id, timestamp, level, logger, message, format, fields)"
    " VALUES (?, ?, ?, ?, ?, ?, ?)"
)
# Beyond the seed, a log grows by copying rows inside SQLite (C speed): its own first rows,
# or those of the first session built, renamed.
_COPY = (
    "INSERT INTO log_entries (session_id, timestamp, level, logger, message, format, fields)"
    " SELECT ?, timestamp, level, logger, message, format, fields FROM log_entries"
    " WHERE session_id = ? ORDER BY cursor LIMIT ?"
)


def add_sessions(db: Path, fixtures: list[Fixture]) -> list[Filled]:
    """Insert sessions and their logs into an existing, migrated database."""
    conn = sqlite3.connect(db, isolation_level=None)
    try:
        conn.execute("PRAGMA synchronous=OFF")  # a fixture: no durability needed while building
        conn.execute("PRAGMA busy_timeout=30000")
        filled = []
        source: tuple[str, int] | None = None  # the first session with a log, to copy from
        now = _now()
        for fixture in fixtures:
            conn.execute("BEGIN IMMEDIATE")
            ended_at = ENDED_LONG_AGO if fixture.ended else None
            conn.execute(
                "INSERT INTO sessions (id, appname, mode, platform, metadata, created_at,"
                " updated_at, ended_at, end_reason) VALUES (?, 'bench', 'cook', 'linux', ?,"
                " ?, ?, ?, ?)",
                (
                    fixture.id,
                    fixture.metadata,
                    ENDED_LONG_AGO if fixture.ended else now,
                    ENDED_LONG_AGO if fixture.ended else now,
                    ended_at,
                    "bench" if fixture.ended else None,
                ),
            )
            first = last = done = 0
            if source and fixture.entries:
                done = min(fixture.entries, source[1])
                conn.execute(_COPY, (fixture.id, source[0], done))
                last = conn.execute("SELECT last_insert_rowid()").fetchone()[0]
                first = last - done + 1
            else:
                rows = _rows(fixture.id, min(fixture.entries, SEED))
                while chunk := list(itertools.islice(rows, CHUNK)):
                    conn.executemany(_INSERT, chunk)
                    last = conn.execute("SELECT last_insert_rowid()").fetchone()[0]
                    first = first or last - len(chunk) + 1
                done = min(fixture.entries, SEED)
            while done < fixture.entries:
                step = min(done, fixture.entries - done)
                conn.execute(_COPY, (fixture.id, fixture.id, step))
                done += step
                last = conn.execute("SELECT last_insert_rowid()").fetchone()[0]
            if fixture.entries and not source:
                source = (fixture.id, fixture.entries)
            # ASCII messages: characters are bytes.
            (nbytes,) = conn.execute(
                "SELECT coalesce(sum(length(message)), 0) FROM log_entries WHERE session_id = ?",
                (fixture.id,),
            ).fetchone()
            conn.execute(
                "UPDATE sessions SET log_count = ?, log_bytes = ? WHERE id = ?",
                (fixture.entries, nbytes, fixture.id),
            )
            conn.execute("COMMIT")
            filled.append(Filled(fixture.id, first, last))
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return filled
    finally:
        conn.close()


def build(db: Path, fixtures: list[Fixture]) -> list[Filled]:
    """A fresh database: migrated by `python -m service migrate`, then filled."""
    migrate(db)
    return add_sessions(db, fixtures)


_TEMPLATES: dict[Path, Path] = {}


def fresh(workdir: Path, name: str) -> Path:
    """A fresh, empty, migrated database: a copy of one migrated once per run (same bytes)."""
    template = _TEMPLATES.get(workdir)
    if template is None:
        template = workdir / "template.db"
        migrate(template)
        _TEMPLATES[workdir] = template
    db = workdir / f"{name}.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    shutil.copyfile(template, db)
    return db
