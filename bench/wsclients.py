"""WebSocket log subscribers: many that record when frames arrive, and one that never reads.

`python -m bench.wsclients --port P --session ID --subscribers N` runs in a process of its
own: it subscribes N connections to one session (`sub_log`, JSON encoding), prints `ready`
once every one has its first frame, then records (arrival time, cursor, count) of every log
frame until it reads `until CURSOR` on stdin and all have reached that cursor (or a timeout),
and prints the records as JSON. Arrival times are CLOCK_MONOTONIC, which is system-wide, so
they compare with the load generator's acknowledgement times.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import gc
import json
import os
import socket
import subprocess
import sys
import time
from typing import Any

import msgspec
from websockets.asyncio.client import connect

from bench.common import HOST, PYTHON, ROOT


class Head(msgspec.Struct):
    """The few fields of a frame this needs; msgspec skips the entries without building them."""

    type: str
    cursor: int = 0
    count: int = 0


async def _subscriber(
    url: str,
    subscribe: str,
    compression: str | None,
    records: list[tuple[float, int, int]],
    ready: asyncio.Event,
    state: dict[str, int],
) -> None:
    decoder = msgspec.json.Decoder(Head)
    # No pings from this side: an overloaded server answers them late and the client would
    # drop the connection; the server's own pings are still answered.
    async with connect(
        url,
        max_size=None,
        compression=compression,  # type: ignore[arg-type]
        ping_interval=None,
    ) as ws:
        state["deflate"] += bool(ws.protocol.extensions)  # did the server accept it?
        await ws.send(subscribe)
        first = True
        async for frame in ws:
            arrived = time.monotonic()
            head = decoder.decode(frame)
            if head.type != "log":
                continue
            if first:
                first = False
                state["ready"] += 1
                if state["ready"] == state["subscribers"]:
                    ready.set()
            else:
                records.append((arrived, head.cursor, head.count))


async def _main(args: argparse.Namespace) -> None:
    url = f"ws://{HOST}:{args.port}/sessions/ws"
    subscribe = json.dumps(
        {"type": "sub_log", "session": args.session, "cursor": args.cursor, "encoding": "json"}
    )
    records: list[list[tuple[float, int, int]]] = [[] for _ in range(args.subscribers)]
    ready = asyncio.Event()
    state = {"ready": 0, "subscribers": args.subscribers, "deflate": 0}
    # Browsers and the README's websockets example offer permessage-deflate; so does this.
    compression = None if args.no_deflate else "deflate"
    tasks = [
        asyncio.create_task(_subscriber(url, subscribe, compression, records[i], ready, state))
        for i in range(args.subscribers)
    ]
    await asyncio.wait_for(ready.wait(), timeout=60)
    print("ready", flush=True)
    # `until CURSOR SECONDS`: stop once every subscriber has the cursor, or after the seconds
    # (a subscriber still short of it then shows the gap in its records).
    line = (await asyncio.to_thread(sys.stdin.readline)).split()
    _, until, seconds = line if len(line) == 3 else ("until", "0", "0")  # EOF: stop now
    deadline = time.monotonic() + float(seconds)
    while time.monotonic() < deadline:
        if all(r and r[-1][1] >= int(until) for r in records):
            break
        await asyncio.sleep(0.01)
    caught_up = sum(1 for r in records if r and r[-1][1] >= int(until))
    for task in tasks:
        task.cancel()
    outcomes: list[object] = []
    with contextlib.suppress(asyncio.CancelledError):
        outcomes = await asyncio.gather(*tasks, return_exceptions=True)
    # A subscriber the server dropped ends early; its records say how far it got.
    dropped = sum(
        1
        for o in outcomes
        if isinstance(o, Exception) and not isinstance(o, asyncio.CancelledError)
    )
    result = {"records": records, "caught_up": caught_up, "dropped": dropped}
    sys.stdout.write(json.dumps({**result, "deflate": state["deflate"]}))


class Subscribers:
    """The subscriber process, seen from the harness."""

    def __init__(
        self, port: int, session: str, count: int, *, cursor: int = 0, deflate: bool = True
    ) -> None:
        command = [PYTHON, "-m", "bench.wsclients", "--port", str(port), "--session", session]
        command += ["--cursor", str(cursor)]
        command += ["--subscribers", str(count)] + ([] if deflate else ["--no-deflate"])
        self.process = subprocess.Popen(
            command, cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        assert self.process.stdout is not None
        if self.process.stdout.readline().strip() != "ready":
            self.process.kill()
            raise RuntimeError("subscribers did not get their first frames")

    def finish(self, until: int, seconds: float) -> dict[str, Any]:
        """Stop at a cursor (or after the seconds) and return the records."""
        out, _ = self.process.communicate(f"until {until} {seconds}\n", timeout=seconds + 60)
        if self.process.returncode != 0:
            raise RuntimeError("subscriber process failed")
        return dict(json.loads(out))


class StalledSubscriber:
    """A subscriber that asks for the whole log and then never reads a byte of it.

    A raw socket with a small receive buffer, so that the server's writes back up at once:
    what the server then holds for it is what a stalled client costs.
    """

    def __init__(self, port: int, session: str) -> None:
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        self.sock.connect((HOST, port))
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall(
            (
                f"GET /sessions/ws HTTP/1.1\r\nHost: {HOST}:{port}\r\nUpgrade: websocket\r\n"
                f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                "Sec-WebSocket-Version: 13\r\n\r\n"
            ).encode()
        )
        answer = b""
        while b"\r\n\r\n" not in answer:
            answer += self.sock.recv(1)  # byte by byte: read nothing past the handshake
        if b" 101 " not in answer.split(b"\r\n", 1)[0]:
            raise RuntimeError(f"WebSocket handshake refused: {answer!r}")
        message = json.dumps(
            {"type": "sub_log", "session": session, "cursor": 0, "encoding": "json"}
        ).encode()
        self.sock.sendall(_masked_text_frame(message))

    def close(self) -> None:
        self.sock.close()


def _masked_text_frame(payload: bytes) -> bytes:
    """One client-to-server text frame (clients must mask)."""
    mask = os.urandom(4)
    masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    assert len(payload) < 126
    return bytes([0x81, 0x80 | len(payload)]) + mask + masked


def main() -> None:
    # A collector pause here would look like the server's latency: this short-lived process
    # makes no reference cycles worth collecting, so the collector stays off.
    gc.disable()
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--session", required=True)
    parser.add_argument("--cursor", type=int, default=0)
    parser.add_argument("--subscribers", type=int, default=1)
    parser.add_argument("--no-deflate", action="store_true", help="do not offer permessage-deflate")
    asyncio.run(_main(parser.parse_args()))


if __name__ == "__main__":
    main()
