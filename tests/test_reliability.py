"""Backpressure, full storage, access tokens and hostile bodies: clear answers, nothing lost."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from litestar.testing import AsyncTestClient
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from service.app import create_app
from service.domain.logs import Limits, text_batch
from service.settings import Settings
from tests.conftest import OTHER, SID, ServerProcess

TEXT = {"content-type": "text/plain"}
LOG = f"/sessions/{SID}/log"


def test_a_stalled_writer_makes_new_batches_wait_then_503(tmp_path: Path) -> None:
    flags = ("--max-queued-entries", "100", "--queue-wait-seconds", "0.5")
    server = ServerProcess(tmp_path / "s.db", *flags).start()
    body = "\n".join(["x"] * 60).encode()

    async def run() -> None:
        async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
            await http.post(f"/sessions/{SID}", json={})
            # Another process holds the write lock: the writer waits, work queues up.
            blocker = sqlite3.connect(server.db, isolation_level=None)
            blocker.execute("BEGIN EXCLUSIVE")
            first = asyncio.ensure_future(http.post(LOG, content=body, headers=TEXT))
            await queued(http, 60)  # the first batch waits in the writer's queue
            refused = await http.post(LOG, content=body, headers=TEXT)
            blocker.execute("COMMIT")
            blocker.close()
            assert refused.status_code == 503
            assert refused.headers["retry-after"] == "1"
            assert "busy" in refused.json()["detail"]
            assert (await first).status_code == 200
            assert (await http.post(LOG, content=body, headers=TEXT)).status_code == 200
            assert (await http.get(f"/sessions/{SID}")).json()["log_count"] == 120
            store = (await http.get("/stats/sessions")).json()["store"]
            assert store["writer_refused"] == 1 and store["writer_queued_entries"] == 0

    async def queued(http: httpx.AsyncClient, entries: int) -> None:
        for _ in range(1_000):  # 10 s at most
            store = (await http.get("/stats/sessions")).json()["store"]
            if store["writer_queued_entries"] >= entries:
                return
            await asyncio.sleep(0.01)
        raise AssertionError(f"{entries} entries never queued up")

    try:
        asyncio.run(run())
    finally:
        server.stop()


async def test_a_full_database_answers_507_keeps_reads_and_recovers(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    settings = Settings(db=str(db), max_db_bytes=400 * 1024)
    async with AsyncTestClient(create_app(settings)) as client:
        await client.post(f"/sessions/{SID}", json={})
        await client.post(f"/sessions/{OTHER}", json={})
        acknowledged = 0
        line = "y" * 200
        for _ in range(200):
            response = await client.post(LOG, content="\n".join([line] * 50).encode(), headers=TEXT)
            if response.status_code != 200:
                break
            acknowledged += 50
        assert response.status_code == 507
        assert "full" in response.json()["detail"] and response.headers["retry-after"]
        assert acknowledged > 0
        # Reads and the list keep working; nothing acknowledged is lost.
        assert (await client.get(f"/sessions/{SID}")).json()["log_count"] == acknowledged
        assert (await client.get("/sessions/")).status_code == 200
        page = (await client.get(LOG, params={"limit": 10000})).json()
        assert len(page["entries"]) == acknowledged
        # Space comes back (another process deletes entries); writes resume by themselves.
        with sqlite3.connect(db) as other:
            other.execute(
                "DELETE FROM log_entries WHERE cursor IN "
                "(SELECT cursor FROM log_entries WHERE session_id = ? LIMIT 500)",
                (SID,),
            )
        resumed = await client.post(f"/sessions/{OTHER}/log", content=b"back", headers=TEXT)
        assert resumed.status_code == 200


async def test_the_token_guards_every_route_but_health(tmp_path: Path) -> None:
    settings = Settings(db=str(tmp_path / "s.db"), token="s3cret")
    good = {"authorization": "Bearer s3cret"}
    async with AsyncTestClient(create_app(settings)) as client:
        assert (await client.get("/health")).status_code == 200
        for method, url in [
            ("GET", "/sessions/"),
            ("POST", f"/sessions/{SID}"),
            ("GET", "/metrics"),
        ]:
            missing = await client.request(method, url)
            assert missing.status_code == 401, url
            assert missing.headers["www-authenticate"] == "Bearer"
            wrong = await client.request(method, url, headers={"authorization": "Bearer nope"})
            assert wrong.status_code == 401
        assert (await client.post(f"/sessions/{SID}", headers=good)).status_code == 201
        assert (await client.get(f"/sessions/{SID}", headers=good)).status_code == 200
        assert (await client.get("/", headers={})).status_code == 200  # the page asks for it


def test_the_websocket_takes_the_token_in_the_url_or_first_message(tmp_path: Path) -> None:
    server = ServerProcess(tmp_path / "s.db", "--token", "s3cret").start()
    url = server.url.replace("http://", "ws://") + "/sessions/ws"

    async def run() -> None:
        async with connect(url + "?token=s3cret") as ws:
            assert json.loads(await ws.recv())["type"] == "sessions"
        with pytest.raises(InvalidStatus):
            async with connect(url + "?token=wrong"):
                pass
        async with connect(url) as ws:
            asked = json.loads(await ws.recv())
            assert asked["type"] == "error" and "needs a token" in asked["detail"]
            await ws.send(json.dumps({"type": "auth", "token": "s3cret"}))
            assert json.loads(await ws.recv())["type"] == "sessions"
        async with connect(url) as ws:
            await ws.recv()
            await ws.send(json.dumps({"type": "auth", "token": "wrong"}))
            with pytest.raises(ConnectionClosed):
                await asyncio.wait_for(ws.recv(), 10)

    try:
        asyncio.run(run())
    finally:
        server.stop()


def test_listening_beyond_loopback_without_a_token_warns(tmp_path: Path) -> None:
    server = ServerProcess(tmp_path / "s.db", "--host", "0.0.0.0").start()
    try:
        assert "without a token" in server.log.read_text()
    finally:
        server.stop()


@pytest.fixture
async def session(client: AsyncTestClient[Any]) -> AsyncTestClient[Any]:
    await client.post(f"/sessions/{SID}", json={})
    return client


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (b"[" * 100_000 + b"]" * 100_000, 400),  # deep nesting
        (b'{"entries": [' + b"[" * 50_000 + b"]" * 50_000 + b"]}", 400),
        (b'{"message": "' + b"\xff" * 10 + b'"}', 400),  # invalid UTF-8 inside JSON
        (b'{"message": "a\\u0000b"}', 200),  # NUL is text like any other
        (b'{"entries": [' + b",".join([b'{"message":"m"}'] * 20_000) + b"]}", 413),
        (b'{"message": "' + b"z" * (15 * 1024 * 1024) + b'"}', 200),  # enormous, under 16 MiB
    ],
)
async def test_hostile_json_bodies_get_clear_answers(
    session: AsyncTestClient[Any], body: bytes, status: int
) -> None:
    response = await session.post(LOG, content=body, headers={"content-type": "application/json"})
    assert response.status_code == status
    assert (await session.get("/health")).status_code == 200


async def test_millions_of_tiny_lines_are_refused_whole(session: AsyncTestClient[Any]) -> None:
    response = await session.post(LOG, content=b"\n".join([b"a"] * 1_000_000), headers=TEXT)
    assert response.status_code == 413
    assert (await session.get(f"/sessions/{SID}")).json().get("log_count", 0) == 0


async def test_nul_bytes_survive_the_round_trip(session: AsyncTestClient[Any]) -> None:
    await session.post(LOG, content=b"a\x00b\nc", headers=TEXT)
    entries = (await session.get(LOG)).json()["entries"]
    assert [e["message"] for e in entries] == ["a\x00b", "c"]


@hypothesis_settings(max_examples=300, deadline=None)
@given(st.binary(max_size=2000))
def test_the_line_splitter_keeps_every_non_empty_line(body: bytes) -> None:
    batch = text_batch(body, SID, "2026-01-01T00:00:00.000Z", Limits(100_000, 100_000))
    lines = [line.removesuffix(b"\r") for line in body.split(b"\n")]
    expected = [line.decode("utf-8", "replace") for line in lines if line]
    assert [row[4] for row in batch.rows] == expected
    assert batch.nbytes == sum(len(message.encode()) for message in expected)


def test_fifty_clients_doing_everything_keep_every_invariant(tmp_path: Path) -> None:
    server = ServerProcess(tmp_path / "s.db").start()
    statuses: dict[int, int] = {}

    async def worker(n: int, http: httpx.AsyncClient, deadline: float) -> None:
        sid = f"{n + 1:024x}"
        assert (await http.post(f"/sessions/{sid}", json={"appname": f"w{n}"})).status_code == 201
        step = 0
        ws_url = server.url.replace("http://", "ws://") + "/sessions/ws"
        async with connect(ws_url) as ws:
            while asyncio.get_running_loop().time() < deadline:
                step += 1
                match step % 6:
                    case 0:
                        r = await http.put(f"/sessions/{sid}", json={"metadata": {"step": step}})
                    case 1 | 2:
                        body = f"{n}-{step}-a\n{n}-{step}-b".encode()
                        r = await http.post(f"/sessions/{sid}/log", content=body, headers=TEXT)
                    case 3:
                        r = await http.get("/sessions/", params={"status": "all"})
                    case 4:
                        await ws.send(json.dumps({"type": "sub_log", "session": sid, "cursor": 0}))
                        continue
                    case _:
                        await ws.send(json.dumps({"type": "unsub_log"}))
                        r = await http.get(f"/sessions/{sid}/log", params={"cursor": 0})
                statuses[r.status_code] = statuses.get(r.status_code, 0) + 1
        assert (await http.delete(f"/sessions/{sid}")).status_code == 200

    async def run() -> None:
        limits = httpx.Limits(max_connections=60)
        async with httpx.AsyncClient(base_url=server.url, limits=limits, timeout=30) as http:
            deadline = asyncio.get_running_loop().time() + 5
            await asyncio.gather(*(worker(n, http, deadline) for n in range(50)))

    try:
        asyncio.run(run())
    finally:
        server.stop()
    assert set(statuses) == {200}
    with sqlite3.connect(server.db) as db:
        mismatched = db.execute(
            "SELECT s.id FROM sessions s LEFT JOIN (SELECT session_id, count(*) n FROM log_entries "
            "GROUP BY session_id) e ON e.session_id = s.id WHERE s.log_count != coalesce(e.n, 0)"
        ).fetchall()
        duplicates = db.execute(
            "SELECT message, count(*) FROM log_entries GROUP BY session_id, message "
            "HAVING count(*) > 1 AND message NOT LIKE 'session ended%'"
        ).fetchall()
        unfinished = db.execute(
            "SELECT id FROM sessions WHERE ended_at IS NOT NULL AND id NOT IN "
            "(SELECT session_id FROM log_entries WHERE message LIKE 'session ended (%')"
        ).fetchall()
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    assert mismatched == [] and duplicates == [] and unfinished == []
