"""Small shared helpers: paths, ports, percentiles and run summaries."""

from __future__ import annotations

import math
import socket
import statistics
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
# Every process of the suite (server, load generators) runs on the interpreter that runs it.
PYTHON = sys.executable
HOST = "127.0.0.1"


def free_port() -> int:
    """A loopback TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def percentile(ordered: Sequence[float], q: float) -> float:
    """Nearest-rank percentile of an already sorted sequence (q in 0..100); NaN when empty."""
    if not ordered:
        return math.nan
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return float(ordered[min(rank, len(ordered)) - 1])


def spread(values: Sequence[float]) -> dict[str, float]:
    """Median, min and max of the runs of one figure (NaN runs are left out)."""
    kept = [v for v in values if not math.isnan(v)]
    if not kept:
        return {"median": math.nan, "min": math.nan, "max": math.nan}
    return {"median": statistics.median(kept), "min": min(kept), "max": max(kept)}


def log(message: str) -> None:
    """Progress goes to stderr so that stdout stays the report."""
    print(message, file=sys.stderr, flush=True)


class Rounds(list[dict[str, float]]):
    """The figures of each repeat of a scenario, by key."""

    def runs(self, key: str) -> list[float]:
        """One figure across the rounds; NaN where a round has none."""
        return [r.get(key, math.nan) for r in self]


def repeat(name: str, times: int, one_round: Callable[[int], dict[str, float]]) -> Rounds:
    """A scenario's round run `times` times (given its index), progress logged."""
    rounds = Rounds()
    for i in range(times):
        log(f"  {name} round {i + 1}/{times}")
        rounds.append(one_round(i))
    return rounds
