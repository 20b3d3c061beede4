"""Timestamps as ISO-8601 UTC text with milliseconds, the same string in SQL and on the wire."""

from __future__ import annotations

import datetime as dt

_TICKS_PER_MICROSECOND = 10
_MAX_TICKS = 3_155_378_975_999_999_999  # 9999-12-31T23:59:59.9999999
_YEAR_ONE = dt.datetime(1, 1, 1, tzinfo=dt.UTC)


def format_timestamp(value: dt.datetime) -> str:
    """`2026-12-04T19:36:39.123Z`: UTC, milliseconds truncated."""
    value = value.astimezone(dt.UTC) if value.tzinfo else value
    return (
        f"{value.year:04d}-{value.month:02d}-{value.day:02d}T{value.hour:02d}:"
        f"{value.minute:02d}:{value.second:02d}.{value.microsecond // 1000:03d}Z"
    )


def now_timestamp(clock: float) -> str:
    """The timestamp text of a POSIX time."""
    return format_timestamp(dt.datetime.fromtimestamp(clock, dt.UTC))


def parse_timestamp(text: str) -> str:
    """Normalize any ISO-8601 text (no zone means UTC); ValueError if it is not one."""
    try:
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
