"""One log entry as a line of text or JSON, and the minimum-level filter of tail and export."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import msgspec

from service.domain.levels import LEVELS, parse_level
from service.tools.terminal import BOLD_RED, DIM, RED, YELLOW, paint

RANKS = {name: rank for rank, name in enumerate(LEVELS)}
LEVEL_WIDTH = 5
STYLES = {"trace": DIM, "debug": DIM, "warn": YELLOW, "error": RED, "critical": BOLD_RED}
# Everything that could move a terminal's cursor or change its state, but line breaks and tabs.
_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def minimum_rank(name: str) -> int:
    """The rank of a level name given on the command line (aliases allowed)."""
    level = parse_level(name)
    if level not in RANKS:
        raise ValueError(f"unknown level '{name}'; use one of {', '.join(LEVELS)}")
    return RANKS[level]


def passes(entry: Mapping[str, Any], minimum: int | None) -> bool:
    """At least the minimum level; an entry without a level, or with an unknown one, passes."""
    if minimum is None:
        return True
    rank = RANKS.get(entry.get("level") or "")
    return rank is None or rank >= minimum


def text_line(entry: Mapping[str, Any], *, colour: bool = False, safe: bool = False) -> str:
    """`timestamp level logger: message`; `safe` (for a terminal) shows control characters."""
    level = entry.get("level") or "-"
    pad = " " * (LEVEL_WIDTH - len(level))
    logger = entry.get("logger")
    message = entry.get("message", "")
    if safe:
        message = _CONTROLS.sub(lambda match: repr(match.group())[1:-1], message)
    text = f"{logger}: {message}" if logger else message
    return f"{entry.get('timestamp', '')} {paint(level, STYLES.get(level), colour)}{pad} {text}"


def json_line(entry: Mapping[str, Any]) -> str:
    """The entry as it is on the wire, one compact JSON object."""
    return msgspec.json.encode(entry).decode()
