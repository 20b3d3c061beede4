"""Sessions for people: the `ls` table and the `show` page."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping, Sequence
from typing import Any

from service.tools.tables import Cell, Column, render
from service.tools.terminal import BOLD, DIM, GREEN, YELLOW, paint

COLUMNS = (
    Column("ID", shrink=False),
    Column("APP"),
    Column("MODE"),
    Column("PLATFORM"),
    Column("PID", right=True, shrink=False),
    Column("STARTED", shrink=False),
    Column("DURATION", right=True, shrink=False),
    Column("STATUS"),
    Column("LOGS", right=True, shrink=False),
)
STATUS_STYLES = {"active": GREEN, "process exited": YELLOW, "idle timeout": YELLOW}
DETAILS = (
    ("id", "id"),
    ("app", "appname"),
    ("mode", "mode"),
    ("platform", "platform"),
    ("pid", "pid"),
    ("parent", "parent_session_id"),
    ("job", "jobid"),
)


def session_table(
    sessions: Sequence[Mapping[str, Any]],
    *,
    now: dt.datetime,
    width: int | None = None,
    colour: bool = False,
) -> list[str]:
    """One row per session, newest first as the server lists them."""
    rows = [_row(info, now) for info in sessions]
    return render(COLUMNS, rows, width=width, colour=colour)


def session_details(
    info: Mapping[str, Any], *, now: dt.datetime, colour: bool = False
) -> list[str]:
    """Every field of a session, one per line, then its metadata."""
    pairs = [(label, str(info[key])) for label, key in DETAILS if info.get(key)]
    reason = _status(info)
    pairs.append(("status", reason if reason == "active" else f"ended ({reason})"))
    for label, key in (("started", "created_at"), ("ended", "ended_at"), ("updated", "updated_at")):
        if info.get(key):
            pairs.append((label, f"{info[key]} ({_ago(_parse(info[key]), now)})"))
    pairs.append(("duration", duration(_elapsed(info, now))))
    pairs.append(("log entries", f"{info.get('log_count', 0):,}"))
    lines = [f"{paint(label.ljust(12), BOLD, colour)}{value}" for label, value in pairs]
    metadata = info.get("metadata") or {}
    lines.append(paint("metadata", BOLD, colour) + ("" if metadata else "    (none)"))
    size = max((len(str(key)) for key in metadata), default=0) + 2
    lines += [f"  {str(key).ljust(size)}{_value(value)}" for key, value in metadata.items()]
    return lines


def duration(seconds: float) -> str:
    """`4.2s`, `3m05s`, `2h07m`, `5d03h`."""
    if seconds < 10:
        return f"{max(seconds, 0.0):.1f}s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours}h{minutes:02d}m"
    days, hours = divmod(hours, 24)
    return f"{days}d{hours:02d}h"


def local_time(timestamp: str) -> str:
    """A wire timestamp as local wall-clock time, to the second."""
    return _parse(timestamp).astimezone().strftime("%Y-%m-%d %H:%M:%S")


def _row(info: Mapping[str, Any], now: dt.datetime) -> list[str | Cell]:
    status = _status(info) if info.get("ended_at") else "active"
    return [
        info["id"],
        info.get("appname", ""),
        info.get("mode", ""),
        info.get("platform", ""),
        str(info.get("pid", "")),
        local_time(info["created_at"]) if info.get("created_at") else "",
        duration(_elapsed(info, now)),
        Cell(status, STATUS_STYLES.get(status, DIM)),
        f"{info.get('log_count', 0):,}",
    ]


def _status(info: Mapping[str, Any]) -> str:
    if not info.get("ended_at"):
        return "active"
    return info.get("end_reason") or "ended"


def _elapsed(info: Mapping[str, Any], now: dt.datetime) -> float:
    if not info.get("created_at"):
        return 0.0
    end = _parse(info["ended_at"]) if info.get("ended_at") else now
    return (end - _parse(info["created_at"])).total_seconds()


def _ago(when: dt.datetime, now: dt.datetime) -> str:
    return f"{duration((now - when).total_seconds())} ago"


def _parse(timestamp: str) -> dt.datetime:
    value = dt.datetime.fromisoformat(timestamp)
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def _value(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
