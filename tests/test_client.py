"""The Python client and its logging handler, against a real server process and small stubs."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from service.client import (
    DEFAULT_URL,
    AsyncSessionClient,
    SessionClient,
    SessionLogHandler,
    SessionsError,
)
from tests.conftest import OTHER, SID, ServerProcess

README = Path(__file__).resolve().parent.parent / "README.md"
Stub = Callable[[httpx.Request], httpx.Response]

# The README's "## Python client" examples; the test runs the README's own blocks once they exist.
EXAMPLES = [
    """\
from service.client import SessionClient

with SessionClient() as sessions:  # $SESSIONS_URL, else http://127.0.0.1:8558
    sid = sessions.register(appname="cook", metadata={"map": "Lobby"})
    sessions.log(sid, ["Loading map", "Cooking 1200 packages"])
    sessions.log(sid, [{"level": "warning", "format": "Cooked {Count} packages in {Seconds}s",
                        "fields": {"Count": 1200, "Seconds": 41.5}}])
    for entry in sessions.entries(sid):
        print(entry["cursor"], entry.get("level", "-"), entry["message"])
    sessions.end(sid)
""",
    """\
import logging
from service.client import SessionLogHandler

handler = SessionLogHandler(appname="tool")
logging.getLogger().addHandler(handler)

logging.warning("Cooked %d packages", 1200)
logging.error("Cook failed for {Asset}", extra={"fields": {"Asset": "/Game/Maps/Lobby"}})
""",
]


def wait_for(condition: Callable[[], bool], timeout: float = 30.0) -> None:
    """Poll until `condition` holds; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.02)


@pytest.fixture
def logger(request: pytest.FixtureRequest) -> Iterator[logging.Logger]:
    """A logger of this test's own that does not pass records on to the root."""
    log = logging.getLogger(f"tests.client.{request.node.name}")
    log.setLevel(logging.DEBUG)
    log.propagate = False
    yield log
    for handler in list(log.handlers):
        log.removeHandler(handler)
        handler.close()


def attach(log: logging.Logger, appname: str, url: str, **options: Any) -> SessionLogHandler:
    handler = SessionLogHandler(appname, base_url=url, max_backoff=0.2, **options)
    log.addHandler(handler)
    return handler


def stored(url: str, session_id: str) -> list[dict[str, Any]]:
    with SessionClient(url) as sessions:
        return list(sessions.entries(session_id, page=10_000))


class CountingTransport(httpx.HTTPTransport):
    """A real transport that remembers the requests it sent."""

    def __init__(self) -> None:
        super().__init__()
        self.requests: list[httpx.Request] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return super().handle_request(request)


# --- the clients against a real server ---------------------------------------------------------


def test_sync_client_calls(server: ServerProcess) -> None:
    with SessionClient(server.url) as sessions:
        created = sessions.register(
            SID, appname="cook", mode="cook", platform="Linux", pid=os.getpid(), jobid="job-1",
            metadata={"map": "A"},
        )  # fmt: skip
        assert created == SID
        assert sessions.register(SID, appname="ignored", metadata={"map": "B"}) == SID
        made = sessions.register(appname="tool", parent_session_id=SID)
        assert re.fullmatch("[0-9a-f]{24}", made) and made != SID
        assert sessions.log(SID, ["Loading map", "Cooking"])["count"] == 2
        record = {"level": "warning", "format": "Cooked {N} packages", "fields": {"N": 1200}}
        assert sessions.log(SID, [record])["count"] == 1
        assert sessions.log(SID, ["two\nlines", "", "single"])["count"] == 3  # one entry each
        assert sessions.log(SID, "one line")["count"] == 1
        sessions.update(SID, {"map": "C"})
        info = sessions.get(SID)
        assert info["appname"] == "cook" and info["mode"] == "cook" and info["jobid"] == "job-1"
        assert info["metadata"] == {"map": "C"} and info["pid"] == os.getpid()
        assert info["log_count"] == 7 and info["status"] == "active"
        assert [s["id"] for s in sessions.list(appname="cook")["sessions"]] == [SID]
        assert [s["id"] for s in sessions.list(parent_session_id=SID)["sessions"]] == [made]
        entries = list(sessions.entries(SID))
        messages = ["Loading map", "Cooking", "Cooked 1200 packages", "two\nlines", "", "single"]
        assert [e.get("message", "") for e in entries] == [*messages, "one line"]
        assert entries[2]["level"] == "warn" and entries[2]["fields"] == {"N": 1200}
        sessions.end(SID)
        assert sessions.get(SID)["end_reason"] == "client request"
        assert sessions.list()["sessions"][0]["id"] != SID
        assert SID in {s["id"] for s in sessions.list("ended")["sessions"]}
        with pytest.raises(SessionsError) as ended:
            sessions.end(SID)
        assert ended.value.status_code == 404 and ended.value.detail == f"Session '{SID}' not found"
        with pytest.raises(SessionsError) as bad:
            sessions.log(SID, [{"message": 5}])
        assert bad.value.status_code == 400 and "entry 0" in bad.value.detail


async def test_async_client_calls(server: ServerProcess) -> None:
    async with AsyncSessionClient(server.url) as sessions:
        assert await sessions.register(SID, appname="cook", metadata={"map": "A"}) == SID
        made = await sessions.register(appname="tool")
        assert made != SID
        assert (await sessions.log(SID, ["a", "b"]))["count"] == 2
        record = {"level": "error", "format": "{What} failed", "fields": {"What": "cook"}}
        assert (await sessions.log(SID, [record]))["count"] == 1
        await sessions.update(SID, {"map": "B"})
        info = await sessions.get(SID)
        assert info["metadata"] == {"map": "B"} and info["log_count"] == 3
        listing = await sessions.list(appname="tool")
        assert [s["id"] for s in listing["sessions"]] == [made]
        assert [e["message"] async for e in sessions.entries(SID)] == ["a", "b", "cook failed"]
        await sessions.end(SID)
        assert (await sessions.get(SID))["status"] == "ended"
        with pytest.raises(SessionsError) as missing:
            await sessions.get(OTHER)
        assert missing.value.status_code == 404
        with pytest.raises(SessionsError) as invalid:
            await sessions.get("nope")
        assert invalid.value.detail == "Invalid session id 'nope'"


def test_entries_pages_through_the_whole_log(server: ServerProcess) -> None:
    transport = CountingTransport()
    with SessionClient(server.url, transport=transport) as sessions:
        sessions.register(SID)
        sessions.log(SID, [f"line {i}" for i in range(2_500)])
        transport.requests.clear()
        entries = list(sessions.entries(SID, page=1_000))
        assert [e["message"] for e in entries] == [f"line {i}" for i in range(2_500)]
        assert [r.url.params["limit"] for r in transport.requests] == ["1000"] * 3
        rest = list(sessions.entries(SID, entries[1_999]["cursor"], page=400))
        assert [e["message"] for e in rest] == [f"line {i}" for i in range(2_000, 2_500)]
        assert list(sessions.entries(SID, entries[-1]["cursor"])) == []


async def test_async_entries_page(server: ServerProcess) -> None:
    async with AsyncSessionClient(server.url) as sessions:
        await sessions.register(SID)
        await sessions.log(SID, [f"line {i}" for i in range(1_500)])
        messages = [e["message"] async for e in sessions.entries(SID, page=700)]
        assert messages == [f"line {i}" for i in range(1_500)]


def test_same_idempotency_key_stores_once(server: ServerProcess) -> None:
    with SessionClient(server.url) as sessions:
        sessions.register(SID)
        first = sessions.log(SID, ["a", "b"], idempotency_key="batch-1")
        assert sessions.log(SID, ["a", "b"], idempotency_key="batch-1") == first
        assert sessions.get(SID)["log_count"] == 2


def test_base_url_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SESSIONS_URL", raising=False)
    with SessionClient() as sessions:
        assert sessions.base_url == DEFAULT_URL == "http://127.0.0.1:8558"
    monkeypatch.setenv("SESSIONS_URL", "http://example.test:9000")
    with SessionClient() as sessions:
        assert sessions.base_url == "http://example.test:9000"
    with SessionClient("http://other.test:1") as sessions:
        assert sessions.base_url == "http://other.test:1"


# --- retries, against a stub (sync and async run the same scenario) ---------------------------


def through(kind: str, stub: Stub, action: Callable[[Any], Any], **options: Any) -> Any:
    """`action(client)` on a sync or async client over `stub`; returns its result and the sleeps."""
    sleeps: list[float] = []
    transport = httpx.MockTransport(stub)
    if kind == "sync":
        with SessionClient("http://stub", transport=transport, sleep=sleeps.append, **options) as c:
            return action(c), sleeps

    async def sleep(seconds: float) -> None:
        sleeps.append(seconds)

    async def run() -> Any:
        async with AsyncSessionClient(
            "http://stub", transport=transport, sleep=sleep, **options
        ) as client:
            return await action(client)

    return asyncio.run(run()), sleeps


def scripted(*answers: httpx.Response | Exception) -> tuple[Stub, list[httpx.Request]]:
    """A stub giving copies of these answers in turn (raising exceptions); keeps the requests."""
    seen: list[httpx.Request] = []

    def stub(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        answer = answers[min(len(seen), len(answers)) - 1]
        if isinstance(answer, Exception):
            raise answer
        return httpx.Response(answer.status_code, headers=answer.headers, content=answer.content)

    return stub, seen


OK = httpx.Response(200, json={"cursor": 7, "count": 1})
UNAVAILABLE = httpx.Response(503, json={"status_code": 503, "detail": "busy"})
KINDS = pytest.mark.parametrize("kind", ["sync", "async"])


@KINDS
def test_retried_batch_keeps_its_idempotency_key(kind: str) -> None:
    refused = httpx.ConnectError("refused")
    stub, seen = scripted(UNAVAILABLE, refused, httpx.Response(500), httpx.Response(429), OK)
    answer, sleeps = through(kind, stub, lambda c: c.log(SID, ["x"]), backoff=0.1)
    assert answer == {"cursor": 7, "count": 1}
    keys = {request.headers["idempotency-key"] for request in seen}
    assert len(seen) == 5 and len(keys) == 1 and re.fullmatch("[0-9a-f]{32}", keys.pop())
    assert sleeps == [0.1, 0.2, 0.4, 0.8]
    assert {request.content for request in seen} == {b"x"}
    assert seen[0].headers["content-type"] == "text/plain"


@KINDS
def test_each_batch_has_a_key_of_its_own(kind: str) -> None:
    stub, seen = scripted(OK)

    async def twice_async(client: AsyncSessionClient) -> None:
        await client.log(SID, ["a"])
        await client.log(SID, [{"message": "b"}])

    def twice_sync(client: SessionClient) -> None:
        client.log(SID, ["a"])
        client.log(SID, [{"message": "b"}])

    through(kind, stub, twice_sync if kind == "sync" else twice_async)
    assert len({request.headers["idempotency-key"] for request in seen}) == 2
    assert json.loads(seen[1].content) == {"entries": [{"message": "b"}]}


@KINDS
def test_retry_after_is_honoured(kind: str) -> None:
    later = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    stub, seen = scripted(
        httpx.Response(503, headers={"retry-after": "3"}),
        httpx.Response(429, headers={"retry-after": later}),
        httpx.Response(503, headers={"retry-after": "9999"}),
        OK,
    )
    _, sleeps = through(kind, stub, lambda c: c.log(SID, ["x"]))
    assert sleeps[0] == 3.0 and 25 < sleeps[1] <= 30 and sleeps[2] == 60.0
    assert len({request.headers["idempotency-key"] for request in seen}) == 1


@KINDS
def test_given_up_retries_raise(kind: str) -> None:
    stub, seen = scripted(UNAVAILABLE)
    with pytest.raises(SessionsError) as raised:
        through(kind, stub, lambda c: c.log(SID, ["x"]), retries=2)
    assert (raised.value.status_code, raised.value.detail, len(seen)) == (503, "busy", 3)
    stub, seen = scripted(httpx.ConnectError("refused"))
    with pytest.raises(httpx.ConnectError):
        through(kind, stub, lambda c: c.get(SID), retries=1)
    assert len(seen) == 2


@KINDS
def test_client_errors_are_not_retried(kind: str) -> None:
    rejected = httpx.Response(413, json={"status_code": 413, "detail": "too large"})
    stub, seen = scripted(rejected)
    with pytest.raises(SessionsError) as raised:
        through(kind, stub, lambda c: c.log(SID, ["x"]))
    assert (raised.value.status_code, raised.value.detail, len(seen)) == (413, "too large", 1)
    stub, seen = scripted(httpx.Response(400, text="plain words"))
    with pytest.raises(SessionsError, match="400: plain words"):
        through(kind, stub, lambda c: c.get(SID))


@KINDS
def test_calls_that_are_not_idempotent_are_not_retried(kind: str) -> None:
    for action in (lambda c: c.register(), lambda c: c.end(SID)):
        stub, seen = scripted(UNAVAILABLE, httpx.Response(201, text=SID))
        with pytest.raises(SessionsError):
            through(kind, stub, action)
        assert len(seen) == 1
    stub, seen = scripted(UNAVAILABLE, httpx.Response(201, text=SID))
    assert through(kind, stub, lambda c: c.register(SID, appname="a"))[0] == SID
    assert len(seen) == 2 and json.loads(seen[0].content) == {"appname": "a"}


# --- the logging handler -------------------------------------------------------------------------


def test_handler_structured_records(server: ServerProcess, logger: logging.Logger) -> None:
    handler = attach(logger, "tool", server.url)
    logger.info("built %d of %s", 7, "maps")
    logger.warning("%(count)s assets in %(dir)s", {"count": 3, "dir": "/Game"})
    logger.error("Cooked {Count} in {Seconds}s", extra={"fields": {"Count": 5, "Seconds": 1.5}})
    logger.debug("odd %s", object(), extra={"fields": {"nan": float("nan"), "set": {1}}})
    try:
        raise ValueError("boom")
    except ValueError:
        logger.exception("failed {Step}", extra={"fields": {"Step": "cook"}})
        logger.exception("failed plainly")
    # pytest's own capture handler would raise on this record: give it to the handler alone
    handler.handle(logger.makeRecord(logger.name, logging.INFO, "f", 1, "wrong %d", ("x",), None))
    handler.flush()
    assert handler.pending == 0 and handler.delivered == 7
    with SessionClient(server.url) as sessions:
        info = sessions.get(handler.session_id)
    assert (info["appname"], info["pid"], info["log_count"]) == ("tool", os.getpid(), 7)
    built, assets, cooked, odd, step, plain, wrong = stored(server.url, handler.session_id)
    assert built["message"] == "built 7 of maps" and built["format"] == "built %d of %s"
    assert built["fields"] == {"0": 7, "1": "maps"} and built["level"] == "info"
    assert built["logger"] == logger.name
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", built["timestamp"])
    assert assets["message"] == "3 assets in /Game" and assets["fields"]["dir"] == "/Game"
    assert assets["level"] == "warn"
    assert cooked["message"] == "Cooked 5 in 1.5s" and cooked["format"].startswith("Cooked {")
    assert cooked["fields"] == {"Count": 5, "Seconds": 1.5}
    assert odd["level"] == "debug" and odd["fields"]["nan"] == "nan"
    assert odd["fields"]["set"] == "{1}" and odd["fields"]["0"].startswith("<object object")
    assert step["message"].startswith("failed cook\nTraceback (most recent call last):")
    assert step["message"].endswith("ValueError: boom") and step["fields"] == {"Step": "cook"}
    assert plain["message"].startswith("failed plainly\nTraceback") and "format" not in plain
    assert wrong["message"].startswith("wrong %d (formatting failed:")
    handler.close()
    with SessionClient(server.url) as sessions:
        assert sessions.get(handler.session_id)["end_reason"] == "client request"


def test_handler_burst_while_the_server_is_absent(tmp_path: Path, logger: logging.Logger) -> None:
    process = ServerProcess(tmp_path / "x.db")  # its port is chosen, nobody listens yet
    handler = attach(logger, "burst", process.url, end_on_close=False)
    for i in range(50_000):
        logger.info("record %d", i)
    assert (handler.pending, handler.delivered, handler.dropped) == (50_000, 0, 0)
    process.start()
    try:
        wait_for(lambda: handler.pending == 0)
        assert (handler.delivered, handler.dropped) == (50_000, 0)
        with SessionClient(process.url) as sessions:
            assert sessions.get(handler.session_id)["log_count"] == 50_000
        messages = [e["message"] for e in stored(process.url, handler.session_id)]
        assert messages == [f"record {i}" for i in range(50_000)]
    finally:
        handler.close()
        process.stop()


def test_handler_survives_a_server_crash(tmp_path: Path, logger: logging.Logger) -> None:
    process = ServerProcess(tmp_path / "x.db").start()
    handler = attach(logger, "crash", process.url)
    try:
        for i in range(10_000):
            logger.info("record %d", i)
        wait_for(lambda: handler.delivered > 0)
        process.kill()  # mid-stream: a batch may be stored with its answer lost
        for i in range(10_000, 20_000):
            logger.info("record %d", i)
        process.start()
        for i in range(20_000, 25_000):
            logger.info("record %d", i)
        wait_for(lambda: handler.pending == 0)
        messages = [e["message"] for e in stored(process.url, handler.session_id)]
        assert messages == [f"record {i}" for i in range(25_000)]  # none lost, none twice
        assert handler.dropped == 0
    finally:
        handler.close()
        process.stop()


def test_handler_reports_dropped_records(tmp_path: Path, logger: logging.Logger) -> None:
    process = ServerProcess(tmp_path / "x.db")
    handler = attach(logger, "drops", process.url, capacity=100, batch_size=50)
    for i in range(250):
        logger.info("record %d", i)
    dropped = handler.dropped
    assert 100 <= dropped <= 150 and handler.pending == 250 - dropped
    process.start()
    try:
        wait_for(lambda: handler.pending == 0)
        entries = stored(process.url, handler.session_id)
        # Usually one notice; two when the shipper took a batch while records were dropping.
        notices = [e for e in entries if e["message"].startswith("sessions:")]
        counts = [int(e["message"].split()[2]) for e in notices]
        line = "sessions: dropped {} log records while the server was unreachable"
        lines = [line.format(n) for n in counts]
        assert [e["message"] for e in notices] == lines and sum(counts) == dropped
        assert {e["level"] for e in notices} == {"warn"}
        assert len(entries) == 250 - dropped + len(notices)
    finally:
        handler.close()
        process.stop()


def test_handler_retries_a_batch_with_one_key(logger: logging.Logger) -> None:
    posts: list[tuple[str, int]] = []
    failures = iter([httpx.ConnectError("refused"), httpx.Response(503), httpx.Response(500)])

    def stub(request: httpx.Request) -> httpx.Response:
        if not request.url.path.endswith("/log"):
            return httpx.Response(201, text=SID)
        entries = json.loads(request.content)["entries"]
        posts.append((request.headers["idempotency-key"], len(entries)))
        failure = next(failures, None)
        if isinstance(failure, Exception):
            raise failure
        return failure or httpx.Response(200, json={"cursor": 1, "count": 1})

    handler = SessionLogHandler("stub", transport=httpx.MockTransport(stub), max_backoff=0.05)
    logger.addHandler(handler)
    logger.info("one")
    wait_for(lambda: handler.pending == 0)
    assert posts[0] == posts[1] == posts[2] == posts[3] and len(posts) == 4


def test_handler_splits_a_batch_the_server_finds_too_large(logger: logging.Logger) -> None:
    stored_keys: dict[str, list[str]] = {}

    def stub(request: httpx.Request) -> httpx.Response:
        if not request.url.path.endswith("/log"):
            return httpx.Response(201, text=SID)
        entries = json.loads(request.content)["entries"]
        if len(entries) > 3:
            return httpx.Response(413, json={"status_code": 413, "detail": "too large"})
        stored_keys[request.headers["idempotency-key"]] = [e["message"] for e in entries]
        return httpx.Response(200, json={"cursor": 1, "count": len(entries)})

    handler = SessionLogHandler("stub", transport=httpx.MockTransport(stub), batch_size=10)
    logger.addHandler(handler)
    for i in range(10):
        logger.info("record %d", i)
    handler.flush()
    assert handler.delivered == 10 and handler.pending == 0
    # a half answered 413 is split again; every piece has a key of its own, none is lost
    messages = [message for batch in stored_keys.values() for message in batch]
    assert sorted(messages) == sorted(f"record {i}" for i in range(10))


def test_handler_counts_rejected_records(
    logger: logging.Logger, capsys: pytest.CaptureFixture[str]
) -> None:
    def stub(request: httpx.Request) -> httpx.Response:
        if not request.url.path.endswith("/log"):
            return httpx.Response(201, text=SID)
        return httpx.Response(400, json={"status_code": 400, "detail": "no thanks"})

    handler = SessionLogHandler("stub", transport=httpx.MockTransport(stub))
    logger.addHandler(handler)
    logger.info("a")
    logger.info("b")
    handler.flush()
    assert (handler.pending, handler.dropped, handler.delivered) == (0, 2, 0)
    assert "rejected 2 records: 400: no thanks" in capsys.readouterr().err


def test_close_gives_up_at_once_on_a_server_never_reached(
    tmp_path: Path, logger: logging.Logger, capsys: pytest.CaptureFixture[str]
) -> None:
    process = ServerProcess(tmp_path / "x.db")
    handler = attach(logger, "nobody", process.url, close_timeout=60)
    for i in range(10):
        logger.info("record %d", i)
    logger.removeHandler(handler)
    handler.close()
    assert (handler.pending, handler.dropped) == (0, 10)
    assert f"10 log records not delivered: {process.url} unreachable" in capsys.readouterr().err


def test_close_ends_only_a_session_the_handler_made(
    server: ServerProcess, logger: logging.Logger
) -> None:
    with SessionClient(server.url) as sessions:
        sessions.register(SID, appname="mine")
        given = attach(logger, "", server.url, session_id=SID)
        own = attach(logger, "own", server.url)
        logger.info("to both")
        idle = attach(logger, "idle", server.url)
        for handler in (given, own, idle):
            logger.removeHandler(handler)
            handler.close()
        assert sessions.get(SID)["status"] == "active"
        assert sessions.get(own.session_id)["status"] == "ended"
        assert [e["message"] for e in sessions.entries(SID)] == ["to both"]
        with pytest.raises(SessionsError):  # never used: never registered
            sessions.get(idle.session_id)


def test_install_opens_the_logger(server: ServerProcess, logger: logging.Logger) -> None:
    logger.setLevel(logging.WARNING)
    handler = SessionLogHandler.install("inst", level="INFO", logger=logger, base_url=server.url)
    assert handler in logger.handlers and logger.level == logging.INFO
    logger.debug("hidden")
    logger.info("shown")
    handler.flush()
    assert [e["message"] for e in stored(server.url, handler.session_id)] == ["shown"]


def test_handler_ignores_records_of_its_own_requests(
    server: ServerProcess, logger: logging.Logger
) -> None:
    handler = attach(logger, "quiet", server.url)
    httpx_logger = logging.getLogger("httpx")
    httpx_logger.addHandler(handler)  # as a handler on the root would see them
    level = httpx_logger.level
    httpx_logger.setLevel(logging.INFO)
    try:
        logger.info("one")
        handler.flush()
        time.sleep(0.5)  # a few idle shipping rounds; none may produce a record
        assert [e["message"] for e in stored(server.url, handler.session_id)] == ["one"]
    finally:
        httpx_logger.setLevel(level)
        httpx_logger.removeHandler(handler)


def readme_examples() -> list[str]:
    text = README.read_text()
    if "## Python client" not in text:
        return EXAMPLES
    section = re.split(r"\n## ", text.split("## Python client", 1)[1])[0]
    return re.findall(r"```python\n(.*?)```", section, re.S)


def test_readme_examples_work_as_printed(server: ServerProcess) -> None:
    env = {**os.environ, "SESSIONS_URL": server.url}
    outputs = []
    for example in readme_examples():
        run = subprocess.run(
            [sys.executable, "-c", example], capture_output=True, text=True, env=env, timeout=30
        )
        assert run.returncode == 0, run.stderr
        outputs.append(run.stdout)
    assert "warn Cooked 1200 packages in 41.5s" in outputs[0]
    with SessionClient(server.url) as sessions:
        (tool,) = sessions.list("all", appname="tool")["sessions"]
        assert tool["status"] == "ended"
        messages = [e["message"] for e in sessions.entries(tool["id"])]
    assert messages[:2] == ["Cooked 1200 packages", "Cook failed for /Game/Maps/Lobby"]
