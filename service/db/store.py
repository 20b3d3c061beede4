"""Queries: reads are async functions over a reader connection; writes are plain functions
the writer runs inside its transaction. Both return Structs."""

from __future__ import annotations

import enum
from collections.abc import Sequence
from typing import Any

import msgspec
from sqlalchemy import Connection, and_, case, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from service.db.engine import last_insert_cursor
from service.db.tables import log_entries, sessions

# Row of the hot insert, in column order: session_id, timestamp, level, logger, message,
# format, fields (JSON), fields_cb (the fields' compact binary, when they were sent so).
LogRow = tuple[str, str, str | None, str | None, str, str | None, str | None, bytes | None]

# The statements of a log append go to the driver as plain SQL: SQLAlchemy's statement
# handling would cost more than SQLite's work on a 50-entry batch.
_INSERT_LOG = (
    "INSERT INTO log_entries "
    "(session_id, timestamp, level, logger, message, format, fields, fields_cb) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
)
_COUNT_LOG = (
    "UPDATE sessions SET log_count = log_count + ?, log_bytes = log_bytes + ?, updated_at = ? "
    "WHERE id = ?"
)
_EARLIER_ANSWER = (
    "SELECT response FROM idempotency_keys WHERE session_id = ? AND key = ? AND created_at >= ?"
)
_REMEMBER_ANSWER = (
    "INSERT OR REPLACE INTO idempotency_keys (session_id, key, response, created_at) "
    "VALUES (?, ?, ?, ?)"
)


class TypedJson:
    """A stored JSON value that also has its original compact binary, to answer with its types."""

    __slots__ = ("compact", "json")

    def __init__(self, json: str, compact: bytes) -> None:
        self.json = json
        self.compact = compact


def stored_value(json: str | None, compact: bytes | None) -> msgspec.Raw | TypedJson | None:
    """A JSON column as a wire value, keeping its compact-binary twin when there is one."""
    if not json:
        return None
    return TypedJson(json, compact) if compact else msgspec.Raw(json)


class SessionRow(msgspec.Struct, kw_only=True, omit_defaults=True):
    """One session as stored, in wire order; empty values are left out when encoded."""

    id: str
    appname: str = ""
    mode: str = ""
    platform: str = ""
    pid: int = 0
    parent_session_id: str = ""
    jobid: str = ""
    created_at: str
    updated_at: str
    ended_at: str = ""
    end_reason: str = ""
    status: str
    log_count: int = 0
    metadata: msgspec.Raw | TypedJson | msgspec.UnsetType = msgspec.UNSET


class EntryRow(msgspec.Struct, kw_only=True, omit_defaults=True):
    """One log entry as stored, in wire order; empty values are left out when encoded."""

    cursor: int
    timestamp: str
    level: str | None = None
    logger: str | None = None
    message: str | None = None
    format: str | None = None
    fields: msgspec.Raw | TypedJson | None = None


class Outcome(enum.Enum):
    """Results of writes that are not errors of the database."""

    NOT_FOUND = "not found"
    CREATED = "created"
    UPDATED = "updated"


class Appended(msgspec.Struct):
    """What a log append answers: the last cursor written and how many entries."""

    cursor: int
    count: int


_SESSION_COLUMNS = (
    sessions.c.id,
    sessions.c.appname,
    sessions.c.mode,
    sessions.c.platform,
    sessions.c.pid,
    sessions.c.parent_session_id,
    sessions.c.jobid,
    sessions.c.created_at,
    sessions.c.updated_at,
    sessions.c.ended_at,
    sessions.c.end_reason,
    sessions.c.log_count,
    sessions.c.metadata,
    sessions.c.metadata_cb,
)


_ENTRY_COLUMNS = (
    log_entries.c.cursor,
    log_entries.c.timestamp,
    log_entries.c.level,
    log_entries.c.logger,
    log_entries.c.message,
    log_entries.c.format,
    log_entries.c.fields,
    log_entries.c.fields_cb,
)


def _session(row: Any) -> SessionRow:
    metadata = row.metadata
    return SessionRow(
        id=row.id,
        appname=row.appname,
        mode=row.mode,
        platform=row.platform,
        pid=row.pid or 0,
        parent_session_id=row.parent_session_id or "",
        jobid=row.jobid or "",
        created_at=row.created_at,
        updated_at=row.updated_at,
        ended_at=row.ended_at or "",
        end_reason=row.end_reason or "",
        status="ended" if row.ended_at else "active",
        log_count=row.log_count,
        metadata=(
            stored_value(metadata, row.metadata_cb) or msgspec.UNSET
            if metadata != "{}"
            else msgspec.UNSET
        ),
    )


def _entry(row: Any) -> EntryRow:
    cursor, timestamp, level, logger, message, fmt, fields, fields_cb = row
    return EntryRow(
        cursor=cursor,
        timestamp=timestamp,
        level=level,
        logger=logger,
        message=message or None,
        format=fmt,
        fields=stored_value(fields, fields_cb),
    )


async def get_session(conn: AsyncConnection, session_id: str) -> SessionRow | None:
    """One session, or None."""
    result = await conn.execute(select(*_SESSION_COLUMNS).where(sessions.c.id == session_id))
    row = result.first()
    return _session(row) if row else None


async def list_sessions(
    conn: AsyncConnection, *, status: str, filters: dict[str, str], limit: int
) -> list[SessionRow]:
    """Sessions by status and exact-match filters: active first, each newest first."""
    query = select(*_SESSION_COLUMNS)
    if status == "active":
        query = query.where(sessions.c.ended_at.is_(None))
    elif status == "ended":
        query = query.where(sessions.c.ended_at.is_not(None))
    for name, value in filters.items():
        query = query.where(sessions.c[name] == value)
    ended_last = case((sessions.c.ended_at.is_(None), 0), else_=1)
    query = query.order_by(ended_last, sessions.c.created_at.desc(), sessions.c.id.desc())
    result = await conn.execute(query.limit(limit))
    return [_session(row) for row in result]


async def read_log_after(
    conn: AsyncConnection, session_id: str, cursor: int, limit: int
) -> list[EntryRow]:
    """Up to limit entries of a session with a cursor above the given one, in cursor order."""
    c = log_entries.c
    query = (
        select(*_ENTRY_COLUMNS)
        .where(and_(c.session_id == session_id, c.cursor > cursor))
        .order_by(c.cursor)
        .limit(limit)
    )
    return [_entry(row) for row in await conn.execute(query)]


async def read_log_offset(
    conn: AsyncConnection, session_id: str, offset: int, limit: int
) -> list[EntryRow]:
    """Up to limit entries of a session, skipping the first offset, in cursor order."""
    c = log_entries.c
    query = (
        select(*_ENTRY_COLUMNS)
        .where(c.session_id == session_id)
        .order_by(c.cursor)
        .offset(offset)
        .limit(limit)
    )
    return [_entry(row) for row in await conn.execute(query)]


async def store_figures(conn: AsyncConnection) -> dict[str, int]:
    """Session counts and stored log totals, from the counters (no log table scan)."""
    query = select(
        func.count(),
        func.count(sessions.c.ended_at),
        func.coalesce(func.sum(sessions.c.log_count), 0),
        func.coalesce(func.sum(sessions.c.log_bytes), 0),
    )
    total, ended, entries, nbytes = (await conn.execute(query)).one()
    return {
        "sessions": total,
        "active": total - ended,
        "ended": ended,
        "entries": entries,
        "bytes": nbytes,
    }


def register_session(
    conn: Connection, values: dict[str, Any], *, now: str, update_metadata: bool
) -> Outcome:
    """Create a session, or on an existing one replace its metadata when given."""
    session_id = values["id"]
    exists = conn.scalar(select(sessions.c.id).where(sessions.c.id == session_id))
    if exists is None:
        conn.execute(insert(sessions).values(**values, created_at=now, updated_at=now))
        return Outcome.CREATED
    changes: dict[str, Any] = {"updated_at": now}
    if update_metadata:
        changes["metadata"] = values["metadata"]
        changes["metadata_cb"] = values.get("metadata_cb")
    conn.execute(update(sessions).where(sessions.c.id == session_id).values(**changes))
    return Outcome.UPDATED


def replace_metadata(
    conn: Connection, session_id: str, metadata: str, metadata_cb: bytes | None, *, now: str
) -> Outcome:
    """Replace the metadata of a session."""
    result = conn.execute(
        update(sessions)
        .where(sessions.c.id == session_id)
        .values(metadata=metadata, metadata_cb=metadata_cb, updated_at=now)
    )
    return Outcome.UPDATED if result.rowcount else Outcome.NOT_FOUND


def end_session(
    conn: Connection, session_id: str, *, reason: str, now: str, final_line: LogRow
) -> Appended | Outcome:
    """End an active session and append its final log line."""
    result = conn.execute(
        update(sessions)
        .where(and_(sessions.c.id == session_id, sessions.c.ended_at.is_(None)))
        .values(ended_at=now, end_reason=reason, updated_at=now)
    )
    if not result.rowcount:
        return Outcome.NOT_FOUND
    return append_log(conn, session_id, [final_line], nbytes=len(final_line[4].encode()), now=now)


def append_log(
    conn: Connection,
    session_id: str,
    rows: Sequence[LogRow],
    *,
    nbytes: int,
    now: str,
    idempotency_key: str | None = None,
    idempotency_since: str = "",
) -> Appended | Outcome:
    """Append a batch: the new cursors, the first answer to a repeated key, or NOT_FOUND."""
    driver: Any = conn.connection.driver_connection
    if idempotency_key is not None:
        earlier = driver.execute(
            _EARLIER_ANSWER, (session_id, idempotency_key, idempotency_since)
        ).fetchone()
        if earlier is not None:
            return msgspec.json.decode(earlier[0], type=Appended)
    # The counter update doubles as the existence check: one statement less per batch.
    if not driver.execute(_COUNT_LOG, (len(rows), nbytes, now, session_id)).rowcount:
        return Outcome.NOT_FOUND
    appended = Appended(cursor=0, count=len(rows))
    if rows:
        driver.executemany(_INSERT_LOG, rows)
        appended.cursor = last_insert_cursor(driver)
    if idempotency_key is not None:
        answer = msgspec.json.encode(appended).decode()
        driver.execute(_REMEMBER_ANSWER, (session_id, idempotency_key, answer, now))
    return appended
