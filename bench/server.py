"""The servers under test, as real processes on free loopback ports."""

from __future__ import annotations

import functools
import json
import socket
import subprocess
import time
from math import nan
from pathlib import Path
from typing import Any

import psutil

from bench.common import HOST, PYTHON, ROOT, free_port

START_TIMEOUT = 60.0


def get(port: int, path: str, timeout: float = 5.0) -> tuple[int, bytes]:
    """One plain HTTP/1.1 GET on a fresh connection (for probes, not for load)."""
    with socket.create_connection((HOST, port), timeout=timeout) as sock:
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: {HOST}\r\nConnection: close\r\n\r\n".encode())
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head[9:12]), body


def post(port: int, path: str, body: bytes, content_type: str = "application/json") -> bytes:
    """One plain HTTP/1.1 POST; the response body (raises on a non-2xx status)."""
    with socket.create_connection((HOST, port), timeout=30) as sock:
        head = (
            f"POST {path} HTTP/1.1\r\nHost: {HOST}\r\nConnection: close\r\n"
            f"Content-Type: {content_type}\r\nContent-Length: {len(body)}\r\n\r\n"
        )
        sock.sendall(head.encode() + body)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head_bytes, _, answer = data.partition(b"\r\n\r\n")
    status = int(head_bytes[9:12])
    if not 200 <= status < 300:
        raise RuntimeError(f"POST {path}: {status} {answer[:200]!r}")
    return answer


def wait_health(port: int, process: subprocess.Popen[bytes], timeout: float) -> float:
    """Poll /health every few ms until it answers 200; the monotonic time it first did."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}")
        try:
            status, _ = get(port, "/health", timeout=1.0)
        except OSError:
            time.sleep(0.002)
            continue
        if status == 200:
            return time.monotonic()
        time.sleep(0.002)
    raise RuntimeError("server did not answer /health in time")


@functools.cache
def serve_flags() -> frozenset[str]:
    """The flags this checkout's `sessions serve` knows (other engineers are adding some)."""
    out = subprocess.run(
        [PYTHON, "-m", "service", "serve", "--help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return frozenset(word.rstrip(",") for word in out.split() if word.startswith("--"))


def quiet_flags(given: tuple[str, ...] = ()) -> list[str]:
    """Turn off the periodic maintenance loops the server has (unless given), so they add no
    noise to other scenarios."""
    flags = serve_flags()
    extra = []
    for flag in ("--prune-interval-seconds", "--liveness-interval-seconds"):
        if flag in flags and flag not in given:
            extra += [flag, "0"]
    return extra


class Process:
    """A server process: start, wait for /health, measure, stop."""

    def __init__(
        self, command: list[str], port: int, log_path: Path, *, graceful: bool = False
    ) -> None:
        self.command = command
        # Shutting down is not measured: a kill saves ~0.4 s per server, which adds up in
        # --quick. Where the next start reads the same file (startup), stop cleanly.
        self.graceful = graceful
        self.port = port
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None
        self.started_at = 0.0
        self.ready_at = 0.0

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def start(self) -> Process:
        with self.log_path.open("ab") as log_file:
            self.started_at = time.monotonic()
            self.process = subprocess.Popen(
                self.command, cwd=ROOT, stdout=log_file, stderr=subprocess.STDOUT
            )
        self.ready_at = wait_health(self.port, self.process, START_TIMEOUT)
        return self

    def rss(self) -> int:
        """Resident set size in bytes."""
        return int(psutil.Process(self.pid).memory_info().rss)

    def cpu_seconds(self) -> float:
        """User + system CPU time of the server process so far (all its threads)."""
        times = psutil.Process(self.pid).cpu_times()
        return float(times.user + times.system)

    def writer_commits(self) -> float:
        """Transactions the service's writer has committed (NaN where there is no writer)."""
        try:
            status, body = get(self.port, "/stats/sessions")
            return float(json.loads(body)["store"]["writer_commits"]) if status == 200 else nan
        except (OSError, KeyError, ValueError):
            return nan

    def stop(self) -> None:
        if self.process is None:
            return
        if not self.graceful:
            self.process.kill()
            self.process.wait(timeout=30)
            self.process = None
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=30)
        self.process = None

    def __enter__(self) -> Process:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()


def session_server(
    db: Path, *extra: str, quiet: bool = True, module: str = "service", graceful: bool = False
) -> Process:
    """`python -m service serve --db DB --port PORT` (maintenance loops off unless given).

    `module` may name a wrapper of the same CLI (bench.gcwatch) for diagnostics.
    """
    port = free_port()
    command = [PYTHON, "-m", module, "serve", "--db", str(db), "--port", str(port)]
    if quiet:
        command += quiet_flags(extra)
    return Process([*command, *extra], port, db.with_suffix(".log"), graceful=graceful)


def noop_server(workdir: Path) -> Process:
    """The bare Litestar app of bench/noop_app.py under the same uvicorn options."""
    port = free_port()
    command = [PYTHON, "-m", "bench.noop_app", "--port", str(port)]
    return Process(command, port, workdir / "noop.log")


def migrate(db: Path) -> None:
    """Create the schema the only sanctioned way: `python -m service migrate`."""
    subprocess.run(
        [PYTHON, "-m", "service", "migrate", "--db", str(db)],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )


def register(port: int, session_id: str, **fields: Any) -> None:
    """Register a session over HTTP."""
    body = json.dumps({"appname": "bench", **fields}).encode()
    post(port, f"/sessions/{session_id}", body)
