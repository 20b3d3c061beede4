"""Cursor guarantees and persistence: increasing, never reused, exactly once while paging."""

from __future__ import annotations

import asyncio
import sqlite3
from typing import Any

from litestar.testing import AsyncTestClient

from service.app import create_app
from service.settings import Settings
from tests.conftest import OTHER, SID

TEXT = {"content-type": "text/plain"}
LOG = f"/sessions/{SID}/log"


async def test_cursors_increase_across_sessions(client: AsyncTestClient[Any]) -> None:
    for sid in (SID, OTHER):
        await client.post(f"/sessions/{sid}", json={})
    answers = []
    for i in range(10):
        sid = (SID, OTHER)[i % 2]
        response = await client.post(f"/sessions/{sid}/log", content=b"a\nb", headers=TEXT)
        answers.append(response.json()["cursor"])
    assert answers == sorted(answers) and len(set(answers)) == 10


async def test_cursors_are_not_reused_after_delete_and_restart(settings: Settings) -> None:
    async with AsyncTestClient(create_app(settings)) as client:
        await client.post(f"/sessions/{SID}", json={})
        last = (await client.post(LOG, content=b"a\nb\nc", headers=TEXT)).json()["cursor"]
    with sqlite3.connect(settings.db) as db:  # delete the newest entries behind the server's back
        db.execute("DELETE FROM log_entries WHERE cursor >= ?", (last - 1,))
    async with AsyncTestClient(create_app(settings)) as client:
        again = (await client.post(LOG, content=b"d", headers=TEXT)).json()["cursor"]
    assert again > last


async def test_everything_persists_across_restart(settings: Settings) -> None:
    async with AsyncTestClient(create_app(settings)) as client:
        await client.post(f"/sessions/{SID}", json={"appname": "cook", "metadata": {"k": "v"}})
        await client.post(LOG, json={"entries": [{"message": "one", "level": "info"}]})
        first_self = (await client.get("/sessions/")).json()["self_id"]
    async with AsyncTestClient(create_app(settings)) as client:
        info = (await client.get(f"/sessions/{SID}")).json()
        assert info["appname"] == "cook" and info["metadata"] == {"k": "v"}
        assert info["log_count"] == 1
        assert [e["message"] for e in (await client.get(LOG)).json()["entries"]] == ["one"]
        old_self = (await client.get(f"/sessions/{first_self}")).json()
        assert old_self["status"] == "ended" and old_self["end_reason"] == "server shutdown"
        assert (await client.get("/sessions/")).json()["self_id"] != first_self
        own_log = (await client.get(f"/sessions/{first_self}/log")).json()["entries"]
        assert any("serving" in e["message"] for e in own_log)
        assert own_log[-1]["message"] == "session ended (server shutdown)"


async def test_paging_while_writers_post_sees_every_entry_once(
    client: AsyncTestClient[Any],
) -> None:
    await client.post(f"/sessions/{SID}", json={})
    writers, batches, lines = 4, 25, 20

    async def writer(w: int) -> None:
        for b in range(batches):
            body = "\n".join(f"{w}-{b}-{i}" for i in range(lines)).encode()
            assert (await client.post(LOG, content=body, headers=TEXT)).status_code == 200

    seen: list[tuple[int, str]] = []
    done = asyncio.Event()

    async def pager() -> None:
        cursor = 0
        while True:
            finished = done.is_set()
            page = (await client.get(LOG, params={"cursor": cursor, "limit": 37})).json()
            seen.extend((e["cursor"], e["message"]) for e in page["entries"])
            cursor = page["cursor"]
            if finished and not page["more"]:
                return
            await asyncio.sleep(0)

    reading = asyncio.create_task(pager())
    await asyncio.gather(*(writer(w) for w in range(writers)))
    done.set()
    await reading
    cursors = [c for c, _ in seen]
    assert cursors == sorted(set(cursors))  # strictly increasing: no duplicate, in order
    expected = {
        f"{w}-{b}-{i}" for w in range(writers) for b in range(batches) for i in range(lines)
    }
    assert {m for _, m in seen} == expected and len(seen) == len(expected)
    # Each batch is atomic: its lines have consecutive positions in the session's log.
    position = {m: n for n, (_, m) in enumerate(seen)}
    for w in range(writers):
        for b in range(batches):
            spots = [position[f"{w}-{b}-{i}"] for i in range(lines)]
            assert spots == list(range(spots[0], spots[0] + lines))


async def test_counters_match_rows(client: AsyncTestClient[Any], settings: Settings) -> None:
    await client.post(f"/sessions/{SID}", json={})
    await asyncio.gather(*(client.post(LOG, content=b"ab\ncd", headers=TEXT) for _ in range(20)))
    await client.post(LOG, json={"message": "ü"})
    with sqlite3.connect(settings.db) as db:
        count, nbytes = db.execute(
            "SELECT log_count, log_bytes FROM sessions WHERE id = ?", (SID,)
        ).fetchone()
        rows, text_bytes = db.execute(
            "SELECT count(*), sum(length(CAST(message AS BLOB))) FROM log_entries "
            "WHERE session_id = ?",
            (SID,),
        ).fetchone()
    assert (count, nbytes) == (rows, text_bytes) == (41, 82)
