"""`sessions run`: a command's output passed through unchanged and logged, line by line."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import Any

from service.client import SessionLogHandler
from service.domain.timestamps import now_timestamp

CHUNK = 64 * 1024
MAX_LINE = 256 * 1024  # a longer line without a break goes to the log in pieces
BATCH = 5_000  # lines per request at most: a chatty command needs big batches to keep up
GRACE = 0.5  # seconds a pipe may stay silent after the command exited (a daemon may hold it)
FORWARDED = ("SIGTERM", "SIGHUP")  # Ctrl-C needs no forwarding: the terminal sends it to both


class Pump(threading.Thread):
    """Copies one pipe to one of our descriptors as it comes, and hands on its lines."""

    def __init__(self, source: int, target: int, on_line: Callable[[bytes], None]) -> None:
        super().__init__(name=f"sessions-run-{target}", daemon=True)
        self.source = source
        self.target = target
        self.on_line = on_line
        self.passing = True  # until our own stream is closed: then we only log
        self.waiting_since: float | None = None  # in os.read since then; None while busy

    def run(self) -> None:
        """Until the pipe's end: pass each chunk through at once, then split it into lines."""
        pending = b""
        while chunk := self._read():
            self._pass(chunk)
            *lines, pending = (pending + chunk).split(b"\n")
            for line in lines:
                self.on_line(line)
            while len(pending) > MAX_LINE:
                self.on_line(pending[:MAX_LINE])
                pending = pending[MAX_LINE:]
        if pending:
            self.on_line(pending)

    def idle(self) -> float:
        """Seconds this pump has been waiting for the pipe (0 while it is copying)."""
        since = self.waiting_since
        return 0.0 if since is None else time.monotonic() - since

    def _read(self) -> bytes:
        self.waiting_since = time.monotonic()
        try:
            return os.read(self.source, CHUNK)
        except OSError:
            return b""
        finally:
            self.waiting_since = None

    def _pass(self, chunk: bytes) -> None:
        view = memoryview(chunk)
        while self.passing and view:
            try:
                view = view[os.write(self.target, view) :]
            except OSError:  # our terminal or pipe went away: the command must not notice
                self.passing = False


def run(
    argv: Sequence[str],
    *,
    url: str,
    token: str,
    appname: str,
    mode: str,
    stderr_level: str | None,
) -> int:
    """Run the command with its lines logged to a new session; its exit code (128+N: signal N)."""
    try:
        child = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    except OSError as exc:
        print(f"sessions run: {argv[0]}: {exc.strerror or exc}", file=sys.stderr)
        return 127 if isinstance(exc, FileNotFoundError) else 126
    assert child.stdout is not None and child.stderr is not None
    handler = _open_log(
        url=url,
        token=token,
        appname=appname or Path(argv[0]).name,
        mode=mode,
        platform=sys.platform,
        pid=child.pid,
        metadata={"command": list(argv)},
        register_now=True,
        batch_size=BATCH,
        close_timeout=5.0,
    )
    pumps = [
        Pump(child.stdout.fileno(), sys.stdout.fileno(), _lines(handler, "stdout", None)),
        Pump(child.stderr.fileno(), sys.stderr.fileno(), _lines(handler, "stderr", stderr_level)),
    ]
    with _signals_for(child):
        for pump in pumps:
            pump.start()
        status = child.wait()
        _drain(pumps)
        if not any(pump.is_alive() for pump in pumps):
            child.stdout.close()
            child.stderr.close()
        code = status if status >= 0 else 128 - status
        if handler is not None:
            outcome: dict[str, Any] = {"exit_code": code, "command": list(argv)}
            if status < 0:
                outcome["signal"] = _signal_name(-status)
            handler.end_metadata = outcome
            handler.close()
    return code


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:  # a real-time signal, say
        return f"signal {number}"


def _open_log(**options: Any) -> SessionLogHandler | None:
    """The log's shipper; without one (a bad address, say) the command runs unlogged."""
    try:
        return SessionLogHandler(base_url=options.pop("url"), **options)
    except Exception as exc:
        print(f"sessions run: not logging this run: {exc}", file=sys.stderr)
        return None


def _lines(
    handler: SessionLogHandler | None, logger: str, level: str | None
) -> Callable[[bytes], None]:
    """Each line of a stream as a log record (its time, the stream's name and level)."""

    def on_line(line: bytes) -> None:
        if handler is None:
            return
        entry: dict[str, Any] = {"timestamp": now_timestamp(time.time()), "logger": logger}
        if level is not None:
            entry["level"] = level
        entry["message"] = line.removesuffix(b"\r").decode("utf-8", "replace")
        # A command that outputs faster than the server stores is paced (its pipe fills up)
        # rather than losing lines; an absent or stuck server never holds it up.
        handler.wait_for_room()
        handler.submit(entry)

    return on_line


def _drain(pumps: Sequence[Pump]) -> None:
    """Wait for the pumps to reach the pipes' ends, unless a pipe is held open but silent."""
    while any(pump.is_alive() and pump.idle() < GRACE for pump in pumps):
        for pump in pumps:
            pump.join(0.02)


@contextmanager
def _signals_for(child: subprocess.Popen[bytes]) -> Iterator[None]:
    """While the command runs: Ctrl-C is the command's business; SIGTERM and SIGHUP go to it."""

    def forward(signum: int, _frame: FrameType | None) -> None:
        child.send_signal(signum)

    def ignore(_signum: int, _frame: FrameType | None) -> None:
        pass

    handlers = {signal.SIGINT: ignore}
    handlers.update({getattr(signal, name): forward for name in FORWARDED if hasattr(signal, name)})
    previous = {signum: signal.signal(signum, handler) for signum, handler in handlers.items()}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
