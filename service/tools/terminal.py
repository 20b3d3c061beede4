"""What the terminal can show: its width, and colours only on a TTY that wants them."""

from __future__ import annotations

import os
import shutil
from typing import TextIO

RESET = "\x1b[0m"
BOLD = "1"
DIM = "2"
RED = "31"
GREEN = "32"
YELLOW = "33"
BOLD_RED = "1;31"


def is_tty(stream: TextIO) -> bool:
    """Whether the stream is a terminal (a closed or odd stream is not)."""
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def wants_colour(stream: TextIO) -> bool:
    """Colours on a terminal only, unless `NO_COLOR` is set or the terminal is dumb."""
    if "NO_COLOR" in os.environ or os.environ.get("TERM") == "dumb":
        return False
    return is_tty(stream)


def width(stream: TextIO) -> int | None:
    """The terminal's width in columns, or None (no limit) when the stream is not a terminal."""
    return shutil.get_terminal_size().columns if is_tty(stream) else None


def paint(text: str, style: str | None, colour: bool) -> str:
    """`text` in an SGR style (`"1;31"`) when colour is on."""
    return f"\x1b[{style}m{text}{RESET}" if colour and style else text


def printable(text: str) -> str:
    """One line of text that cannot move the cursor: control characters as escapes."""
    if text.isprintable():
        return text
    return "".join(char if char.isprintable() else repr(char)[1:-1] for char in text)
