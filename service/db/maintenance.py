"""Queries of the maintenance jobs: what to prune, deleting it in chunks, who to check."""

from __future__ import annotations

import msgspec
from sqlalchemy import Connection, LargeBinary, and_, case, cast, delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from service.db.tables import idempotency_keys, log_entries, sessions

AGE, COUNT, STORAGE = "age", "count", "storage"


class Prunable(msgspec.Struct, frozen=True):
    """An ended session a prune removes, and the rule that removes it."""

    id: str
    appname: str
    ended_at: str
    reason: str
    log_count: int
    log_bytes: int


class LocalSession(msgspec.Struct, frozen=True):
    """An active session of a local process, as liveness checks it."""

    id: str
    appname: str
    pid: int
    pid_started_at: str | None


class Deleted(msgspec.Struct):
    """Log entries deleted and the message bytes they held."""

    entries: int = 0
    bytes: int = 0


async def prunable(
    conn: AsyncConnection,
    *,
    ended_before: str | None,
    keep_ended: int | None,
    max_log_bytes: int | None,
) -> list[Prunable]:
    """Ended sessions past a limit, oldest first; a disabled limit is None.

    The limits each select a prefix of the ended sessions ordered oldest first: ended before
    the cutoff; ranked beyond `keep_ended` by recency; or while the log bytes of all sessions
    (active ones included) minus those of the older ended sessions exceed `max_log_bytes`.
    """
    s = sessions.c
    oldest_first = (s.ended_at, s.created_at, s.id)
    newest_first = (s.ended_at.desc(), s.created_at.desc(), s.id.desc())
    ranked = (
        select(
            s.id,
            s.appname,
            s.ended_at,
            s.created_at,
            s.log_count,
            s.log_bytes,
            func.row_number().over(order_by=newest_first).label("recency"),
            (func.sum(s.log_bytes).over(order_by=oldest_first, rows=(None, 0)) - s.log_bytes).label(
                "older_bytes"
            ),
        )
        .where(s.ended_at.is_not(None))
        .subquery()
    )
    r = ranked.c
    rules = []
    if ended_before is not None:
        rules.append((r.ended_at < ended_before, AGE))
    if keep_ended is not None:
        rules.append((r.recency > keep_ended, COUNT))
    if max_log_bytes is not None:
        stored = select(func.coalesce(func.sum(s.log_bytes), 0)).scalar_subquery()
        rules.append((stored - r.older_bytes > max_log_bytes, STORAGE))
    if not rules:
        return []
    query = (
        select(r.id, r.appname, r.ended_at, case(*rules).label("reason"), r.log_count, r.log_bytes)
        .where(or_(*(condition for condition, _ in rules)))
        .order_by(r.ended_at, r.created_at, r.id)
    )
    return [Prunable(*row) for row in await conn.execute(query)]


def delete_log_chunk(
    conn: Connection, session_id: str, ended_at: str, limit: int
) -> Deleted | None:
    """Delete a session's oldest `limit` entries and count them off its counters.

    None when the session is no longer the ended session that was chosen (gone already).
    """
    if not _still_ended(conn, session_id, ended_at):
        return None
    c = log_entries.c
    chunk = (
        select(c.cursor, c.message)
        .where(c.session_id == session_id)
        .order_by(c.cursor)
        .limit(limit)
        .subquery()
    )
    last, entries, nbytes = (
        conn.execute(
            select(
                func.max(chunk.c.cursor),
                func.count(),
                func.coalesce(func.sum(func.length(cast(chunk.c.message, LargeBinary))), 0),
            )
        )
    ).one()
    if not entries:
        return Deleted()
    conn.execute(delete(log_entries).where(and_(c.session_id == session_id, c.cursor <= last)))
    conn.execute(
        update(sessions)
        .where(sessions.c.id == session_id)
        .values(
            log_count=sessions.c.log_count - entries,
            log_bytes=sessions.c.log_bytes - nbytes,
        )
    )
    return Deleted(entries, nbytes)


def delete_session(conn: Connection, session_id: str, ended_at: str) -> Deleted | None:
    """Delete an ended session with what is left of its log and its idempotency keys.

    None when the session is no longer the ended session that was chosen.
    """
    if not _still_ended(conn, session_id, ended_at):
        return None
    c = log_entries.c
    # Normally nothing is left: only entries appended since the last chunk.
    entries, nbytes = (
        conn.execute(
            select(
                func.count(), func.coalesce(func.sum(func.length(cast(c.message, LargeBinary))), 0)
            ).where(c.session_id == session_id)
        )
    ).one()
    conn.execute(delete(log_entries).where(c.session_id == session_id))
    conn.execute(delete(idempotency_keys).where(idempotency_keys.c.session_id == session_id))
    conn.execute(delete(sessions).where(sessions.c.id == session_id))
    return Deleted(entries, nbytes)


def _still_ended(conn: Connection, session_id: str, ended_at: str) -> bool:
    """The session is still the one chosen: ended at that time (not pruned and registered anew)."""
    found = conn.scalar(
        select(sessions.c.id).where(
            and_(sessions.c.id == session_id, sessions.c.ended_at == ended_at)
        )
    )
    return found is not None


async def local_active(conn: AsyncConnection, *, besides: str) -> list[LocalSession]:
    """Active sessions that have a local pid, but one (the server's own)."""
    s = sessions.c
    query = select(s.id, s.appname, s.pid, s.pid_started_at).where(
        and_(s.ended_at.is_(None), s.pid.is_not(None), s.id != besides)
    )
    return [LocalSession(*row) for row in await conn.execute(query)]


async def idle_active(conn: AsyncConnection, *, updated_before: str, besides: str) -> list[str]:
    """Active sessions unchanged and silent since before a time, but one (the server's own)."""
    s = sessions.c
    query = (
        select(s.id)
        .where(and_(s.ended_at.is_(None), s.updated_at < updated_before, s.id != besides))
        .order_by(s.updated_at)
    )
    return list((await conn.scalars(query)).all())


def delete_expired_keys(conn: Connection, *, created_before: str, limit: int) -> int:
    """Delete about `limit` of the oldest idempotency keys created before a time; how many."""
    k = idempotency_keys.c
    expired = k.created_at < created_before
    # The created_at of the limit-th oldest expired key bounds this chunk (ties may add a few).
    bound = conn.scalar(
        select(k.created_at).where(expired).order_by(k.created_at).limit(1).offset(limit - 1)
    )
    condition = expired if bound is None else k.created_at <= bound
    result = conn.execute(delete(idempotency_keys).where(condition))
    return int(result.rowcount)
