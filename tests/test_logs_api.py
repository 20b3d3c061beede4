"""Log routes: appending batches in every format, reading by cursor and offset."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from service.settings import Settings
from tests.conftest import OTHER, SID

Client = AsyncTestClient[Any]
TEXT = {"content-type": "text/plain"}
LOG = f"/sessions/{SID}/log"


@pytest.fixture
async def session(client: Client) -> Client:
    assert (await client.post(f"/sessions/{SID}", json={})).status_code == 201
    return client


async def entries(client: Client, sid: str = SID) -> list[dict[str, Any]]:
    body = (await client.get(f"/sessions/{sid}/log", params={"limit": "10000"})).json()
    return body["entries"]  # type: ignore[no-any-return]


async def messages(client: Client) -> list[str]:
    return [entry.get("message", "") for entry in await entries(client)]


async def test_text_lines(session: Client) -> None:
    body = b"one\r\ntwo\n\n\r\nthree\n  \nbad \xff\xfe utf8"
    response = await session.post(LOG, content=body, headers=TEXT)
    assert response.status_code == 200
    assert response.json()["count"] == 5
    assert await messages(session) == ["one", "two", "three", "  ", "bad \ufffd\ufffd utf8"]
    first = (await entries(session))[0]
    assert set(first) == {"cursor", "timestamp", "message"}  # no level, logger, format


async def test_text_charset_parameter_is_accepted(session: Client) -> None:
    headers = {"content-type": "text/plain; charset=utf-8"}
    assert (await session.post(LOG, content="é".encode(), headers=headers)).status_code == 200
    assert await messages(session) == ["é"]


async def test_one_json_record(session: Client) -> None:
    record = {
        "level": "Warning",
        "logger": "LogCook",
        "message": "hot",
        "timestamp": "2026-01-02T03:04:05.6789+01:00",
    }
    response = await session.post(LOG, json=record)
    assert response.status_code == 200
    (entry,) = await entries(session)
    assert entry == {
        "cursor": response.json()["cursor"],
        "timestamp": "2026-01-02T02:04:05.678Z",
        "level": "warn",
        "logger": "LogCook",
        "message": "hot",
    }


async def test_batch_cursor_and_count(session: Client) -> None:
    batch = {"entries": [{"message": f"m{i}"} for i in range(5)]}
    answer = (await session.post(LOG, json=batch)).json()
    assert answer["count"] == 5
    cursors = [e["cursor"] for e in await entries(session)]
    assert cursors == sorted(cursors) and cursors[-1] == answer["cursor"]
    assert len(set(cursors)) == 5


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        ("trace", "trace"),
        ("DEBUG", "debug"),
        ("Info", "info"),
        ("warning", "warn"),
        ("err", "error"),
        ("fatal", "critical"),
        ("display", "info"),
        ("log", "debug"),
        ("verbose", "trace"),
        ("VeryVerbose", "trace"),
        ("Audit", "audit"),
        (0, "trace"),
        (1, "debug"),
        (2, "info"),
        (3, "warn"),
        (4, "error"),
        (5, "critical"),
        (6, None),
        ("off", None),
    ],
)
async def test_levels(session: Client, given: Any, stored: str | None) -> None:
    assert (await session.post(LOG, json={"level": given, "message": "x"})).status_code == 200
    (entry,) = await entries(session)
    assert entry.get("level") == stored


async def test_template_rendered_and_kept(session: Client) -> None:
    record = {
        "format": "Cooked {Count} of {Asset.Name} in {Seconds}s {{done}} {Missing}",
        "fields": {"Count": 3, "Asset": {"Name": "Hero"}, "Seconds": 1.5},
    }
    await session.post(LOG, json=record)
    (entry,) = await entries(session)
    assert entry["message"] == "Cooked 3 of Hero in 1.5s {done} "
    assert entry["format"] == record["format"]
    assert entry["fields"] == record["fields"]


async def test_given_message_wins_over_template(session: Client) -> None:
    await session.post(LOG, json={"message": "mine", "format": "{A}", "fields": {"A": 1}})
    assert await messages(session) == ["mine"]


async def test_malformed_template_does_not_fail(session: Client) -> None:
    response = await session.post(LOG, json={"format": "{ {a} {b", "fields": {"a": 1}})
    assert response.status_code == 200
    assert await messages(session) == ["{ 1 {b"]


@pytest.mark.parametrize(
    ("body", "index", "field"),
    [
        ({"entries": [{"message": "ok"}, {"message": 5}]}, 1, "message"),
        ({"entries": [{"message": "ok"}, {"logger": []}]}, 1, "logger"),
        ({"entries": [{"format": 1}]}, 0, "format"),
        ({"entries": [{"format": "x", "fields": [1]}]}, 0, "fields"),
        (
            {"entries": [{"message": "a"}, {"message": "b"}, {"message": "c", "level": 1.5}]},
            2,
            "level",
        ),
        ({"entries": [{"message": "a", "level": True}]}, 0, "level"),
        ({"entries": [{"message": "a", "level": 7}]}, 0, "level"),
        ({"entries": [{"message": "a", "level": -1}]}, 0, "level"),
        ({"entries": [{"message": "a", "timestamp": "yesterday"}]}, 0, "timestamp"),
        ({"entries": [{"message": "a", "timestamp": 1234}]}, 0, "timestamp"),
        ({"entries": [{"message": "a"}, "text"]}, 1, None),
        ({"entries": [{"message": "a"}, {}]}, 1, None),
        ({"message": 1}, 0, "message"),
    ],
)
async def test_wrongly_typed_record_rejects_whole_batch(
    session: Client, body: Any, index: int, field: str | None
) -> None:
    response = await session.post(LOG, json=body)
    assert response.status_code == 400
    detail = response.json()["detail"]
    assert f"entry {index}" in detail
    if field:
        assert f"'{field}'" in detail
    assert await entries(session) == []
    assert (await session.get(f"/sessions/{SID}")).json().get("log_count", 0) == 0


@pytest.mark.parametrize(
    "raw",
    [
        b"{",
        b"[]",
        b'"text"',
        b"1",
        b'{"entries": 5}',
        b'{"entries": {"message": "x"}}',
        b"\xff\xfe",
    ],
)
async def test_malformed_bodies_are_400(session: Client, raw: bytes) -> None:
    response = await session.post(LOG, content=raw, headers={"content-type": "application/json"})
    assert response.status_code == 400
    assert response.json()["detail"]
    assert await entries(session) == []


async def test_content_types(session: Client) -> None:
    xml = await session.post(LOG, content=b"<a/>", headers={"content-type": "application/xml"})
    assert xml.status_code == 415
    assert "text/plain" in xml.json()["detail"]
    none = await session.post(LOG, content=b"line")
    assert none.status_code == 415
    assert await entries(session) == []


async def test_unknown_session_is_404_and_ended_accepts(session: Client) -> None:
    response = await session.post(f"/sessions/{OTHER}/log", content=b"x", headers=TEXT)
    assert response.status_code == 404
    await session.delete(f"/sessions/{SID}")
    assert (await session.post(LOG, content=b"late", headers=TEXT)).status_code == 200
    assert await messages(session) == ["session ended (client request)", "late"]
    assert (await session.get(f"/sessions/{OTHER}/log")).status_code == 404


async def test_idempotency_key_makes_retry_a_noop(session: Client) -> None:
    key = {"idempotency-key": "batch-1", **TEXT}
    first = await session.post(LOG, content=b"a\nb", headers=key)
    second = await session.post(LOG, content=b"a\nb", headers=key)
    assert second.status_code == 200 and second.json() == first.json()
    assert await messages(session) == ["a", "b"]
    other = await session.post(LOG, content=b"c", headers={"idempotency-key": "batch-2", **TEXT})
    assert other.json()["cursor"] > first.json()["cursor"]
    assert await messages(session) == ["a", "b", "c"]


async def test_idempotency_key_is_scoped_to_the_session(session: Client) -> None:
    await session.post(f"/sessions/{OTHER}", json={})
    key = {"idempotency-key": "same", **TEXT}
    await session.post(LOG, content=b"a", headers=key)
    await session.post(f"/sessions/{OTHER}/log", content=b"b", headers=key)
    assert [e["message"] for e in await entries(session, OTHER)] == ["b"]


async def test_concurrent_retries_with_one_key_store_once(session: Client) -> None:
    key = {"idempotency-key": "race", **TEXT}
    answers = await asyncio.gather(
        *(session.post(LOG, content=b"x", headers=key) for _ in range(10))
    )
    assert len({a.text for a in answers}) == 1
    assert await messages(session) == ["x"]


async def test_idempotency_key_expires(settings: Settings) -> None:
    now = [1_000_000.0]
    from service.app import create_app

    async with AsyncTestClient(create_app(settings, clock=lambda: now[0])) as client:
        await client.post(f"/sessions/{SID}", json={})
        key = {"idempotency-key": "k", **TEXT}
        await client.post(LOG, content=b"a", headers=key)
        now[0] += 25 * 3600
        await client.post(LOG, content=b"a", headers=key)
        assert await messages(client) == ["a", "a"]


async def test_over_long_entry_is_truncated_visibly(tmp_path: Any) -> None:
    from service.app import create_app

    settings = Settings(db=str(tmp_path / "s.db"), max_entry_bytes=100)
    async with AsyncTestClient(create_app(settings)) as client:
        await client.post(f"/sessions/{SID}", json={})
        long = "é" * 80  # 160 bytes
        await client.post(LOG, json={"entries": [{"message": long}, {"message": "short"}]})
        cut, short = await messages(client)
        assert short == "short"
        assert cut.startswith("é" * 50)
        assert cut.endswith(" …[truncated 60 bytes]")
        stats = (await client.get("/stats/sessions")).json()
        assert stats["store"]["entries_truncated"] == 1


async def test_body_and_batch_limits_are_413(tmp_path: Any) -> None:
    from service.app import create_app

    settings = Settings(db=str(tmp_path / "s.db"), max_body_bytes=1000, max_batch_entries=3)
    async with AsyncTestClient(create_app(settings)) as client:
        await client.post(f"/sessions/{SID}", json={})
        big = await client.post(LOG, content=b"x" * 2000, headers=TEXT)
        assert big.status_code == 413
        lines = await client.post(LOG, content=b"a\nb\nc\nd", headers=TEXT)
        assert lines.status_code == 413 and "limit is 3" in lines.json()["detail"]
        records = await client.post(LOG, json={"entries": [{"message": "m"}] * 4})
        assert records.status_code == 413
        assert await messages(client) == []


async def test_empty_text_body_appends_nothing(session: Client) -> None:
    response = await session.post(LOG, content=b"\n\n", headers=TEXT)
    assert response.json() == {"cursor": 0, "count": 0}


async def test_read_by_cursor_pages(session: Client) -> None:
    await session.post(LOG, content="\n".join(f"l{i}" for i in range(25)).encode(), headers=TEXT)
    cursor, seen = 0, []
    while True:
        page = (await session.get(LOG, params={"cursor": cursor, "limit": 10})).json()
        assert page["total"] == 25
        assert page["count"] == len(page["entries"])
        seen += [e["message"] for e in page["entries"]]
        cursor = page["cursor"]
        if not page["more"]:
            break
        assert page["count"] == 10
    assert seen == [f"l{i}" for i in range(25)]
    end = (await session.get(LOG, params={"cursor": cursor})).json()
    assert end == {"cursor": cursor, "count": 0, "total": 25, "more": False, "entries": []}


async def test_read_by_offset(session: Client) -> None:
    await session.post(LOG, content=b"a\nb\nc\nd", headers=TEXT)
    page = (await session.get(LOG, params={"offset": 1, "limit": 2})).json()
    assert page["total"] == 4
    assert [e["message"] for e in page["entries"]] == ["b", "c"]
    default = (await session.get(LOG)).json()
    assert [e["message"] for e in default["entries"]] == ["a", "b", "c", "d"]


async def test_limits_default_and_cap(tmp_path: Any) -> None:
    from service.app import create_app

    settings = Settings(db=str(tmp_path / "s.db"), default_page=3, max_page=5)
    async with AsyncTestClient(create_app(settings)) as client:
        await client.post(f"/sessions/{SID}", json={})
        await client.post(LOG, content="\n".join("x" * 10).encode(), headers=TEXT)
        assert len((await client.get(LOG)).json()["entries"]) == 3
        assert len((await client.get(LOG, params={"limit": 0})).json()["entries"]) == 3
        capped = (await client.get(LOG, params={"cursor": 0, "limit": 1000})).json()
        assert capped["count"] == 5 and capped["more"] is True


@pytest.mark.parametrize("name", ["cursor", "offset", "limit"])
@pytest.mark.parametrize("value", ["", "-1", "abc", "1.5", str(2**63), "9" * 30, " 1"])
async def test_bad_numbers_are_400(session: Client, name: str, value: str) -> None:
    response = await session.get(LOG, params={name: value})
    assert response.status_code == 400
    assert response.json()["detail"] == f"Invalid '{name}' parameter"


async def test_cursor_and_offset_together_are_400(session: Client) -> None:
    assert (await session.get(LOG, params={"cursor": 0, "offset": 0})).status_code == 400
