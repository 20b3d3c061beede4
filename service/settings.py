"""One frozen Settings struct, built from CLI flags and SESSIONS_* environment variables."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Annotated, Any, get_args, get_origin, get_type_hints

import msgspec

KIB = 1024
MIB = 1024 * KIB


def _doc(text: str, **constraints: Any) -> msgspec.Meta:
    return msgspec.Meta(description=text, **constraints)


class Settings(msgspec.Struct, frozen=True, kw_only=True):
    """Everything the server can be told; every field is a flag and a SESSIONS_* variable."""

    db: Annotated[str, _doc("SQLite database file (created on first run)")] = "data/sessions.db"
    host: Annotated[str, _doc("address to listen on")] = "127.0.0.1"
    port: Annotated[int, _doc("TCP port to listen on", ge=0, le=65535)] = 8558
    uds: Annotated[str, _doc("listen on this unix socket instead of TCP")] = ""
    log_level: Annotated[
        str,
        _doc(
            "server log level: debug, info, warning, error",
            pattern="^(?i:debug|info|warning|error|critical)$",
        ),
    ] = "info"
    access_log: Annotated[bool, _doc("print one line per HTTP request")] = False
    allowed_origins: Annotated[
        tuple[str, ...],
        _doc("browser origins allowed besides the server's own, comma-separated"),
    ] = ()
    max_body_bytes: Annotated[int, _doc("largest request body; larger is 413", ge=1)] = 16 * MIB
    max_entry_bytes: Annotated[
        int, _doc("longest log message; longer is cut with a marker", ge=1)
    ] = 256 * KIB
    max_batch_entries: Annotated[int, _doc("most log entries in one batch; more is 413", ge=1)] = (
        10_000
    )
    default_page: Annotated[int, _doc("log entries per read when no limit is given", ge=1)] = 1_000
    max_page: Annotated[int, _doc("most log entries one read returns", ge=1)] = 10_000
    max_list: Annotated[int, _doc("most sessions one list returns", ge=1)] = 10_000
    idempotency_hours: Annotated[float, _doc("how long an Idempotency-Key is remembered", ge=0)] = (
        24.0
    )
    prune_delay_seconds: Annotated[
        float, _doc("seconds after start before the first prune", ge=0)
    ] = 30.0
    prune_interval_seconds: Annotated[
        float, _doc("seconds between prunes; 0 turns the automatic prune off", ge=0)
    ] = 3600.0
    max_age_days: Annotated[
        float, _doc("ended sessions that ended longer ago than this are pruned; 0: no limit", ge=0)
    ] = 365.0
    max_ended_sessions: Annotated[
        int, _doc("most ended sessions kept, the newest; 0: no limit", ge=0)
    ] = 1_000
    max_log_bytes: Annotated[
        int,
        _doc(
            "prune ended sessions, oldest first, while all logs hold more bytes; 0: no limit", ge=0
        ),
    ] = 50 * MIB
    liveness_interval_seconds: Annotated[
        float,
        _doc("seconds between liveness and idle checks; 0 turns both off, also at start", ge=0),
    ] = 30.0
    idle_hours: Annotated[
        float, _doc("active sessions silent this long are ended (idle timeout); 0: never", ge=0)
    ] = 24.0
    ws_list_seconds: Annotated[
        float, _doc("how often the WebSocket session list is checked for changes", gt=0)
    ] = 2.0
    ws_max_connections: Annotated[int, _doc("most WebSocket connections at once", ge=1)] = 1_000
    ws_frame_entries: Annotated[int, _doc("most log entries in one WebSocket frame", ge=1)] = 1_000
    ws_frame_bytes: Annotated[
        int, _doc("largest WebSocket log frame (one entry may exceed)", ge=1)
    ] = 1 * MIB
    ws_ping_seconds: Annotated[
        float, _doc("WebSocket ping interval; a client silent for as long again is dropped", gt=0)
    ] = 20.0
    max_queued_entries: Annotated[
        int, _doc("log entries queued for the writer before new batches must wait", ge=1)
    ] = 100_000
    queue_wait_seconds: Annotated[
        float, _doc("how long a log batch waits for room in the queue before a 503", ge=0)
    ] = 2.0
    max_db_bytes: Annotated[
        int, _doc("cap on the database file; writes beyond it get 507; 0: no cap", ge=0)
    ] = 0
    durability: Annotated[
        str,
        _doc(
            "normal: acknowledged entries survive a process crash; full: also a power loss",
            pattern="^(normal|full)$",
        ),
    ] = "normal"
    token: Annotated[
        str, _doc("when set, every route but /health needs `Authorization: Bearer <token>`")
    ] = ""

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Defaults, then SESSIONS_* variables, then explicit overrides (CLI flags)."""
        env = os.environ if env is None else env
        values: dict[str, Any] = {}
        for name in cls.__struct_fields__:
            raw = env.get(f"SESSIONS_{name.upper()}")
            if raw is not None:
                values[name] = _parse_env(cls, name, raw)
        values.update({k: v for k, v in overrides.items() if v is not None})
        try:
            return msgspec.convert(values, cls, strict=False)
        except msgspec.ValidationError as exc:
            raise ValueError(f"Invalid setting: {exc}") from None


def _parse_env(cls: type[Settings], name: str, raw: str) -> Any:
    if field_type(cls, name) is tuple:
        return tuple(part.strip() for part in raw.split(",") if part.strip())
    if field_type(cls, name) is bool:
        return raw.strip().lower() in {"1", "true", "yes", "on"}
    return raw


def field_type(cls: type[Settings], name: str) -> type:
    """The plain Python type of a setting (tuple for lists)."""
    hint = get_args(get_type_hints(cls, include_extras=True)[name])[0]
    return get_origin(hint) or hint  # type: ignore[no-any-return]


def field_help(cls: type[Settings], name: str) -> str:
    """The one-line description of a setting."""
    for meta in get_args(get_type_hints(cls, include_extras=True)[name])[1:]:
        if isinstance(meta, msgspec.Meta) and meta.description:
            return meta.description
    return ""
