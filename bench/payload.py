"""The ingest workload: POST bodies of 50 structured entries and the rows they become.

Each entry is what an Unreal structured-logging client sends: a client timestamp, a level,
a logger, and a message *template* with its fields (no pre-rendered `message`), so the server
does its full intake work: decode, level aliasing, timestamp normalisation, template render
(about 100 bytes of message) and fields JSON.
"""

from __future__ import annotations

import msgspec

ENTRIES_PER_BATCH = 50
TEMPLATE = "Cooked {Asset} for {Platform} in {Ms} ms"
PLATFORMS = ("WindowsClient", "LinuxServer", "PS5", "XSX")
CLIENT_TIME = "2026-12-04T19:36:39.123Z"


def entry(n: int) -> dict[str, object]:
    """One entry; every tenth is a warning under its alias name, as Unreal spells it."""
    return {
        "timestamp": CLIENT_TIME,
        "level": "warning" if n % 10 == 9 else "info",
        "logger": "LogCook",
        "format": TEMPLATE,
        "fields": {
            "Asset": f"/Game/Environment/Props/Industrial/Crates/SM_Crate_Wooden_{n:05d}",
            "Platform": PLATFORMS[n % len(PLATFORMS)],
            "Ms": 5 + n % 40,
        },
    }


def batch_body(variant: int, size: int = ENTRIES_PER_BATCH) -> bytes:
    """The JSON body of one batch; variants differ in their values, not in their shape."""
    first = variant * size
    return msgspec.json.encode({"entries": [entry(first + i) for i in range(size)]})


def bodies(count: int = 16, size: int = ENTRIES_PER_BATCH) -> list[bytes]:
    """A few distinct bodies to cycle through (the load generator sends them as they are)."""
    return [batch_body(v, size) for v in range(count)]


def stored_rows(session_id: str, body: bytes) -> list[tuple[object, ...]]:
    """The rows the server stores for a body, made by the server's own intake code."""
    from service.domain import logs

    parsed = msgspec.json.decode(body, type=logs.LogBody)
    limits = logs.Limits(entry_bytes=256 * 1024, batch_entries=10_000)
    batch = logs.record_batch(parsed.records(), session_id, CLIENT_TIME, limits)
    return list(batch.rows)


def message_bytes(rows: list[tuple[object, ...]]) -> int:
    """UTF-8 bytes of the messages, as the log_bytes counter counts them."""
    return sum(len(str(row[4]).encode()) for row in rows)
