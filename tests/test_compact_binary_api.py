"""Compact binary on the wire: request bodies in, answers out, types kept, garbage refused."""

from __future__ import annotations

import datetime
import sqlite3
import uuid
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from service.compactbinary import (
    MEDIA_TYPE,
    DateTime,
    Float32,
    Hash,
    ObjectId,
    TimeSpan,
    decode,
    encode,
)
from service.domain.timestamps import timestamp_from_ticks
from service.settings import Settings
from tests.conftest import OTHER, SID

Client = AsyncTestClient[Any]
CB = {"content-type": MEDIA_TYPE}
ACCEPT = {"accept": MEDIA_TYPE}
LOG = f"/sessions/{SID}/log"
WHEN = DateTime.from_datetime(datetime.datetime(2024, 1, 2, 3, 4, 5, 678000))
TYPED = {
    "build": ObjectId(OTHER),
    "hash": Hash(bytes(range(20))),
    "when": WHEN,
    "ratio": Float32(1.5),
    "blob": b"\x01\x02\x03",
    "guid": uuid.UUID("00010203-0405-0607-0809-0a0b0c0d0e0f"),
    "span": TimeSpan(15_000_000),
    "nested": {"list": [1, -1, "x"], "flag": True, "none": None},
}


async def post_cb(client: Client, url: str, value: Any) -> Any:
    return await client.post(url, content=encode(value), headers=CB)


async def get_cb(client: Client, url: str, **params: Any) -> Any:
    response = await client.get(url, headers=ACCEPT, params=params)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == MEDIA_TYPE
    return decode(response.content)


async def test_register_and_read_back_with_types(client: Client) -> None:
    await client.post(f"/sessions/{OTHER}", json={})
    body = {
        "appname": "editor",
        "platform": "Win64",
        "parent_session_id": ObjectId(OTHER),
        "jobid": ObjectId("ab" * 12),
        "metadata": TYPED,
    }
    response = await post_cb(client, f"/sessions/{SID}", body)
    assert response.status_code == 201 and response.text == SID
    info = await get_cb(client, f"/sessions/{SID}")
    assert info["id"] == ObjectId(SID) and isinstance(info["id"], ObjectId)
    assert info["parent_session_id"] == ObjectId(OTHER)
    assert info["jobid"] == ObjectId("ab" * 12)
    assert isinstance(info["created_at"], DateTime)
    assert info["metadata"] == TYPED
    assert {k: type(v) for k, v in info["metadata"].items()} == {
        k: type(v) for k, v in TYPED.items()
    }
    as_json = (await client.get(f"/sessions/{SID}")).json()
    assert as_json["created_at"] == timestamp_from_ticks(info["created_at"])
    assert as_json["metadata"] == {
        "build": OTHER,
        "hash": bytes(range(20)).hex(),
        "when": "2024-01-02T03:04:05.678Z",
        "ratio": 1.5,
        "blob": "AQID",
        "guid": "00010203-0405-0607-0809-0a0b0c0d0e0f",
        "span": "+00:00:01.500000000",
        "nested": {"list": [1, -1, "x"], "flag": True, "none": None},
    }


async def test_metadata_stays_queryable_in_sql(client: Client, settings: Settings) -> None:
    await post_cb(client, f"/sessions/{SID}", {"metadata": TYPED})
    with sqlite3.connect(settings.db) as db:
        build, when = db.execute(
            "SELECT json_extract(metadata, '$.build'), json_extract(metadata, '$.when') "
            "FROM sessions WHERE id = ?",
            (SID,),
        ).fetchone()
    assert (build, when) == (OTHER, "2024-01-02T03:04:05.678Z")


async def test_register_without_id_and_update_in_compact_binary(client: Client) -> None:
    response = await post_cb(client, "/sessions/", {"appname": "tool"})
    assert response.status_code == 201
    new_id = response.text
    update = await client.put(
        f"/sessions/{new_id}", content=encode({"metadata": {"h": Hash(b"\x07" * 20)}}), headers=CB
    )
    assert update.status_code == 200
    assert (await get_cb(client, f"/sessions/{new_id}"))["metadata"] == {"h": Hash(b"\x07" * 20)}


async def test_log_records_in_compact_binary(client: Client) -> None:
    await client.post(f"/sessions/{SID}", json={})
    one = await post_cb(client, LOG, {"level": 4, "message": "boom", "timestamp": WHEN})
    assert one.status_code == 200 and one.json()["count"] == 1
    batch = {
        "entries": [
            {"level": "Display", "logger": "LogInit", "message": "hello"},
            {
                "level": "warning",
                "format": "Built {Target} for {Build} in {T}s at {When}",
                "fields": {
                    "Target": "Game",
                    "Build": ObjectId(OTHER),
                    "T": Float32(0.5),
                    "When": WHEN,
                },
            },
        ]
    }
    assert (await post_cb(client, LOG, batch)).json()["count"] == 2
    page = await get_cb(client, LOG, cursor=0)
    assert page["count"] == page["total"] == 3 and page["more"] is False
    first, second, third = page["entries"]
    assert first["timestamp"] == WHEN and first["level"] == "error" and first["message"] == "boom"
    assert isinstance(first["cursor"], int)
    assert second["level"] == "info" and second["logger"] == "LogInit"
    assert third["message"] == f"Built Game for {OTHER} in 0.5s at 2024-01-02T03:04:05.678Z"
    assert third["fields"] == batch["entries"][1]["fields"]
    assert isinstance(third["fields"]["T"], Float32)
    json_page = (await client.get(LOG, params={"cursor": 0})).json()
    assert [e["message"] for e in json_page["entries"]] == [e["message"] for e in page["entries"]]
    assert json_page["entries"][2]["fields"] == {
        "Target": "Game",
        "Build": OTHER,
        "T": 0.5,
        "When": "2024-01-02T03:04:05.678Z",
    }


async def test_every_json_answer_comes_as_compact_binary(client: Client) -> None:
    await client.post(f"/sessions/{SID}", json={})
    listing = await get_cb(client, "/sessions/", status="all")
    assert isinstance(listing["self_id"], ObjectId)
    assert ObjectId(SID) in [s["id"] for s in listing["sessions"]]
    appended = await client.post(
        LOG, content=b"x", headers={"content-type": "text/plain", **ACCEPT}
    )
    assert decode(appended.content)["count"] == 1
    assert (await get_cb(client, "/status/sessions")) == {"ok": True}
    stats = await get_cb(client, "/stats/sessions")
    assert stats["sessions"]["writecount"] >= 2
    offset_page = await get_cb(client, LOG, offset=0)
    assert offset_page["total"] == 1


@pytest.mark.parametrize(
    "raw",
    [
        b"\xff",
        b"\x02",
        b"\x02\x05\x88\x01a",
        b"\x02\x00\x00",
        b"\x03\x7f" + b"\x88" * 10,
        encode({"entries": [{"message": "ok"}]})[:-1],
        b"\x05\xff\xff\xff\xff\xff\xff\xff\xff\xff",
        b"not compact binary at all",
    ],
)
async def test_garbage_bodies_are_400_and_store_nothing(client: Client, raw: bytes) -> None:
    await client.post(f"/sessions/{SID}", json={})
    response = await client.post(LOG, content=raw, headers=CB)
    assert response.status_code == 400
    assert "compact binary" in response.json()["detail"]
    assert (await client.post(f"/sessions/{OTHER}", content=raw, headers=CB)).status_code == 400
    assert (await client.get(f"/sessions/{OTHER}")).status_code == 404
    assert (await client.get(LOG)).json()["entries"] == []


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ({"entries": [{"message": "ok"}, {"message": ObjectId(OTHER)}]}, "entry 1: 'message'"),
        ({"entries": [{"message": "ok", "timestamp": 5}]}, "entry 0: 'timestamp'"),
        ({"entries": [{"message": "ok", "level": Float32(2.0)}]}, "entry 0: 'level'"),
        ({"entries": [{"format": "x", "fields": [1]}]}, "entry 0: 'fields'"),
        ({"entries": {"message": "x"}}, "'entries'"),
        ([{"message": "x"}], "Expected `object`"),
    ],
)
async def test_wrongly_typed_compact_records_are_400(
    client: Client, body: Any, needle: str
) -> None:
    await client.post(f"/sessions/{SID}", json={})
    response = await post_cb(client, LOG, body)
    assert response.status_code == 400
    assert needle in response.json()["detail"]
    assert (await client.get(LOG)).json()["entries"] == []


async def test_a_datetime_out_of_range_is_400(client: Client) -> None:
    await client.post(f"/sessions/{SID}", json={})
    response = await post_cb(client, LOG, {"message": "x", "timestamp": DateTime(2**63 - 1)})
    assert response.status_code == 400 and "timestamp" in response.json()["detail"]


async def test_errors_come_in_the_format_asked_for(client: Client) -> None:
    missing = await client.get(f"/sessions/{SID}", headers=ACCEPT)
    assert missing.status_code == 404
    assert decode(missing.content) == {"status_code": 404, "detail": f"Session '{SID}' not found"}
    no_route = await client.get("/nowhere", headers=ACCEPT)
    assert no_route.status_code == 404 and decode(no_route.content)["status_code"] == 404
