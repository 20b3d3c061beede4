"""Fixtures: a fresh file database per test, the real app, and a real server process."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from service.app import create_app
from service.settings import Settings

SID = "0123456789abcdef01234567"
OTHER = "89abcdef0123456789abcdef"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Settings for a database file of this test's own."""
    return Settings(db=str(tmp_path / "sessions.db"))


@pytest.fixture
async def client(settings: Settings) -> AsyncIterator[AsyncTestClient[Litestar]]:
    """The real app with its lifespan running; the peer is not local."""
    async with AsyncTestClient(create_app(settings)) as test_client:
        yield test_client


@pytest.fixture
async def local_client(settings: Settings) -> AsyncIterator[AsyncTestClient[Any]]:
    """The real app, seen from a loopback peer."""
    app = create_app(settings)
    async with AsyncTestClient(LoopbackPeer(app)) as test_client:  # type: ignore[arg-type]
        yield test_client


class LoopbackPeer:
    """Makes every connection come from 127.0.0.1, as a local client's would."""

    def __init__(self, app: Litestar) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "lifespan":
            scope = {**scope, "client": ("127.0.0.1", 40000)}
        await self.app(scope, receive, send)


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ServerProcess:
    """`sessions serve` as a real process on a free loopback port."""

    def __init__(self, db: Path, *extra: str) -> None:
        self.db = db
        self.extra = extra
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> ServerProcess:
        """Start and wait until /health answers."""
        command = [sys.executable, "-m", "service", "serve", "--db", str(self.db)]
        command += ["--port", str(self.port), *self.extra]
        self.log = self.db.with_suffix(".log")
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(command, stdout=log, stderr=log)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited: {self.log.read_text()}")
            try:
                if httpx.get(f"{self.url}/health", timeout=0.5).status_code == 200:
                    return self
            except httpx.TransportError:
                time.sleep(0.05)
        raise RuntimeError("server did not start in time")

    def stop(self) -> int:
        """Stop with SIGTERM (a clean shutdown) and return the exit code."""
        assert self.process is not None
        self.process.terminate()
        try:
            return self.process.wait(timeout=20)
        finally:
            self.process = None

    def kill(self) -> None:
        """Stop with SIGKILL, as a crash would."""
        assert self.process is not None
        self.process.kill()
        self.process.wait(timeout=20)
        self.process = None


@pytest.fixture
def live(tmp_path: Path) -> Iterator[ServerProcess]:
    """A server that checks its session list often, so list changes show up quickly."""
    process = ServerProcess(tmp_path / "sessions.db", "--ws-list-seconds", "0.2").start()
    try:
        yield process
    finally:
        if process.process is not None:
            process.stop()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServerProcess]:
    """A running server process on a fresh database; stopped after the test."""
    process = ServerProcess(tmp_path / "sessions.db").start()
    try:
        yield process
    finally:
        if process.process is not None:
            process.stop()
