"""The raw-SQLite ceiling: what stdlib sqlite3 alone does with the same rows and schema.

`python -m bench.ceilings --db DB[,DB...] --batches-per-txn K[,K...] --duration S` (a process
of its own; each K on its own database made by `python -m service migrate`) inserts the rows
the server would store
for the benchmark's 50-entry bodies, with the server's PRAGMAs (WAL, synchronous=NORMAL,
foreign_keys=ON), one `executemany` per batch plus the session-counter UPDATE the writer does
in the same transaction, committing every K batches. K=1 is one transaction per request;
K=16 or 64 is what perfect group commit would achieve at that many concurrent clients.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
import time
from pathlib import Path

from bench import payload

SESSION = "ce111000000000000000c0de"
INSERT = (
    "INSERT INTO log_entries (session_id, timestamp, level, logger, message, format, fields,"
    " fields_cb) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
)
COUNTERS = (
    "UPDATE sessions SET log_count = log_count + ?, log_bytes = log_bytes + ?, updated_at = ?"
    " WHERE id = ?"
)
MAX_BATCHES = 2_000_000  # a bound on the loop besides its duration


def run(db: Path, batches_per_txn: int, duration: float) -> dict[str, float]:
    batches = [payload.stored_rows(SESSION, body) for body in payload.bodies()]
    sizes = [payload.message_bytes(rows) for rows in batches]
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA foreign_keys=ON")
    conn.execute(
        "INSERT INTO sessions (id, appname, created_at, updated_at) VALUES (?, 'ceiling', ?, ?)",
        (SESSION, payload.CLIENT_TIME, payload.CLIENT_TIME),
    )
    done = 0
    started = time.perf_counter()
    deadline = started + duration
    while time.perf_counter() < deadline and done < MAX_BATCHES:
        conn.execute("BEGIN IMMEDIATE")
        for _ in range(batches_per_txn):
            i = done % len(batches)
            conn.executemany(INSERT, batches[i])
            conn.execute(COUNTERS, (len(batches[i]), sizes[i], payload.CLIENT_TIME, SESSION))
            done += 1
        conn.execute("COMMIT")
    elapsed = time.perf_counter() - started
    conn.close()
    rows = done * payload.ENTRIES_PER_BATCH
    return {"rows": rows, "seconds": elapsed, "rows_per_s": rows / elapsed}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--db", required=True, help="one database per K, comma-separated")
    parser.add_argument("--batches-per-txn", default="1", help="K values, comma-separated")
    parser.add_argument("--duration", type=float, default=2.0)
    args = parser.parse_args()
    dbs = [Path(p) for p in args.db.split(",")]
    ks = [int(k) for k in args.batches_per_txn.split(",")]
    results = {str(k): run(db, k, args.duration) for db, k in zip(dbs, ks, strict=True)}
    sys.stdout.write(json.dumps(results))


if __name__ == "__main__":
    main()
