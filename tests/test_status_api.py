"""Server routes: health, status, statistics and Prometheus metrics."""

from __future__ import annotations

from typing import Any

from litestar.testing import AsyncTestClient

from tests.conftest import SID

Client = AsyncTestClient[Any]


async def test_health_and_status(client: Client) -> None:
    health = await client.get("/health")
    assert health.status_code == 200 and health.text == "OK!"
    assert (await client.get("/status/sessions")).json() == {"ok": True}


async def test_stats_count_requests_and_store(client: Client) -> None:
    await client.post(f"/sessions/{SID}", json={})
    await client.post(
        f"/sessions/{SID}/log", content=b"a\nb", headers={"content-type": "text/plain"}
    )
    await client.get(f"/sessions/{SID}")
    await client.get("/sessions/")
    await client.get("/sessions/nope")
    await client.delete(f"/sessions/{SID}")
    body = (await client.get("/stats/sessions")).json()
    assert body["sessions"] == {
        "readcount": 2,
        "writecount": 2,
        "deletecount": 1,
        "listcount": 1,
        "requestcount": 6,
        "badrequestcount": 1,
        "count": 1,  # the server's own session is still active
    }
    assert body["requests"]["count"] == 6
    assert (
        0 < body["requests"]["p50_ms"] <= body["requests"]["p99_ms"] <= body["requests"]["max_ms"]
    )
    store = body["store"]
    assert store["sessions"] == 2 and store["ended"] == 1
    assert store["entries_appended"] == 2
    assert store["entries"] >= 3  # two lines, the final line, and the server's own
    assert store["db_bytes"] > 0


async def test_metrics_in_prometheus_format(client: Client) -> None:
    await client.post(f"/sessions/{SID}", json={})
    await client.post(f"/sessions/{SID}/log", content=b"a", headers={"content-type": "text/plain"})
    response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    text = response.text
    assert 'sessions_http_requests_total{method="POST",status="201"} 1.0' in text
    assert "sessions_log_entries_appended_total 1.0" in text
    assert 'sessions_store{figure="active"} 2.0' in text
    assert "sessions_http_request_duration_seconds_bucket" in text


async def test_openapi_schema_is_served(client: Client) -> None:
    schema = (await client.get("/schema/openapi.json")).json()
    assert "/sessions/{sid}/log" in schema["paths"]
