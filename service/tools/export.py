"""`sessions export`: every entry of a session, page by page, over HTTP or from the file."""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TextIO

from service.client import Answer, SessionClient
from service.domain.ids import parse_session_id
from service.tools.database import QueryError, ReadOnlyDatabase
from service.tools.lines import json_line, text_line
from service.tools.progress import Progress

PAGE = 5000
LARGE = 10_000  # entries from which a terminal gets a progress bar
Pages = Iterator[tuple[list[Answer], int]]  # each page of entries, with the log's size

ENTRIES_SQL = (
    "SELECT cursor, timestamp, level, logger, message, format, fields FROM log_entries"
    " WHERE session_id = ? AND cursor > ? ORDER BY cursor LIMIT ?"
)


def http_pages(client: SessionClient, session_id: str) -> Pages:
    """The log read from the server, a page at a time by cursor."""
    cursor = 0
    while True:
        answer = client.read(session_id, cursor=cursor, limit=PAGE)
        yield answer["entries"], answer["total"]
        cursor = answer["cursor"]
        if not answer["more"]:
            return


def file_pages(db: ReadOnlyDatabase, session_id: str) -> Pages:
    """The log read from the database file, a page at a time by cursor, as the server sends it."""
    session_id = parse_session_id(session_id)
    _, found, _ = db.query("SELECT log_count FROM sessions WHERE id = ?", (session_id,))
    if not found:
        raise QueryError(f"Session '{session_id}' not found")
    total, cursor = found[0][0], 0
    while True:
        _, rows, _ = db.query(ENTRIES_SQL, (session_id, cursor, PAGE))
        entries = [_entry(*row) for row in rows]
        if entries:
            yield entries, total
            cursor = entries[-1]["cursor"]
        if len(rows) < PAGE:
            return


def export(pages: Pages, out: TextIO, *, fmt: str, progress: Callable[[int], Progress]) -> int:
    """Write every page's entries as text lines or JSON lines; the number written."""
    line = json_line if fmt == "jsonl" else text_line
    bar: Progress | None = None
    written = 0
    try:
        for entries, total in pages:
            bar = bar or progress(total)
            out.writelines(line(entry) + "\n" for entry in entries)
            written += len(entries)
            bar.advance(len(entries))
    finally:
        if bar is not None:
            bar.close()
    return written


@contextlib.contextmanager
def output(path: str | None, stdout: TextIO) -> Iterator[TextIO]:
    """The file to write (complete or not at all: written aside, then renamed), or stdout."""
    if path is None or path == "-":
        yield stdout
        return
    target = Path(path)
    fd, temporary = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as file:
            yield file
        os.chmod(temporary, 0o666 & ~_umask())  # as a plainly created file would be
        os.replace(temporary, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _entry(
    cursor: int,
    timestamp: str,
    level: str | None,
    logger: str | None,
    message: str | None,
    fmt: str | None,
    fields: str | None,
) -> dict[str, Any]:
    """A row as the wire has it: empty values left out, fields as an object."""
    entry: dict[str, Any] = {"cursor": cursor, "timestamp": timestamp}
    optional = {"level": level, "logger": logger, "message": message or None, "format": fmt}
    entry.update({name: value for name, value in optional.items() if value is not None})
    if fields is not None:
        entry["fields"] = json.loads(fields)
    return entry
