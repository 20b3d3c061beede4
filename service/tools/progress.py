"""A one-line progress bar on a terminal's stderr, drawn at most ten times a second."""

from __future__ import annotations

import shutil
import time
from typing import TextIO

REDRAW_SECONDS = 0.1
CLEAR = "\r\x1b[K"


class Progress:
    """`label [#####-----]  42%  4,200/10,000`; nothing at all when not enabled."""

    def __init__(self, stream: TextIO, total: int, *, label: str, enabled: bool) -> None:
        self.stream = stream
        self.total = total
        self.label = label
        self.enabled = enabled
        self.done = 0
        self._drawn = 0.0

    def advance(self, count: int) -> None:
        """Count `count` more items done; redraw if it is time."""
        self.done += count
        now = time.monotonic()
        if self.enabled and now - self._drawn >= REDRAW_SECONDS:
            self._drawn = now
            self.stream.write(CLEAR + self.line(shutil.get_terminal_size().columns - 1))
            self.stream.flush()

    def close(self) -> None:
        """Clear the bar's line."""
        if self.enabled and self._drawn:
            self.stream.write(CLEAR)
            self.stream.flush()

    def line(self, width: int) -> str:
        """The bar's text, no wider than `width`."""
        total = max(self.total, self.done, 1)
        share = self.done / total
        counts = f" {share:4.0%}  {self.done:,}/{total:,}"
        room = width - len(self.label) - len(counts) - 3
        if room < 5:
            return (self.label + counts)[:width]
        filled = round(room * share)
        return f"{self.label} [{'#' * filled}{'-' * (room - filled)}]{counts}"
