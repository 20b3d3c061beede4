"""`python -m bench.gcwatch serve ...`: `sessions serve` with its garbage collections timed.

A diagnostic, not a figure: it runs the real server (`service.cli.main`) with a `gc.callbacks`
hook that prints every collection of the oldest generation, and every slower one, to stderr
(the server's log file), so that pauses can be set beside latency outliers.
"""

from __future__ import annotations

import gc
import sys
import time
from typing import Any

MARK = "gcwatch"
SLOW_MS = 5.0

_started: list[float] = [0.0]


def _callback(phase: str, info: dict[str, Any]) -> None:
    if phase == "start":
        _started[0] = time.monotonic()
        return
    ms = (time.monotonic() - _started[0]) * 1000
    if info["generation"] == 2 or ms > SLOW_MS:
        sys.stderr.write(
            f"{MARK} gen={info['generation']} ms={ms:.2f} collected={info['collected']}"
            f" at={_started[0]:.4f}\n"
        )
        sys.stderr.flush()


def pauses(log_text: str) -> list[tuple[int, float, float]]:
    """(generation, milliseconds, monotonic start) of the collections a log recorded."""
    out = []
    for line in log_text.splitlines():
        if line.startswith(MARK):
            fields = dict(part.split("=", 1) for part in line.split()[1:])
            out.append((int(fields["gen"]), float(fields["ms"]), float(fields["at"])))
    return out


def main() -> None:
    from service.cli import main as sessions

    gc.callbacks.append(_callback)
    sessions(sys.argv[1:])


if __name__ == "__main__":
    main()
