"""The suite: runs the scenarios, prints the Markdown table, writes bench/results/*.json."""

from __future__ import annotations

import argparse
import datetime as dt
import importlib
import json
import math
import os
import platform
import shutil
import sqlite3
import subprocess
import tempfile
import time
from importlib import metadata
from pathlib import Path
from typing import Any

from bench.common import RESULTS, ROOT, log
from bench.modes import FULL, QUICK, Mode
from bench.report import Figure, table

SCENARIOS = ("ingest", "profile", "read", "push", "memory", "maintenance", "startup")


def machine() -> dict[str, Any]:
    """What the figures were taken on, so that runs can be compared knowingly."""
    git = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
    ).stdout.strip()
    dirty = subprocess.run(
        ["git", "status", "--porcelain", "--", "service"], cwd=ROOT, capture_output=True, text=True
    ).stdout.strip()
    versions = {}
    for name in ("litestar", "uvicorn", "h11", "sqlalchemy", "aiosqlite", "msgspec", "websockets"):
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "absent"
    for name in ("httptools", "uvloop"):
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "absent (uvicorn uses h11 and the asyncio loop)"
    return {
        "cpus": os.cpu_count(),
        "load_average": os.getloadavg(),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "git": git + ("+uncommitted service/ changes" if dirty else ""),
        "versions": versions,
    }


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(
        prog="python bench/run.py", description="Session Service benchmarks (issue 8)."
    )
    parser.add_argument("--quick", action="store_true", help="small sizes, short runs (< 2 min)")
    parser.add_argument(
        "--only", default="", help=f"comma-separated scenarios (of {', '.join(SCENARIOS)})"
    )
    parser.add_argument("--repeats", type=int, default=0, help="runs per figure (default 3)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary databases")
    args = parser.parse_args(argv)
    mode: Mode = QUICK if args.quick else FULL
    if args.repeats:
        mode = Mode(**{**mode.__dict__, "repeats": max(3, args.repeats)})
    chosen = [s.strip() for s in args.only.split(",") if s.strip()] or list(SCENARIOS)
    unknown = set(chosen) - set(SCENARIOS)
    if unknown:
        parser.error(f"unknown scenario(s): {', '.join(sorted(unknown))}")

    RESULTS.mkdir(parents=True, exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix="sessions-bench-"))
    started = time.monotonic()
    info = machine()
    log(f"{mode.name} run in {workdir} on {info['cpus']} cores, git {info['git']}")
    figures: list[Figure] = []
    details: dict[str, Any] = {}
    try:
        for name in chosen:
            log(f"{name} ...")
            began = time.monotonic()
            module = importlib.import_module(f"bench.scenarios.{name}")
            found, extra = module.run(mode, workdir)
            figures += found
            details[name] = {**extra, "seconds": time.monotonic() - began}
            log(f"{name} done in {time.monotonic() - began:.0f} s")
    finally:
        if args.keep:
            log(f"databases kept in {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)

    elapsed = time.monotonic() - started
    info["load_average_end"] = os.getloadavg()
    text = table(figures)
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    result = {
        "mode": mode.name,
        "mode_settings": mode.__dict__,
        "when": stamp,
        "seconds": elapsed,
        "machine": info,
        "figures": [f.as_json() for f in figures],
        "details": details,
        "table": text,
    }
    path = RESULTS / f"{stamp}-{mode.name}.json"
    path.write_text(json.dumps(result, indent=1, default=_jsonable))
    (RESULTS / f"latest-{mode.name}.md").write_text(text + "\n")
    header = (
        f"Session Service benchmarks, {mode.name} mode: median of {mode.repeats} runs (min, max);"
        f" {info['cpus']} cores, Python {info['python']}, SQLite {info['sqlite']},"
        f" git {info['git']}; {elapsed:.0f} s in all; 1-min load average"
        f" {info['load_average'][0]:.1f} at start, {info['load_average_end'][0]:.1f} at end."
    )
    print(header + "\n\n" + text)
    profile = details.get("profile", {}).get("text")
    if profile:
        print("\n" + profile)
    log(f"results: {path}")


def _jsonable(value: Any) -> Any:
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, Path):
        return str(value)
    return str(value)
