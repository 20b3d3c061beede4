"""py-spy: sample a server process, then say where its time goes.

`record()` runs `py-spy record --threads --idle -f raw` (collapsed stacks, one line per
distinct stack with its sample count) on a pid. With `--idle` every thread is sampled at the
full rate whether busy or not, so a share of samples is a share of wall-clock time; the idle
frames (the event loop waiting in epoll, an aiosqlite thread waiting for work) are named as
such rather than dropped.

Each sample of the event-loop thread is charged to the innermost frame that belongs to a
known layer (the stdlib helpers it calls, such as `re` or `datetime`, count for their caller).
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from bench.common import PYTHON

RATE = 200  # samples per second per thread

# (category, test on a frame's file path) in the order they are tried on each frame.
LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("idle: event loop waiting in epoll", ("selectors.py",)),
    # Under uvloop the loop is C code: its samples land on asyncio's Runner.run.
    ("asyncio/uvloop loop, tasks, transports", ("asyncio/",)),
    ("uvicorn + httptools (or h11): HTTP/1.1 parsing, ASGI glue", ("uvicorn/", "h11/")),
    ("Litestar: middleware, routing, DI, kwargs, response", ("litestar/", "anyio/", "sniffio/")),
    (
        "service stats middleware + prometheus_client",
        ("service/api/stats.py", "prometheus_client/"),
    ),
    ("service origin guard", ("service/api/security.py",)),
    ("body decode (msgspec) + wire helpers", ("service/api/wire.py", "msgspec/")),
    ("template render", ("service/domain/templates.py",)),
    (
        "intake: levels, timestamps, fields JSON, batch",
        (
            "service/domain/logs.py",
            "service/domain/levels.py",
            "service/domain/timestamps.py",
            "service/domain/values.py",
        ),
    ),
    ("SQLAlchemy Core: build/compile/execute", ("sqlalchemy/",)),
    ("aiosqlite: thread hops (loop side)", ("aiosqlite/",)),
    ("writer + store glue (service/db)", ("service/db/",)),
    ("other service code", ("service/",)),
)

# Inclusive shares worth knowing: (label, substring of a frame).
INCLUSIVE: tuple[tuple[str, str], ...] = (
    ("uvicorn: read + parse requests (`*Protocol.data_received`)", "Protocol.data_received (uvi"),
    ("uvicorn: write responses (RequestResponseCycle.send)", "RequestResponseCycle.send"),
    ("Litestar: read the body (Request.body)", "Request.body (litestar"),
    ("Litestar: resolve handler kwargs / DI", "(litestar/_kwargs/"),
    ("Litestar: build the ASGI response", "to_asgi_response"),
    ("service stats: observe + prometheus", "observe (service/api/stats.py"),
    ("HTTP handler `append` (service/api/logs.py)", "append (service/api/logs.py"),
    ("  body decode `wire.decode` (msgspec)", "decode (service/api/wire.py"),
    ("  intake `record_batch` (levels, timestamps, render, fields)", "record_batch (service/"),
    ("    template `render`", "render (service/domain/templates.py"),
    ("    timestamp `parse_timestamp`", "parse_timestamp (service/"),
    ("    fields JSON `stored`", "stored (service/domain/values.py"),
    ("  answer `wire.respond`", "respond (service/api/wire.py"),
    ("writer task `_run` (group commit, on the loop)", "Writer._run (service/db/writer.py"),
    ("  `store.append_log` (its statements: SQLite's own work)", "append_log (service/db/store.py"),
    ("SQLAlchemy, anywhere", "(sqlalchemy/"),
    ("aiosqlite, anywhere on the loop", "(aiosqlite/"),
    ("self-pipe wake-ups from worker threads (_read_from_self)", "_read_from_self"),
)

_FRAME = re.compile(r"^(?P<func>.*) \((?P<file>[^()]*?):(?P<line>\d+)\)$")


@dataclass
class Thread:
    """The samples of one thread."""

    name: str
    samples: int = 0
    stacks: Counter[tuple[str, ...]] = field(default_factory=Counter)


def executable() -> str | None:
    """The py-spy program: beside this interpreter (the venv) or on PATH."""
    beside = Path(PYTHON).parent / "py-spy"
    return str(beside) if beside.exists() else shutil.which("py-spy")


def record(pid: int, seconds: float, out: Path, fmt: str = "raw") -> None:
    """Sample a process for some seconds into a file (raw collapsed stacks or a flamegraph)."""
    spy = executable()
    if spy is None:
        raise RuntimeError("py-spy is not installed: pip install py-spy")
    subprocess.run(
        [
            *(spy, "record", "--pid", str(pid), "--duration", str(max(1, round(seconds)))),
            *("--rate", str(RATE), "--threads", "--idle", "--format", fmt, "--output", str(out)),
        ],
        check=True,
        capture_output=True,
        timeout=seconds + 60,
    )


def parse(text: str) -> dict[str, Thread]:
    """Threads by name ("MainThread", "Thread-1 (...)") with their stacks."""
    threads: dict[str, Thread] = {}
    for line in text.splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack:
            continue
        head, *frames = stack.split(";")
        name = head.split(": ", 1)[-1]
        thread = threads.setdefault(name, Thread(name))
        thread.samples += int(count)
        thread.stacks[tuple(frames)] += int(count)
    return threads


def _layer(path: str) -> str | None:
    for name, tests in LAYERS:
        if any(test in path for test in tests):
            return name
    return None


def layers(thread: Thread) -> Counter[str]:
    """Samples by layer, each charged to its innermost frame of a known layer."""
    out: Counter[str] = Counter()
    for frames, n in thread.stacks.items():
        layer = None
        for frame in reversed(frames):
            match = _FRAME.match(frame)
            if match and (layer := _layer(match["file"])):
                break
        out[layer or "other (interpreter, stdlib, no Python frame)"] += n
    return out


def inclusive(
    thread: Thread, needles: Iterable[tuple[str, str]] = INCLUSIVE
) -> list[tuple[str, int]]:
    """Samples whose stack contains each needle."""
    return [
        (label, sum(n for frames, n in thread.stacks.items() if any(needle in f for f in frames)))
        for label, needle in needles
    ]


def leaves(thread: Thread, top: int = 15) -> list[tuple[str, int]]:
    """The innermost frames that take the most samples (self time)."""
    counts: Counter[str] = Counter()
    for frames, n in thread.stacks.items():
        counts[frames[-1] if frames else "(no Python frame)"] += n
    return counts.most_common(top)


def worker_split(thread: Thread) -> Counter[str]:
    """An aiosqlite worker thread's time, by the line of its own loop it was on."""
    split: Counter[str] = Counter()
    for frames, n in thread.stacks.items():
        own = [f for f in frames if f.startswith("_connection_worker_thread ")]
        split[_worker_state(own[-1]) if own else "other"] += n
    return split


def _worker_state(frame: str) -> str:
    match = _FRAME.match(frame)
    source = _aiosqlite_source()
    line = source[int(match["line"]) - 1] if match and int(match["line"]) <= len(source) else ""
    if ".get(" in line:
        return "waiting for work (idle)"
    if "function()" in line:
        return "running the call (SQLite C code)"
    if "call_soon_threadsafe" in line:
        return "handing the result to the loop"
    return "bookkeeping"


_SOURCE: list[str] = []


def _aiosqlite_source() -> list[str]:
    if not _SOURCE:
        import aiosqlite.core

        _SOURCE.extend(Path(aiosqlite.core.__file__).read_text().splitlines())
    return _SOURCE
