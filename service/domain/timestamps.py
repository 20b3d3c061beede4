"""Timestamps as ISO-8601 UTC text with milliseconds, the same string in SQL and on the wire."""

from __future__ import annotations

import datetime as dt
import re

_TICKS_PER_MICROSECOND = 10
_MAX_TICKS = 3_155_378_975_999_999_999  # 9999-12-31T23:59:59.9999999
_YEAR_ONE = dt.datetime(1, 1, 1, tzinfo=dt.UTC)
# The stored form itself, as most clients send it: only its values need checking.
_CANONICAL = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z")


def format_timestamp(value: dt.datetime) -> str:
    """`2026-12-04T19:36:39.123Z`: UTC, milliseconds truncated."""
    if value.tzinfo:
        value = value.astimezone(dt.UTC).replace(tzinfo=None)
    return value.isoformat(timespec="milliseconds") + "Z"


def now_timestamp(clock: float) -> str:
    """The timestamp text of a POSIX time."""
    return format_timestamp(dt.datetime.fromtimestamp(clock, dt.UTC))


def parse_timestamp(text: str) -> str:
    """Normalize any ISO-8601 text (no zone means UTC); ValueError if it is not one."""
    try:
        if len(text) == 24 and _CANONICAL.fullmatch(text):
            dt.datetime.fromisoformat(text)  # a real date and time (no month 13)
            return text
        value = dt.datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"'{text}' is not an ISO-8601 timestamp") from None
    if value.tzinfo is None:
        return format_timestamp(value)
    try:
        return format_timestamp(value.astimezone(dt.UTC))
    except OverflowError:
        raise ValueError(f"'{text}' is out of range") from None


def timestamp_from_ticks(ticks: int) -> str:
    """The timestamp text of Unreal DateTime ticks (100 ns since 0001-01-01)."""
    if not 0 <= ticks <= _MAX_TICKS:
        raise ValueError(f"DateTime {ticks} is out of range")
    return format_timestamp(_YEAR_ONE + dt.timedelta(microseconds=ticks // _TICKS_PER_MICROSECOND))


def ticks_from_timestamp(text: str) -> int:
    """Unreal DateTime ticks of a stored timestamp text."""
    delta = dt.datetime.fromisoformat(text) - _YEAR_ONE
    return (delta.days * 86_400 + delta.seconds) * 10_000_000 + delta.microseconds * 10
