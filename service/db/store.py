"""Queries: small async functions over a connection that return Structs."""

from __future__ import annotations

import enum
from collections.abc import Sequence
from typing import Any

import msgspec
from sqlalchemy import and_, case, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from service.db.engine import last_insert_cursor
from service.db.tables import idempotency_keys, log_entries, sessions

# Row of the hot insert, in column order: session_id, timestamp, level, logger, message,
# format, fields (JSON), fields_cb (the fields' compact binary, when they were sent so).
LogRow = tuple[str, str, str | None, str | None, str, str | None, str | None, bytes | None]

_INSERT_LOG = (
    "INSERT INTO log_entries "
    "(session_id, timestamp, level, logger, message, format, fields, fields_cb) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
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


async def register_session(
    conn: AsyncConnection, values: dict[str, Any], *, now: str, update_metadata: bool
) -> Outcome:
    """Create a session, or on an existing one replace its metadata when given."""
    session_id = values["id"]
    exists = await conn.scalar(select(sessions.c.id).where(sessions.c.id == session_id))
    if exists is None:
        await conn.execute(insert(sessions).values(**values, created_at=now, updated_at=now))
        return Outcome.CREATED
    changes: dict[str, Any] = {"updated_at": now}
    if update_metadata:
        changes["metadata"] = values["metadata"]
        changes["metadata_cb"] = values.get("metadata_cb")
    await conn.execute(update(sessions).where(sessions.c.id == session_id).values(**changes))
    return Outcome.UPDATED


async def replace_metadata(
    conn: AsyncConnection, session_id: str, metadata: str, metadata_cb: bytes | None, *, now: str
) -> Outcome:
    """Replace the metadata of a session."""
    result = await conn.execute(
        update(sessions)
        .where(sessions.c.id == session_id)
        .values(metadata=metadata, metadata_cb=metadata_cb, updated_at=now)
    )
    return Outcome.UPDATED if result.rowcount else Outcome.NOT_FOUND


async def end_session(
    conn: AsyncConnection, session_id: str, *, reason: str, now: str, final_line: LogRow
) -> Appended | Outcome:
    """End an active session and append its final log line."""
    result = await conn.execute(
        update(sessions)
        .where(and_(sessions.c.id == session_id, sessions.c.ended_at.is_(None)))
        .values(ended_at=now, end_reason=reason, updated_at=now)
    )
    if not result.rowcount:
        return Outcome.NOT_FOUND
    return await append_log(
        conn, session_id, [final_line], nbytes=len(final_line[4].encode()), now=now
    )


async def append_log(
    conn: AsyncConnection,
    session_id: str,
    rows: Sequence[LogRow],
    *,
    nbytes: int,
    now: str,
    idempotency_key: str | None = None,
    idempotency_since: str = "",
) -> Appended | Outcome:
    """Append a batch: the new cursors, the first answer to a repeated key, or NOT_FOUND."""
    if idempotency_key is not None:
        earlier = await conn.scalar(
            select(idempotency_keys.c.response).where(
                idempotency_keys.c.session_id == session_id,
                idempotency_keys.c.key == idempotency_key,
                idempotency_keys.c.created_at >= idempotency_since,
            )
        )
        if earlier is not None:
            return msgspec.json.decode(earlier, type=Appended)
    # The counter update doubles as the existence check: one statement less per batch.
    counted = await conn.execute(
        update(sessions)
        .where(sessions.c.id == session_id)
        .values(
            log_count=sessions.c.log_count + len(rows),
            log_bytes=sessions.c.log_bytes + nbytes,
            updated_at=now,
        )
    )
    if not counted.rowcount:
        return Outcome.NOT_FOUND
    appended = Appended(cursor=0, count=len(rows))
    if rows:
        # The hot insert goes straight to the driver, inside the same transaction.
        raw = await conn.get_raw_connection()
        await raw.driver_connection.executemany(_INSERT_LOG, rows)  # type: ignore[union-attr]
        appended.cursor = await last_insert_cursor(conn)
    if idempotency_key is not None:
        await conn.execute(
            insert(idempotency_keys)
            .prefix_with("OR REPLACE")
            .values(
                session_id=session_id,
                key=idempotency_key,
                response=msgspec.json.encode(appended).decode(),
                created_at=now,
            )
        )
    return appended
