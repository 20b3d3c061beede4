"""Session routes: register, update, read, list, end; ids, trust and origins."""

from __future__ import annotations

import os
from typing import Any

from litestar.testing import AsyncTestClient

from tests.conftest import OTHER, SID

JSON = {"content-type": "application/json"}
Client = AsyncTestClient[Any]


async def register(client: Client, sid: str = SID, **body: Any) -> Any:
    return await client.post(f"/sessions/{sid}", json=body)


async def test_register_new_then_existing(client: Client) -> None:
    created = await register(client, appname="cook", mode="commandlet", platform="Win64")
    assert created.status_code == 201
    assert created.text == SID
    assert created.headers["content-type"].startswith("text/plain")
    again = await register(client, appname="ignored")
    assert again.status_code == 200
    info = (await client.get(f"/sessions/{SID}")).json()
    assert info["appname"] == "cook"  # only metadata changes on an existing session
    assert info["mode"] == "commandlet"
    assert info["platform"] == "Win64"
    assert info["status"] == "active"
    assert info["updated_at"] >= info["created_at"]
    assert "metadata" not in info and "ended_at" not in info and "pid" not in info


async def test_register_existing_replaces_metadata_only_when_given(client: Client) -> None:
    await register(client, metadata={"a": 1, "b": 2})
    await register(client, appname="x")
    assert (await client.get(f"/sessions/{SID}")).json()["metadata"] == {"a": 1, "b": 2}
    await register(client, metadata={"c": 3})
    assert (await client.get(f"/sessions/{SID}")).json()["metadata"] == {"c": 3}


async def test_register_with_empty_body_and_no_content_type(client: Client) -> None:
    response = await client.post(f"/sessions/{SID}")
    assert response.status_code == 201
    info = (await client.get(f"/sessions/{SID}")).json()
    assert info["id"] == SID and "appname" not in info


async def test_register_uppercase_id_is_normalized(client: Client) -> None:
    response = await register(client, SID.upper())
    assert response.text == SID
    assert (await client.get(f"/sessions/{SID.upper()}")).json()["id"] == SID


async def test_register_without_id_makes_one(client: Client) -> None:
    response = await client.post("/sessions/", json={"appname": "tool"})
    assert response.status_code == 201
    new_id = response.text
    assert len(new_id) == 24 and int(new_id, 16) > 0
    assert (await client.get(f"/sessions/{new_id}")).json()["appname"] == "tool"
    assert (await client.post("/sessions/", json={})).text != new_id


async def test_invalid_ids_are_400_and_store_nothing(client: Client) -> None:
    for bad in ("xyz", "0" * 24, SID + "0", SID[:-1] + "g"):
        response = await register(client, bad)
        assert response.status_code == 400, bad
        assert response.json() == {"status_code": 400, "detail": f"Invalid session id '{bad}'"}
        assert (await client.get(f"/sessions/{bad}")).status_code == 400
    assert len((await client.get("/sessions/?status=all")).json()["sessions"]) == 1  # self


async def test_wrongly_typed_register_body_is_400(client: Client) -> None:
    for body in ({"appname": 5}, {"metadata": [1]}, {"pid": "x"}, {"parent_session_id": "nope"}):
        response = await register(client, **body)
        assert response.status_code == 400, body
    bad_json = await client.post(f"/sessions/{SID}", content=b"{", headers=JSON)
    assert bad_json.status_code == 400
    assert "Invalid JSON body" in bad_json.json()["detail"]
    not_object = await client.post(f"/sessions/{SID}", content=b"[1]", headers=JSON)
    assert not_object.status_code == 400
    assert (await client.get(f"/sessions/{SID}")).status_code == 404


async def test_register_body_content_types(client: Client) -> None:
    text = await client.post(
        f"/sessions/{SID}", content=b"x", headers={"content-type": "text/plain"}
    )
    assert text.status_code == 415
    assert "application/json" in text.json()["detail"]
    missing = await client.post(f"/sessions/{SID}", content=b'{"appname":"a"}')
    assert missing.status_code == 415
    assert (await client.get(f"/sessions/{SID}")).status_code == 404


async def test_parent_and_job_ids(client: Client) -> None:
    await register(client, OTHER)
    await register(client, parent_session_id=OTHER.upper(), jobid="JOB-17")
    info = (await client.get(f"/sessions/{SID}")).json()
    assert info["parent_session_id"] == OTHER
    assert info["jobid"] == "JOB-17"


async def test_update_replaces_metadata(client: Client) -> None:
    assert (await client.put(f"/sessions/{SID}", json={"metadata": {"a": 1}})).status_code == 404
    await register(client, metadata={"a": 1, "b": 2})
    response = await client.put(f"/sessions/{SID}", json={"metadata": {"z": [1, 2]}})
    assert response.status_code == 200 and response.text == SID
    assert (await client.get(f"/sessions/{SID}")).json()["metadata"] == {"z": [1, 2]}
    cleared = await client.put(f"/sessions/{SID}", json={})
    assert cleared.status_code == 200
    assert "metadata" not in (await client.get(f"/sessions/{SID}")).json()


async def test_get_unknown_is_404(client: Client) -> None:
    response = await client.get(f"/sessions/{SID}")
    assert response.status_code == 404
    assert response.json() == {"status_code": 404, "detail": f"Session '{SID}' not found"}


async def test_end_appends_final_line(client: Client) -> None:
    await register(client)
    response = await client.delete(f"/sessions/{SID}")
    assert response.status_code == 200 and response.text == SID
    info = (await client.get(f"/sessions/{SID}")).json()
    assert info["status"] == "ended"
    assert info["end_reason"] == "client request"
    assert info["ended_at"] >= info["created_at"]
    entries = (await client.get(f"/sessions/{SID}/log")).json()["entries"]
    assert [e["message"] for e in entries] == ["session ended (client request)"]
    assert (await client.delete(f"/sessions/{SID}")).status_code == 404  # already ended
    assert (await client.delete(f"/sessions/{OTHER}")).status_code == 404  # unknown


async def test_ended_session_can_be_registered_again_and_keeps_ended(client: Client) -> None:
    await register(client)
    await client.delete(f"/sessions/{SID}")
    assert (await register(client, metadata={"late": True})).status_code == 200
    info = (await client.get(f"/sessions/{SID}")).json()
    assert info["status"] == "ended" and info["metadata"] == {"late": True}


async def test_list_by_status_filters_and_order(client: Client) -> None:
    ids = [f"{i:024x}" for i in range(1, 6)]
    for i, sid in enumerate(ids):
        await register(client, sid, appname="cook" if i % 2 else "editor", jobid="J1")
    await client.delete(f"/sessions/{ids[0]}")
    await client.delete(f"/sessions/{ids[3]}")

    def listed(body: Any) -> list[str]:
        return [s["id"] for s in body["sessions"]]

    active = (await client.get("/sessions/")).json()
    self_id = active["self_id"]
    assert listed(active) == [ids[4], ids[2], ids[1], self_id]
    assert listed((await client.get("/sessions/list?status=ended")).json()) == [ids[3], ids[0]]
    everything = listed((await client.get("/sessions/?status=all")).json())
    assert everything == [ids[4], ids[2], ids[1], self_id, ids[3], ids[0]]
    cooks = (await client.get("/sessions/?status=all&appname=cook")).json()
    assert listed(cooks) == [ids[1], ids[3]]  # the active one first
    assert listed((await client.get("/sessions/?jobid=J2")).json()) == []
    bad = await client.get("/sessions/?status=sleeping")
    assert bad.status_code == 400 and "status" in bad.json()["detail"]


async def test_self_session_is_listed(client: Client) -> None:
    body = (await client.get("/sessions/")).json()
    me = [s for s in body["sessions"] if s["id"] == body["self_id"]]
    assert me and me[0]["appname"] == "sessions-server" and me[0]["pid"] == os.getpid()


async def test_pid_is_ignored_from_a_remote_peer(client: Client) -> None:
    await register(client, pid=os.getpid())
    assert "pid" not in (await client.get(f"/sessions/{SID}")).json()


async def test_pid_is_kept_from_a_local_peer(local_client: Client) -> None:
    await register(local_client, pid=os.getpid())
    assert (await local_client.get(f"/sessions/{SID}")).json()["pid"] == os.getpid()
    bad = await register(local_client, OTHER, pid=-3)
    assert bad.status_code == 400


async def test_foreign_origin_is_refused_and_changes_nothing(client: Client) -> None:
    evil = {"origin": "http://evil.example"}
    response = await client.post(f"/sessions/{SID}", json={}, headers=evil)
    assert response.status_code == 403
    assert "evil.example" in response.json()["detail"]
    assert (await client.get(f"/sessions/{SID}")).status_code == 404
    own = {"origin": "http://testserver.local"}
    assert (await client.post(f"/sessions/{SID}", json={}, headers=own)).status_code == 201
    assert (await client.delete(f"/sessions/{SID}", headers=evil)).status_code == 403
    assert (await client.get(f"/sessions/{SID}", headers=evil)).status_code == 200  # reads pass
