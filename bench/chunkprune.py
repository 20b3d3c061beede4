"""Stand-in for `sessions prune` where a checkout lacks it: what the prune does, by hand.

`python -m bench.chunkprune --db DB --session ID` deletes an ended session's log from a
separate sqlite3 connection in 5,000-row transactions (oldest first, counters kept right),
then the session row, then gives the free pages back with incremental vacuum in
1,000-page transactions and checkpoints: the work DESIGN.md §5 asks of the prune.
"""

from __future__ import annotations

import argparse
import sqlite3
from pathlib import Path

LOG_CHUNK = 5_000
VACUUM_CHUNK = 1_000


def prune(db: Path, session: str) -> int:
    conn = sqlite3.connect(db, isolation_level=None, timeout=10)
    conn.execute("PRAGMA foreign_keys=ON")
    deleted = 0
    while True:
        conn.execute("BEGIN IMMEDIATE")
        row = conn.execute(
            "SELECT max(cursor), count(*), coalesce(sum(length(CAST(message AS BLOB))), 0)"
            " FROM (SELECT cursor, message FROM log_entries WHERE session_id = ?"
            " ORDER BY cursor LIMIT ?)",
            (session, LOG_CHUNK),
        ).fetchone()
        last, count, nbytes = row
        if count:
            conn.execute(
                "DELETE FROM log_entries WHERE session_id = ? AND cursor <= ?", (session, last)
            )
            conn.execute(
                "UPDATE sessions SET log_count = log_count - ?, log_bytes = log_bytes - ?"
                " WHERE id = ?",
                (count, nbytes, session),
            )
        conn.execute("COMMIT")
        deleted += count
        if count < LOG_CHUNK:
            break
    conn.execute("DELETE FROM sessions WHERE id = ?", (session,))
    while conn.execute("PRAGMA freelist_count").fetchone()[0]:
        conn.execute("BEGIN IMMEDIATE")
        conn.execute(f"PRAGMA incremental_vacuum({VACUUM_CHUNK})").fetchall()
        conn.execute("COMMIT")
    conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
    conn.close()
    return deleted


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--db", type=Path, required=True)
    parser.add_argument("--session", required=True)
    args = parser.parse_args()
    print(f"deleted {prune(args.db, args.session)} entries")


if __name__ == "__main__":
    main()
