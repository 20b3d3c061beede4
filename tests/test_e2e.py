"""End to end: `sessions serve` as a real process on loopback, driven with httpx."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import httpx

from service.db.migrate import head_revision
from tests.conftest import SID, ServerProcess

TEXT = {"content-type": "text/plain"}


def test_register_log_read_end(server: ServerProcess) -> None:
    with httpx.Client(base_url=server.url) as http:
        created = http.post(f"/sessions/{SID}", json={"appname": "cook", "pid": os.getpid()})
        assert created.status_code == 201 and created.text == SID
        assert http.get(f"/sessions/{SID}").json()["pid"] == os.getpid()  # loopback is trusted
        batch = {"entries": [{"level": "info", "format": "built {N}", "fields": {"N": 7}}]}
        assert http.post(f"/sessions/{SID}/log", json=batch).json()["count"] == 1
        http.post(f"/sessions/{SID}/log", content=b"plain\r\ntext", headers=TEXT)
        page = http.get(f"/sessions/{SID}/log", params={"cursor": 0}).json()
        assert [e["message"] for e in page["entries"]] == ["built 7", "plain", "text"]
        assert http.delete(f"/sessions/{SID}").status_code == 200
        assert http.get(f"/sessions/{SID}").json()["status"] == "ended"
        assert http.get("/health").text == "OK!"


def test_concurrent_clients_and_restart(server: ServerProcess) -> None:
    async def run() -> list[int]:
        async with httpx.AsyncClient(base_url=server.url) as http:
            await http.post(f"/sessions/{SID}", json={})

            async def post(i: int) -> int:
                body = f"{i}-a\n{i}-b".encode()
                response = await http.post(f"/sessions/{SID}/log", content=body, headers=TEXT)
                assert response.status_code == 200
                return int(response.json()["cursor"])

            return await asyncio.gather(*(post(i) for i in range(200)))

    cursors = asyncio.run(run())
    assert len(set(cursors)) == 200
    self_id = httpx.get(f"{server.url}/sessions/").json()["self_id"]
    assert server.stop() == 0
    server.start()
    with httpx.Client(base_url=server.url) as http:
        assert http.get(f"/sessions/{SID}").json()["log_count"] == 400
        old_self = http.get(f"/sessions/{self_id}").json()
        assert old_self["end_reason"] == "server shutdown"
        after = http.post(f"/sessions/{SID}/log", content=b"later", headers=TEXT).json()
        assert after["cursor"] > max(cursors)


def test_acknowledged_entries_survive_kill(server: ServerProcess) -> None:
    with httpx.Client(base_url=server.url) as http:
        http.post(f"/sessions/{SID}", json={})
        acknowledged = [
            http.post(f"/sessions/{SID}/log", content=f"line {i}".encode(), headers=TEXT).json()
            for i in range(50)
        ]
    server.kill()
    with sqlite3.connect(server.db) as db:
        stored = dict(
            db.execute("SELECT cursor, message FROM log_entries WHERE session_id = ?", (SID,))
        )
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    assert {a["cursor"]: f"line {i}" for i, a in enumerate(acknowledged)} == stored


def test_unix_socket_peers_are_trusted(tmp_path: Path) -> None:
    socket_path = str(tmp_path / "sessions.sock")
    command = [sys.executable, "-m", "service", "serve", "--db", str(tmp_path / "s.db")]
    log = (tmp_path / "server.log").open("wb")
    process = subprocess.Popen([*command, "--uds", socket_path], stdout=log, stderr=log)
    try:
        transport = httpx.HTTPTransport(uds=socket_path)
        with httpx.Client(transport=transport, base_url="http://sessions") as http:
            deadline = time.monotonic() + 20
            while not Path(socket_path).exists() and time.monotonic() < deadline:
                time.sleep(0.05)
            for _ in range(100):
                try:
                    http.get("/health")
                    break
                except httpx.TransportError:
                    time.sleep(0.05)
            http.post(f"/sessions/{SID}", json={"pid": os.getpid()})
            assert http.get(f"/sessions/{SID}").json()["pid"] == os.getpid()
    finally:
        process.terminate()
        assert process.wait(timeout=20) == 0
        log.close()


def test_migrate_command_creates_the_schema(tmp_path: Path) -> None:
    db = tmp_path / "new" / "s.db"
    result = subprocess.run(
        [sys.executable, "-m", "service", "migrate", "--db", str(db)],
        capture_output=True,
        text=True,
        check=True,
    )
    assert f"at revision {head_revision()}" in result.stdout
    with sqlite3.connect(db) as conn:
        tables = {
            row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")
        }
    assert {"sessions", "log_entries", "idempotency_keys", "alembic_version"} <= tables


def test_environment_configures_serve(tmp_path: Path) -> None:
    server = ServerProcess(tmp_path / "env.db")
    os.environ["SESSIONS_MAX_BATCH_ENTRIES"] = "2"
    try:
        server.start()
    finally:
        del os.environ["SESSIONS_MAX_BATCH_ENTRIES"]
    try:
        with httpx.Client(base_url=server.url) as http:
            http.post(f"/sessions/{SID}", json={})
            response = http.post(f"/sessions/{SID}/log", content=b"a\nb\nc", headers=TEXT)
            assert response.status_code == 413
    finally:
        server.stop()
