"""A lean closed-loop HTTP/1.1 load generator, run in processes of its own.

`python -m bench.loadgen SPEC.json` reads a spec, opens `clients` keep-alive connections and
sends pre-built requests back to back (or paced to a total `rate`), and prints one JSON result.
It is a bare asyncio Protocol on pre-encoded request bytes: per request it only writes the
bytes, finds the header end and Content-Length, and records the latency, so that it costs far
less CPU than the server it loads (httpx costs ~10x more per request, which on 2 cores would
make the generator the bottleneck).
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import resource
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.common import HOST, PYTHON, ROOT, percentile

RESPONSE_TIMEOUT = 30.0  # seconds; a request unanswered by then counts as an error


class Request:
    """Pre-encoded bytes of one request."""

    __slots__ = ("data",)

    def __init__(self, port: int, method: str, path: str, body: bytes, content_type: str) -> None:
        head = f"{method} {path} HTTP/1.1\r\nHost: {HOST}:{port}\r\n"
        if body or method in ("POST", "PUT"):
            head += f"Content-Type: {content_type}\r\nContent-Length: {len(body)}\r\n"
        self.data = head.encode() + b"\r\n" + body


def request_spec(
    method: str, path: str, body: bytes = b"", content_type: str = "application/json"
) -> dict[str, str]:
    """A request as the spec carries it (JSON, body in base64)."""
    return {
        "method": method,
        "path": path,
        "body": base64.b64encode(body).decode(),
        "content_type": content_type,
    }


class Connection(asyncio.Protocol):
    """One keep-alive connection with at most one request in flight."""

    def __init__(self, keep_body: bool) -> None:
        self.buffer = bytearray()
        self.keep_body = keep_body
        self.waiter: asyncio.Future[tuple[int, bytes]] | None = None
        self.transport: asyncio.Transport | None = None
        self.header_end = -1
        self.total = -1
        self.status = 0
        self.received = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def connection_lost(self, exc: Exception | None) -> None:
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(ConnectionError(f"connection lost: {exc}"))

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if self.total < 0:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head = bytes(self.buffer[:end]).lower()
            self.status = int(head[9:12])
            at = head.find(b"\r\ncontent-length:")
            if at < 0:
                raise RuntimeError("response without Content-Length")
            line_end = head.find(b"\r\n", at + 2)
            length = int(head[at + 17 : line_end if line_end >= 0 else len(head)])
            self.header_end = end + 4
            self.total = self.header_end + length
        if len(self.buffer) >= self.total:
            body = bytes(self.buffer[self.header_end : self.total]) if self.keep_body else b""
            self.received += self.total
            del self.buffer[: self.total]
            self.total = -1
            if self.waiter is not None and not self.waiter.done():
                self.waiter.set_result((self.status, body))

    async def send(self, data: bytes) -> tuple[int, bytes]:
        """Write one request and wait for its whole response."""
        assert self.transport is not None
        self.waiter = asyncio.get_running_loop().create_future()
        self.transport.write(data)
        return await self.waiter


async def _client(
    index: int,
    spec: dict[str, Any],
    requests: list[Request],
    window: list[float],
    out: dict[str, Any],
) -> None:
    loop = asyncio.get_running_loop()
    record_acks = bool(spec.get("record_acks"))
    start = window[0]
    # Paced clients each send every clients/rate seconds, staggered so the total is even.
    interval = spec["clients"] / spec["rate"] if spec.get("rate") else 0.0
    next_at = start - spec["warmup"] + index * interval / spec["clients"] if interval else 0.0
    _, conn = await loop.create_connection(lambda: Connection(record_acks), HOST, spec["port"])
    i = index
    limit = spec.get("max_requests") or 0
    try:
        while True:
            now = time.monotonic()
            if now >= window[1] or (limit and out["sent"] >= limit):
                return
            if interval:
                if next_at > now:
                    await asyncio.sleep(next_at - now)
                next_at += interval
            request = requests[i % len(requests)]
            i += 1
            out["sent"] += 1
            began = time.monotonic()
            try:
                status, body = await asyncio.wait_for(conn.send(request.data), RESPONSE_TIMEOUT)
            except (ConnectionError, TimeoutError):
                # No answer (or a broken connection) is an error; go on with a new connection.
                out["errors"] += 1
                conn.transport.close()  # type: ignore[union-attr]
                _, conn = await loop.create_connection(
                    lambda: Connection(record_acks), HOST, spec["port"]
                )
                continue
            ended = time.monotonic()
            out["responses"] += 1
            if began < start or ended > window[1]:
                continue  # warm-up, or finished after the window closed
            out["latencies"].append(ended - began)
            out["ends"].append(ended)
            out["status"][status] = out["status"].get(status, 0) + 1
            if record_acks and status == 200:
                ack = json.loads(body)
                out["acks"].append((ended, ack["cursor"], ack["count"]))
    finally:
        out["bytes"] += conn.received
        conn.transport.close()  # type: ignore[union-attr]


async def _run(spec: dict[str, Any]) -> dict[str, Any]:
    requests = [
        Request(
            spec["port"],
            r["method"],
            r["path"],
            base64.b64decode(r["body"]),
            r["content_type"],
        )
        for r in spec["requests"]
    ]
    # Processes that share a run agree on an absolute start (CLOCK_MONOTONIC is system-wide).
    begin = spec.get("start_at") or time.monotonic()
    if begin > time.monotonic():
        await asyncio.sleep(begin - time.monotonic())
    start = begin + spec["warmup"]
    window = [start, start + spec["duration"]]
    # SIGTERM ends the run early but cleanly: the window closes now and the result is printed.
    asyncio.get_running_loop().add_signal_handler(
        signal.SIGTERM, lambda: window.__setitem__(1, min(window[1], time.monotonic()))
    )
    out: dict[str, Any] = {
        "sent": 0,
        "errors": 0,
        "status": {},
        "latencies": [],
        "ends": [],
        "acks": [],
        "bytes": 0,
        "responses": 0,
    }
    cpu_before = resource.getrusage(resource.RUSAGE_SELF)
    await asyncio.gather(*(_client(i, spec, requests, window, out) for i in range(spec["clients"])))
    cpu_after = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (cpu_after.ru_utime - cpu_before.ru_utime) + (cpu_after.ru_stime - cpu_before.ru_stime)
    return {
        "window": window,
        "elapsed": time.monotonic() - begin,
        "cpu_s": cpu,
        "errors": out["errors"],
        "status": {str(k): v for k, v in out["status"].items()},
        "latencies": out["latencies"],
        "ends": out["ends"] if spec.get("record_times") else [],
        "acks": out["acks"],
        "bytes": out["bytes"],
        "responses": out["responses"],
    }


def summarize(parts: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Merge the results of the processes of one run into rates and latency percentiles."""
    window = [max(p["window"][0] for p in parts), min(p["window"][1] for p in parts)]
    duration = window[1] - window[0]
    latencies = sorted(x for p in parts for x in p["latencies"])
    status: dict[str, int] = {}
    for p in parts:
        for code, n in p["status"].items():
            status[code] = status.get(code, 0) + n
    ok = sum(n for code, n in status.items() if code.startswith("2"))
    return {
        "requests": len(latencies),
        "ok": ok,
        "errors": sum(p["errors"] for p in parts) + len(latencies) - ok,
        "status": status,
        "rps": ok / duration,
        "p50_ms": percentile(latencies, 50) * 1000,
        "p90_ms": percentile(latencies, 90) * 1000,
        "p99_ms": percentile(latencies, 99) * 1000,
        "max_ms": (latencies[-1] * 1000) if latencies else float("nan"),
        "bytes_per_response": sum(p["bytes"] for p in parts)
        / max(1, sum(p["responses"] for p in parts)),
        "loadgen_cpu": sum(p["cpu_s"] for p in parts) / max(p["elapsed"] for p in parts),
        "acks": sorted(a for p in parts for a in p["acks"]),
        "timed": sorted(
            (end, lat) for p in parts for end, lat in zip(p["ends"], p["latencies"], strict=False)
        ),
        "window": window,
        "duration": duration,
    }


class Load:
    """A load run in background processes: start it, do something meanwhile, then collect."""

    def __init__(
        self,
        port: int,
        requests: list[dict[str, str]],
        *,
        clients: int,
        duration: float,
        warmup: float = 0.5,
        rate: float = 0.0,
        procs: int = 1,
        record_acks: bool = False,
        record_times: bool = False,
        max_requests: int = 0,
    ) -> None:
        self.duration = duration
        self.procs = max(1, min(procs, clients))
        start_at = time.monotonic() + 0.1  # time for the processes to start (~65 ms)
        self.files: list[Path] = []
        self.children: list[subprocess.Popen[bytes]] = []
        for p in range(self.procs):
            share = clients // self.procs + (1 if p < clients % self.procs else 0)
            spec = {
                "port": port,
                "clients": share,
                "duration": duration,
                "warmup": warmup,
                "rate": rate * share / clients if rate else 0.0,
                "requests": requests,
                "record_acks": record_acks,
                "record_times": record_times,
                "max_requests": max_requests // self.procs if max_requests else 0,
                "start_at": start_at,
            }
            fd, name = tempfile.mkstemp(prefix="bench-load-", suffix=".json")
            with os.fdopen(fd, "w") as f:
                json.dump(spec, f)
            self.files.append(Path(name))
            self.children.append(
                subprocess.Popen(
                    [PYTHON, "-m", "bench.loadgen", name], cwd=ROOT, stdout=subprocess.PIPE
                )
            )
        self.start_at = start_at
        self.window = (start_at + warmup, start_at + warmup + duration)

    def result(self) -> dict[str, Any]:
        """Wait for the processes and merge what they measured."""
        parts = []
        try:
            for child in self.children:
                out, _ = child.communicate(timeout=self.duration + 120)
                if child.returncode != 0:
                    raise RuntimeError(f"load generator failed ({child.returncode})")
                parts.append(json.loads(out))
        finally:
            for child in self.children:
                if child.poll() is None:
                    child.kill()
            for f in self.files:
                f.unlink(missing_ok=True)
        return summarize(parts)

    def stop(self) -> None:
        """End the run now (the processes print what they measured so far)."""
        for child in self.children:
            if child.poll() is None:
                child.terminate()


def run_load(port: int, requests: list[dict[str, str]], **options: Any) -> dict[str, Any]:
    """Run a load to completion and return its summary."""
    return Load(port, requests, **options).result()


def main(argv: Sequence[str]) -> None:
    spec = json.loads(Path(argv[0]).read_text())
    result = asyncio.run(_run(spec))
    sys.stdout.write(json.dumps(result))


if __name__ == "__main__":
    main(sys.argv[1:])
