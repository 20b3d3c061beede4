"""Crash durability: SIGKILL under continuous ingestion never loses an acknowledged entry."""

from __future__ import annotations

import random
import sqlite3
import threading
import time
from pathlib import Path

import httpx

from tests.conftest import SID, ServerProcess

ROUNDS = 10
CLIENTS = 4
LINES = 20


def test_acknowledged_entries_survive_repeated_kills(tmp_path: Path) -> None:
    server = ServerProcess(tmp_path / "sessions.db")
    acknowledged: list[str] = []
    lock = threading.Lock()
    rng = random.Random(20261204)
    for round_no in range(ROUNDS):
        server.start()
        httpx.post(f"{server.url}/sessions/{SID}", json={"appname": "crash-test"})
        stop = threading.Event()

        def client(number: int, round_no: int = round_no, stop: threading.Event = stop) -> None:
            with httpx.Client(base_url=server.url, timeout=10) as http:
                batch = 0
                while not stop.is_set():
                    lines = [f"r{round_no}-c{number}-b{batch}-l{i}" for i in range(LINES)]
                    try:
                        response = http.post(
                            f"/sessions/{SID}/log",
                            content="\n".join(lines).encode(),
                            headers={"content-type": "text/plain"},
                        )
                    except httpx.TransportError:
                        return  # the server died under us: this batch was never acknowledged
                    if response.status_code == 200:
                        with lock:
                            acknowledged.extend(lines)
                    batch += 1

        threads = [threading.Thread(target=client, args=(n,)) for n in range(CLIENTS)]
        for thread in threads:
            thread.start()
        time.sleep(rng.uniform(0.2, 1.0))
        server.kill()
        stop.set()
        for thread in threads:
            thread.join(timeout=30)
    with sqlite3.connect(server.db) as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        rows = db.execute(
            "SELECT cursor, message FROM log_entries WHERE session_id = ? ORDER BY cursor", (SID,)
        ).fetchall()
        mismatched = db.execute(
            "SELECT s.id FROM sessions s LEFT JOIN (SELECT session_id, count(*) AS n, "
            "sum(length(CAST(message AS BLOB))) AS b FROM log_entries GROUP BY session_id) e "
            "ON e.session_id = s.id WHERE s.log_count != coalesce(e.n, 0) "
            "OR s.log_bytes != coalesce(e.b, 0)"
        ).fetchall()
    stored = [message for _, message in rows]
    counts: dict[str, int] = {}
    for message in stored:
        counts[message] = counts.get(message, 0) + 1
    missing = [line for line in acknowledged if counts.get(line, 0) != 1]
    print(f"\n{ROUNDS} kills, {len(acknowledged)} acknowledged entries, {len(stored)} stored")
    assert len(acknowledged) > ROUNDS * CLIENTS * LINES  # the test really ingested
    assert missing == []
    assert all(n == 1 for n in counts.values())  # no entry stored twice
    assert mismatched == []  # counters equal the rows, even after kills
    cursors = [cursor for cursor, _ in rows]
    assert cursors == sorted(set(cursors))
