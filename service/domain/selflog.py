"""The server's own log records go into its self session, without ever blocking a request."""

from __future__ import annotations

import asyncio
import logging
import sys
from collections import deque

from service.db.store import LogRow
from service.domain.levels import parse_level
from service.domain.logs import Batch
from service.domain.sessions import Sessions
from service.domain.timestamps import now_timestamp

FLUSH_SECONDS = 0.5
BUFFER = 10_000


class SelfLogHandler(logging.Handler):
    """Buffers records (bounded, dropping the oldest); a task ships them in batches."""

    def __init__(self) -> None:
        super().__init__()
        self.buffer: deque[logging.LogRecord] = deque(maxlen=BUFFER)

    def emit(self, record: logging.LogRecord) -> None:
        """Keep the record for the next flush; never blocks, never raises."""
        self.buffer.append(record)

    def take(self, session_id: str) -> Batch:
        """Everything buffered, as rows of the self session."""
        rows: list[LogRow] = []
        nbytes = 0
        while self.buffer:
            record = self.buffer.popleft()
            try:
                message = self.format(record)
            except Exception:
                message = str(record.msg)
            nbytes += len(message.encode())
            level = parse_level(record.levelname)
            rows.append(
                (
                    session_id,
                    now_timestamp(record.created),
                    level,
                    record.name,
                    message,
                    None,
                    None,
                    None,
                )
            )
        return Batch(rows=rows, nbytes=nbytes, truncated=0)

    async def ship(self, sessions: Sessions) -> int:
        """Write what is buffered into the self session; returns how many records."""
        if not self.buffer or not sessions.self_id:
            return 0
        batch = self.take(sessions.self_id)
        try:
            await sessions.append(sessions.self_id, batch, None)
        except Exception as exc:  # the server's own log must never take the server down
            print(f"sessions: lost {len(batch.rows)} own log records: {exc}", file=sys.stderr)
            return 0
        return len(batch.rows)

    async def run(self, sessions: Sessions) -> None:
        """Ship buffered records every FLUSH_SECONDS until cancelled."""
        while True:
            await asyncio.sleep(FLUSH_SECONDS)
            await self.ship(sessions)
