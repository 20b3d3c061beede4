"""WebSocket /sessions/ws against a real server: the session list and the exactly-once log tail."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import InvalidStatus

from service.compactbinary import DateTime, decode
from service.domain.timestamps import timestamp_from_ticks
from tests.conftest import OTHER, SID, ServerProcess

TEXT = {"content-type": "text/plain"}
WAIT = 30.0  # seconds any single expected frame may take on a slow, shared machine


def ws_url(server: ServerProcess) -> str:
    return server.url.replace("http://", "ws://") + "/sessions/ws"


@pytest.fixture
async def http(live: ServerProcess) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=live.url) as client:
        yield client


async def next_of(ws: ClientConnection, kind: str) -> Any:
    """The next frame of a type (compact-binary frames are log frames), skipping others."""
    while True:
        raw = await asyncio.wait_for(ws.recv(), WAIT)
        frame = decode(raw) if isinstance(raw, bytes) else json.loads(raw)
        if frame["type"] == kind:
            return frame


async def no_frame_of(ws: ClientConnection, kind: str, seconds: float = 0.5) -> None:
    """No frame of that type arrives within the time."""
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(next_of(ws, kind), seconds)


async def post_lines(http: httpx.AsyncClient, sid: str, lines: list[str]) -> int:
    response = await http.post(
        f"/sessions/{sid}/log", content="\n".join(lines).encode(), headers=TEXT
    )
    assert response.status_code == 200
    return int(response.json()["cursor"])


async def subscribe(
    ws: ClientConnection, sid: str, cursor: int = 0, encoding: str = "json"
) -> None:
    await ws.send(
        json.dumps({"type": "sub_log", "session": sid, "cursor": cursor, "encoding": encoding})
    )


async def collect(ws: ClientConnection, until: int) -> list[tuple[int, str]]:
    """(cursor, message) of every entry received until the given cursor."""
    seen: list[tuple[int, str]] = []
    while not seen or seen[-1][0] < until:
        frame = await next_of(ws, "log")
        assert frame["count"] == len(frame["entries"])
        seen += [(e["cursor"], e["message"]) for e in frame["entries"]]
        if frame["entries"]:
            assert frame["cursor"] == frame["entries"][-1]["cursor"]
    return seen


async def test_session_list_on_connect_and_on_change(
    live: ServerProcess, http: httpx.AsyncClient
) -> None:
    async def ours_once(ws: ClientConnection, condition: Callable[[Any], bool]) -> Any:
        # The server's own session logs too, so a list frame may come for its change first.
        for _ in range(20):
            frame = await next_of(ws, "sessions")
            mine = [s for s in frame["sessions"] if s["id"] == SID]
            if mine and condition(mine[0]):
                return mine[0]
        raise AssertionError("the change never showed in the session list")

    async with connect(ws_url(live)) as ws:
        first = await next_of(ws, "sessions")
        assert [s["appname"] for s in first["sessions"]] == ["sessions-server"]
        assert first["self_id"] == first["sessions"][0]["id"]
        await http.post(f"/sessions/{SID}", json={"appname": "cook"})
        registered = await ours_once(ws, lambda s: True)
        assert registered["appname"] == "cook" and registered["status"] == "active"
        await http.put(f"/sessions/{SID}", json={"metadata": {"step": 2}})
        await ours_once(ws, lambda s: s["metadata"] == {"step": 2})
        await http.delete(f"/sessions/{SID}")
        ended = await ours_once(ws, lambda s: s["status"] == "ended")
        assert ended == (await http.get(f"/sessions/{SID}")).json()  # as the API shows it


async def test_first_frame_comes_at_once_even_empty(
    live: ServerProcess, http: httpx.AsyncClient
) -> None:
    await http.post(f"/sessions/{SID}", json={})
    async with connect(ws_url(live)) as ws:
        await subscribe(ws, SID)
        frame = await next_of(ws, "log")
        assert frame == {"type": "log", "session": SID, "cursor": 0, "count": 0, "entries": []}
        last = await post_lines(http, SID, ["live one", "live two"])
        assert [m for _, m in await collect(ws, last)] == ["live one", "live two"]


async def test_backlog_from_a_middle_cursor(live: ServerProcess, http: httpx.AsyncClient) -> None:
    await http.post(f"/sessions/{SID}", json={})
    for i in range(5):
        await post_lines(http, SID, [f"line {i}"])
    page = (await http.get(f"/sessions/{SID}/log", params={"cursor": 0})).json()
    middle = page["entries"][1]["cursor"]
    async with connect(ws_url(live)) as ws:
        await subscribe(ws, SID, middle)
        seen = await collect(ws, page["cursor"])
    assert [m for _, m in seen] == ["line 2", "line 3", "line 4"]


async def test_both_encodings_carry_the_same_frames(
    live: ServerProcess, http: httpx.AsyncClient
) -> None:
    await http.post(f"/sessions/{SID}", json={})
    record = {"level": "warn", "logger": "LogCook", "format": "cooked {N}", "fields": {"N": 3}}
    await http.post(f"/sessions/{SID}/log", json={"entries": [record, {"message": "plain"}]})
    async with connect(ws_url(live)) as as_json, connect(ws_url(live)) as as_cb:
        await subscribe(as_json, SID, 0, "json")
        await subscribe(as_cb, SID, 0, "cb")
        text = await asyncio.wait_for(_first_log_raw(as_json), WAIT)
        binary = await asyncio.wait_for(_first_log_raw(as_cb), WAIT)
    assert isinstance(text, str) and isinstance(binary, bytes)
    from_json, from_cb = json.loads(text), decode(binary)
    assert from_cb["session"] == SID  # a String, as Zen sends it
    for entry in from_cb["entries"]:
        assert isinstance(entry["timestamp"], DateTime)
        entry["timestamp"] = timestamp_from_ticks(entry["timestamp"])
    assert from_cb == from_json
    assert from_json["entries"][0]["message"] == "cooked 3"


async def _first_log_raw(ws: ClientConnection) -> str | bytes:
    while True:
        raw = await ws.recv()
        if isinstance(raw, bytes) or json.loads(raw)["type"] == "log":
            return raw


async def test_unsub_stops_and_a_second_sub_switches(
    live: ServerProcess, http: httpx.AsyncClient
) -> None:
    for sid in (SID, OTHER):
        await http.post(f"/sessions/{sid}", json={})
    async with connect(ws_url(live)) as ws:
        await subscribe(ws, SID)
        await next_of(ws, "log")
        await ws.send(json.dumps({"type": "unsub_log"}))
        await asyncio.sleep(0.2)
        await post_lines(http, SID, ["unheard"])
        await no_frame_of(ws, "log")
        await subscribe(ws, SID)
        assert [e["message"] for e in (await next_of(ws, "log"))["entries"]] == ["unheard"]
        await subscribe(ws, OTHER)
        assert (await next_of(ws, "log"))["session"] == OTHER
        await post_lines(http, SID, ["old session"])
        last = await post_lines(http, OTHER, ["new session"])
        frame = await next_of(ws, "log")
        assert frame["session"] == OTHER and frame["cursor"] == last


async def test_malformed_frames_get_errors_and_the_connection_stays(
    live: ServerProcess, http: httpx.AsyncClient
) -> None:
    await http.post(f"/sessions/{SID}", json={})
    async with connect(ws_url(live)) as ws:
        await ws.send("not json")
        assert "not JSON" in (await next_of(ws, "error"))["detail"]
        await ws.send("[1, 2]")
        assert "object" in (await next_of(ws, "error"))["detail"]
        await ws.send(b"\x01\x02")
        assert "binary" in (await next_of(ws, "error"))["detail"]
        await subscribe(ws, "nope")
        assert "Invalid session id" in (await next_of(ws, "error"))["detail"]
        await ws.send(json.dumps({"type": "sub_log", "session": SID, "cursor": -1}))
        assert "cursor" in (await next_of(ws, "error"))["detail"]
        await ws.send(json.dumps({"type": "sub_log", "session": SID, "encoding": "xml"}))
        assert "encoding" in (await next_of(ws, "error"))["detail"]
        await ws.send(json.dumps({"type": "hello_from_the_future"}))
        await no_frame_of(ws, "error", 0.3)
        await subscribe(ws, SID)
        assert (await next_of(ws, "log"))["session"] == SID


async def test_cross_origin_connection_is_refused(live: ServerProcess) -> None:
    with pytest.raises(InvalidStatus):
        async with connect(ws_url(live), origin="http://evil.example"):  # type: ignore[arg-type]
            pass
    async with connect(ws_url(live), origin=live.url) as ws:  # type: ignore[arg-type]
        await next_of(ws, "sessions")


async def test_connection_limit(tmp_path: Path) -> None:
    server = ServerProcess(tmp_path / "s.db", "--ws-max-connections", "2").start()
    try:
        async with connect(ws_url(server)) as one, connect(ws_url(server)) as two:
            await next_of(one, "sessions")
            await next_of(two, "sessions")
            with pytest.raises(InvalidStatus):
                async with connect(ws_url(server)):
                    pass
        async with connect(ws_url(server)) as again:  # room again once they closed
            await next_of(again, "sessions")
    finally:
        server.stop()


def test_a_client_that_stops_answering_pings_is_dropped(tmp_path: Path) -> None:
    server = ServerProcess(tmp_path / "s.db", "--ws-ping-seconds", "0.3").start()
    try:
        with socket.create_connection(("127.0.0.1", server.port), timeout=WAIT) as raw:
            raw.sendall(
                b"GET /sessions/ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
                b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                b"Sec-WebSocket-Version: 13\r\n\r\n"
            )
            received = b""
            while True:  # read (and never answer) until the server hangs up
                chunk = raw.recv(65536)
                if not chunk:
                    break
                received += chunk
        assert received.startswith(b"HTTP/1.1 101")
    finally:
        server.stop()


async def test_every_entry_exactly_once_with_concurrent_writers_and_a_slow_reader(
    live: ServerProcess, http: httpx.AsyncClient
) -> None:
    await http.post(f"/sessions/{SID}", json={})
    writers, per_writer, batch = 3, 2000, 50

    async def writer(w: int) -> None:
        for b in range(per_writer // batch):
            await post_lines(http, SID, [f"{w}-{b}-{i}" for i in range(batch)])

    async def subscriber(slow: bool, ready: asyncio.Event) -> list[int]:
        # Until as many entries as were written: a frame may well beat the POST's answer here.
        cursors: list[int] = []
        async with connect(ws_url(live)) as ws:
            await subscribe(ws, SID)
            ready.set()
            while len(cursors) < writers * per_writer:
                frame = await next_of(ws, "log")
                cursors += [e["cursor"] for e in frame["entries"]]
                if slow:
                    await asyncio.sleep(0.05)
        return cursors

    readies = [asyncio.Event() for _ in range(4)]
    subscribers = [asyncio.create_task(subscriber(i == 0, readies[i])) for i in range(4)]
    await asyncio.gather(*(r.wait() for r in readies))
    await asyncio.gather(*(writer(w) for w in range(writers)))
    received = await asyncio.wait_for(asyncio.gather(*subscribers), 120)
    stored: list[int] = []
    cursor, more = 0, True
    while more:
        page = (await http.get(f"/sessions/{SID}/log", params={"cursor": cursor})).json()
        stored += [e["cursor"] for e in page["entries"]]
        cursor, more = page["cursor"], page["more"]
    assert len(stored) == writers * per_writer
    for cursors in received:
        assert cursors == stored  # every entry, once, in order


async def test_reconnect_resumes_without_gap_or_duplicate_across_restart(
    live: ServerProcess, http: httpx.AsyncClient
) -> None:
    await http.post(f"/sessions/{SID}", json={})
    first = await post_lines(http, SID, ["a", "b", "c"])
    async with connect(ws_url(live)) as ws:
        await subscribe(ws, SID)
        seen = await collect(ws, first)
    second = await post_lines(http, SID, ["d", "e"])
    async with connect(ws_url(live)) as ws:
        await subscribe(ws, SID, seen[-1][0])
        seen += await collect(ws, second)
    live.stop()
    live.start()
    async with httpx.AsyncClient(base_url=live.url) as again:
        third = await post_lines(again, SID, ["f"])
    async with connect(ws_url(live)) as ws:
        await subscribe(ws, SID, seen[-1][0])
        seen += await collect(ws, third)
    assert [m for _, m in seen] == ["a", "b", "c", "d", "e", "f"]
    assert [c for c, _ in seen] == sorted({c for c, _ in seen})


async def test_subscribers_at_one_cursor_share_reads(
    live: ServerProcess, http: httpx.AsyncClient
) -> None:
    await http.post(f"/sessions/{SID}", json={})
    sockets = [await connect(ws_url(live)) for _ in range(20)]
    try:
        for ws in sockets:
            await subscribe(ws, SID)
            await next_of(ws, "log")
        last = await post_lines(http, SID, ["shared"])
        for ws in sockets:
            assert (await collect(ws, last))[-1][1] == "shared"
    finally:
        for ws in sockets:
            await ws.close()
    metrics = (await http.get("/stats/sessions")).json()["push"]
    assert metrics["subscriber_reads"] < 20 * 2  # shared: far fewer reads than subscribers x frames


async def test_a_subscriber_that_never_reads_costs_bounded_memory(
    live: ServerProcess, http: httpx.AsyncClient
) -> None:
    await http.post(f"/sessions/{SID}", json={})
    assert live.process is not None
    server = psutil.Process(live.process.pid)
    async with connect(ws_url(live), max_queue=1) as stalled:
        await subscribe(stalled, SID)
        await post_lines(http, SID, ["warm-up"] * 1000)
        before = server.memory_info().rss
        line = "x" * 100
        for _ in range(100):
            await post_lines(http, SID, [line] * 1000)
        after = server.memory_info().rss
        growth = (after - before) / 2**20
        print(
            f"\nserver RSS {before / 2**20:.1f} MiB -> {after / 2**20:.1f} MiB (+{growth:.1f} MiB) "
            "writing 100,000 entries with a stalled subscriber"
        )
        assert growth < 64  # 100,000 entries of ~150 bytes queued would be far more with copies
        # The stalled subscriber still gets everything once it reads.
        assert (await http.get(f"/sessions/{SID}")).json()["log_count"] == 101_000
