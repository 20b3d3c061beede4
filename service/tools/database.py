"""A database file opened for reading only: mode=ro, query_only, and an authorizer as well."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import quote

# Authorizer action codes by name (sqlite3's constants; OK and DENY share their numbers).
ACTIONS = {
    getattr(sqlite3, f"SQLITE_{name}"): name.replace("_", " ")
    for name in (
        *("CREATE_INDEX", "CREATE_TABLE", "CREATE_TEMP_INDEX", "CREATE_TEMP_TABLE"),
        *("CREATE_TEMP_TRIGGER", "CREATE_TEMP_VIEW", "CREATE_TRIGGER", "CREATE_VIEW"),
        *("DROP_INDEX", "DROP_TABLE", "DROP_TEMP_INDEX", "DROP_TEMP_TABLE", "DROP_TEMP_TRIGGER"),
        *("DROP_TEMP_VIEW", "DROP_TRIGGER", "DROP_VIEW", "CREATE_VTABLE", "DROP_VTABLE"),
        *("INSERT", "UPDATE", "DELETE", "ALTER_TABLE", "REINDEX", "ANALYZE", "ATTACH", "DETACH"),
        *("PRAGMA", "READ", "SELECT", "FUNCTION", "RECURSIVE", "TRANSACTION", "SAVEPOINT"),
    )
}
READS = frozenset(
    {sqlite3.SQLITE_SELECT, sqlite3.SQLITE_READ, sqlite3.SQLITE_FUNCTION, sqlite3.SQLITE_RECURSIVE}
)
# Pragmas that take an argument only to look something up.
LOOKUPS = frozenset(
    {
        *("table_info", "table_xinfo", "table_list", "index_info", "index_xinfo", "index_list"),
        *("foreign_key_list", "foreign_key_check", "integrity_check", "quick_check"),
    }
)
# Statements that change something, by their first word, for a clear refusal.
VERBS = frozenset(
    {
        *("INSERT", "REPLACE", "UPDATE", "DELETE", "CREATE", "DROP", "ALTER", "ATTACH", "DETACH"),
        *("VACUUM", "REINDEX", "ANALYZE", "BEGIN", "COMMIT", "END", "ROLLBACK", "SAVEPOINT"),
        "RELEASE",
    }
)
# Pragmas that change something even without an argument.
ACTING = frozenset({"optimize", "wal_checkpoint", "incremental_vacuum", "shrink_memory"})


class QueryError(Exception):
    """The query failed: refused, interrupted, or wrong; the message says which."""


class WriteRefused(QueryError):
    """The query tried to change something."""


class ReadOnlyDatabase:
    """One read-only connection; every statement runs under the authorizer and a time limit."""

    def __init__(self, path: str | Path) -> None:
        file = Path(path).expanduser().resolve()
        if not file.is_file():
            raise QueryError(f"no database at {path}")
        self.denied: str | None = None
        self.connection = sqlite3.connect(f"file:{quote(str(file))}?mode=ro", uri=True)
        self.connection.execute("PRAGMA query_only = ON")
        self.connection.set_authorizer(self._authorize)

    def query(
        self,
        sql: str,
        params: Sequence[Any] = (),
        *,
        limit: int = -1,
        timeout: float | None = None,
    ) -> tuple[list[str], list[tuple[Any, ...]], bool]:
        """Column names, up to `limit` rows (-1: all), and whether more rows were left out."""
        self.denied = None
        if timeout is not None:
            deadline = time.monotonic() + timeout
            self.connection.set_progress_handler(lambda: int(time.monotonic() > deadline), 1000)
        try:
            cursor = self.connection.execute(sql, params)
            columns = [column[0] for column in cursor.description or ()]
            rows = cursor.fetchall() if limit < 0 else cursor.fetchmany(limit + 1)
        except sqlite3.Error as exc:
            raise self._explain(sql, exc, timeout) from None
        finally:
            self.connection.set_progress_handler(None, 0)
        more = 0 <= limit < len(rows)
        return columns, rows[:limit] if more else rows, more

    def close(self) -> None:
        """Close the connection."""
        self.connection.close()

    def __enter__(self) -> ReadOnlyDatabase:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def _authorize(
        self, action: int, arg1: str | None, arg2: str | None, _db: str | None, _by: str | None
    ) -> int:
        if action in READS or (action == sqlite3.SQLITE_PRAGMA and _harmless(arg1, arg2)):
            return sqlite3.SQLITE_OK
        if action == sqlite3.SQLITE_UPDATE and arg1 == "sqlite_master":
            return sqlite3.SQLITE_OK  # how SQLite sets up a pragma_* table; users cannot write it
        what = ACTIONS.get(action, f"action {action}")
        if action == sqlite3.SQLITE_PRAGMA:
            what = f"PRAGMA {arg1}" + ("" if arg2 is None else f" = {arg2}")
        elif arg1 and action != sqlite3.SQLITE_FUNCTION:
            what += f" {arg1}"
        self.denied = self.denied or what
        return sqlite3.SQLITE_DENY

    def _explain(self, sql: str, exc: sqlite3.Error, timeout: float | None) -> QueryError:
        message = str(exc)
        verb = sql.split(maxsplit=1)[0].upper() if sql.strip() else ""
        if self.denied is not None:
            what = verb if verb in VERBS else self.denied
            return WriteRefused(f"read-only: {what} is not allowed (only queries are)")
        if "readonly" in message or "read-only" in message or "query_only" in message:
            return WriteRefused(f"read-only: {message}")
        if timeout is not None and message == "interrupted":
            return QueryError(f"the query took longer than {timeout:g} s and was stopped")
        return QueryError(message)


def _harmless(name: str | None, argument: str | None) -> bool:
    name = (name or "").lower()
    return name in LOOKUPS if argument is not None else name not in ACTING
