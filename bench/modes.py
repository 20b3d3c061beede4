"""How long and how large each scenario runs, in the quick and the full mode."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Mode:
    """Sizes and durations; every load is bounded by both a count and a time."""

    name: str
    repeats: int = 3
    warmup: float = 0.5  # seconds of load before a measuring window opens
    ingest_seconds: float = 3.0
    ceiling_seconds: float = 2.0  # /health, no-op POST, raw SQLite
    ceiling_levels: tuple[int, ...] = (1, 16, 64)  # client counts of the HTTP ceilings
    read_entries: int = 1_000_000
    read_sessions: int = 1_000
    read_seconds: float = 2.5
    read_offset: bool = True  # also an OFFSET page, to compare with cursor pages
    push_rate: float = 50.0  # paced POSTs per second for the push latency (x50 entries)
    push_seconds: float = 3.0
    push_without_deflate: bool = True  # also measure subscribers that do not offer it
    memory_entries: int = 2_000_000
    stall_entries: int = 200_000
    prune_entries: int = 1_000_000
    prune_timeout: float = 180.0
    startup_entries: int = 5_000_000
    profile_seconds: float = 10.0


FULL = Mode(name="full")
QUICK = Mode(
    name="quick",
    warmup=0.2,
    ingest_seconds=0.6,
    ceiling_seconds=0.4,
    ceiling_levels=(16,),
    read_seconds=0.4,
    read_offset=False,
    push_seconds=1.0,
    push_without_deflate=False,
    memory_entries=100_000,
    stall_entries=25_000,
    prune_entries=100_000,
    prune_timeout=60.0,
    startup_entries=1_000_000,
    profile_seconds=2.0,
)
