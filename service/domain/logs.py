"""Log intake: turns a decoded batch into the rows the writer inserts."""

from __future__ import annotations

import re
from typing import Any

import msgspec

from service.compactbinary import DateTime
from service.db.store import LogRow
from service.domain.errors import InvalidInput, TooLarge
from service.domain.levels import parse_level
from service.domain.templates import render
from service.domain.timestamps import parse_timestamp, timestamp_from_ticks
from service.domain.values import stored


class LogRecord(msgspec.Struct):
    """One structured log record as a client sends it."""

    level: str | int | None = None
    logger: str | None = None
    message: str | None = None
    format: str | None = None
    fields: dict[str, Any] | None = None
    timestamp: Any = None


class LogBody(LogRecord):
    """A log request body: one record, or a batch under `entries`."""

    entries: list[LogRecord] | None = None

    def records(self) -> list[LogRecord]:
        """The records of the batch, in order."""
        return [self] if self.entries is None else self.entries


class Batch(msgspec.Struct):
    """Rows ready for the writer, with the figures the counters need."""

    rows: list[LogRow]
    nbytes: int
    truncated: int


class Limits(msgspec.Struct, frozen=True):
    """How large one entry and one batch may be."""

    entry_bytes: int
    batch_entries: int


def text_batch(body: bytes, session_id: str, now: str, limits: Limits) -> Batch:
    """One entry per line (CRLF or LF); empty lines skipped; invalid UTF-8 replaced."""
    # Split on LF and drop one CR before it (CRLF), also on a last line without its LF.
    lines = [line.removesuffix(b"\r") for line in body.split(b"\n")]
    lines = [line for line in lines if line]
    _check_count(len(lines), limits)
    batch = Batch(rows=[], nbytes=0, truncated=0)
    for line in lines:
        message = _cut(batch, line.decode("utf-8", "replace"), limits.entry_bytes)
        batch.rows.append((session_id, now, None, None, message, None, None, None))
    return batch


def record_batch(
    records: list[LogRecord],
    session_id: str,
    now: str,
    limits: Limits,
    *,
    typed: bool = False,
) -> Batch:
    """Validate and render structured records; any bad record rejects the whole batch."""
    _check_count(len(records), limits)
    batch = Batch(rows=[], nbytes=0, truncated=0)
    for index, record in enumerate(records):
        try:
            batch.rows.append(_record_row(record, session_id, now, limits, batch, typed))
        except ValueError as exc:
            raise InvalidInput(f"Invalid log entry {index}: {exc}") from None
    return batch


def batch_error(exc: msgspec.ValidationError) -> InvalidInput:
    """A decoder's type error, phrased with the entry index and field."""
    text = str(exc)
    match = re.search(r" - at `\$(?:\.entries\[(\d+)\])?(?:\.(\w+))?.*`$", text)
    if match is None:
        return InvalidInput(f"Invalid log batch: {text}")
    problem = text[: match.start()]
    index, field = match.groups()
    if index is None and field == "entries":
        return InvalidInput(f"Invalid log batch: 'entries': {problem}")
    where = f"'{field}': " if field else ""
    return InvalidInput(f"Invalid log entry {index or 0}: {where}{problem}")


def _record_row(
    record: LogRecord,
    session_id: str,
    now: str,
    limits: Limits,
    batch: Batch,
    typed: bool,
) -> LogRow:
    try:
        level = parse_level(record.level)
    except ValueError as exc:
        raise ValueError(f"'level': {exc}") from None
    message = record.message
    if message is None:
        if record.format is None:
            raise ValueError("needs 'message' or 'format'")
        message = render(record.format, record.fields or {})
    fields_json, fields_cb = (
        (None, None) if record.fields is None else stored(record.fields, typed=typed)
    )
    return (
        session_id,
        _timestamp(record.timestamp, now),
        level,
        record.logger,
        _cut(batch, message, limits.entry_bytes),
        record.format,
        fields_json,
        fields_cb,
    )


def _timestamp(value: Any, now: str) -> str:
    if value is None:
        return now
    try:
        if isinstance(value, DateTime):
            return timestamp_from_ticks(value)
        if isinstance(value, str):
            return parse_timestamp(value)
    except ValueError as exc:
        raise ValueError(f"'timestamp': {exc}") from None
    raise ValueError("'timestamp': expected an ISO-8601 string or a DateTime")


def _cut(batch: Batch, message: str, limit: int) -> str:
    """Count the message's bytes; cut an over-long one at a character boundary, visibly."""
    if len(message) * 4 <= limit:  # cannot be over the limit: skip encoding twice
        batch.nbytes += len(message.encode())
        return message
    encoded = message.encode()
    if len(encoded) <= limit:
        batch.nbytes += len(encoded)
        return message
    kept = encoded[:limit].decode("utf-8", "ignore")
    cut = f"{kept} …[truncated {len(encoded) - len(kept.encode())} bytes]"
    batch.truncated += 1
    batch.nbytes += len(cut.encode())
    return cut


def _check_count(count: int, limits: Limits) -> None:
    if count > limits.batch_entries:
        raise TooLarge(f"Log batch has {count} entries; the limit is {limits.batch_entries}")
