"""The `sessions` command: serve, migrate, prune, and the tools ls, show, tail, sql, export, run."""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import functools
import io
import json
import logging
import os
import signal
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from service.settings import Settings, field_help, field_type

Command = Callable[..., int]


def main(argv: Sequence[str] | None = None) -> None:
    """Parse the command line and run one command."""
    parser = _parser()
    args = parser.parse_args(argv)
    overrides = {
        name: getattr(args, name, None)
        for name in Settings.__struct_fields__
        if getattr(args, name, None) is not None
    }
    try:
        settings = Settings.from_env(**overrides)
    except ValueError as exc:
        parser.error(str(exc))
    # Flags that are not settings (`prune --dry-run`) go to the command as keywords.
    options = {
        name: value
        for name, value in vars(args).items()
        if name != "command" and name not in Settings.__struct_fields__
    }
    if isinstance(sys.stdout, io.TextIOWrapper):  # a log line the terminal cannot encode
        sys.stdout.reconfigure(errors="backslashreplace")
    try:
        code = args.command(settings, **options)
    except KeyboardInterrupt:  # Ctrl-C: a quiet stop, as a shell reports it
        code = 130
    except BrokenPipeError:  # `sessions ls | head`: the reader has all it wanted
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        code = 141
    sys.exit(code)


def serve(settings: Settings) -> int:
    """Run the server until interrupted."""
    import uvicorn

    from service.app import create_app

    level = settings.log_level.upper()
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for handler in logging.getLogger().handlers:
        handler.setLevel(level)  # the console shows this level; the self session keeps INFO
    config = uvicorn.Config(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        uds=settings.uds or None,
        log_level=settings.log_level.lower(),
        access_log=settings.access_log,
        lifespan="on",
        ws_ping_interval=settings.ws_ping_seconds,
        ws_ping_timeout=settings.ws_ping_seconds,
        ws_max_size=64 * 1024,  # clients only send small JSON commands
        # Compressing each frame again for every subscriber cost more CPU than it saved on
        # loopback and LAN links (measured: sustained push fell from 17,800 to 6,300 entries/s).
        ws_per_message_deflate=False,
        log_config=None,
    )
    # Uvicorn shuts down gracefully, then re-raises the signal to the handler it found:
    # make that a quiet, successful exit rather than a traceback or a signal death.
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, _exit_quietly)
    uvicorn.Server(config).run()
    return 0


def _exit_quietly(_signum: int, _frame: object) -> None:
    raise SystemExit(0)


def migrate(settings: Settings) -> int:
    """Create or upgrade the database schema, then exit."""
    from service.db.migrate import upgrade_file

    print(f"{settings.db}: at revision {asyncio.run(upgrade_file(settings.db))}")
    return 0


def prune(settings: Settings, *, dry_run: bool = False) -> int:
    """Prune ended sessions past the limits now, beside a running server or not."""
    from service.db.engine import create_read_engine, create_write_engine
    from service.db.migrate import upgrade_file
    from service.db.writer import Writer
    from service.tasks.maintenance import PruneLimits, PruneResult
    from service.tasks.maintenance import prune as prune_now

    if not Path(settings.db).exists():
        print(f"sessions prune: no database at {settings.db}", file=sys.stderr)
        return 1

    async def run() -> PruneResult:
        write_engine = create_write_engine(settings.db)
        read_engine = create_read_engine(settings.db)
        writer = Writer(write_engine)
        try:
            await upgrade_file(settings.db)
            await writer.start()
            return await prune_now(
                writer,
                read_engine,
                PruneLimits.of(settings),
                now=time.time(),
                dry_run=dry_run,
                share_lock=True,  # a server may be running on the same file
            )
        finally:
            await writer.stop()
            write_engine.dispose()
            await read_engine.dispose()

    result = asyncio.run(run())
    for session in result.pruned:
        print(
            f"{session.id}  ended {session.ended_at}  {session.reason:<7}  "
            f"{session.log_count:>9} entries  {session.log_bytes:>12} bytes  {session.appname}"
        )
    print(f"{settings.db}: {result.summary()}")
    return 0


# --- the tools: they talk to a server (--url, --token) or read a database file (--db) ----------


def _reported(name: str) -> Callable[[Command], Command]:
    """Expected failures (an error answer, no server, a refused query) as one line and exit 1."""

    def decorate(command: Command) -> Command:
        @functools.wraps(command)
        def run(*args: Any, **kwargs: Any) -> int:
            import httpx

            from service.client import SessionsError
            from service.domain.ids import InvalidId
            from service.tools.database import QueryError
            from service.tools.tail import TailError

            try:
                return command(*args, **kwargs)
            except BrokenPipeError:
                raise  # not a failure: the reader of our output is gone
            except SessionsError as exc:
                message = exc.detail
            except httpx.HTTPError as exc:
                message = f"cannot reach {_server_of(exc)}: {exc or type(exc).__name__}"
            except (TailError, QueryError, InvalidId, OSError) as exc:
                message = str(exc)
            print(f"sessions {name}: {message}", file=sys.stderr)
            return 1

        return run

    return decorate


@_reported("ls")
def ls(
    _settings: Settings,
    *,
    url: str | None,
    client_token: str | None,
    status: str,
    app: str | None,
    as_json: bool,
) -> int:
    """List sessions as a table (or JSON)."""
    from service.tools.listing import session_table
    from service.tools.terminal import wants_colour, width

    with _client(url, client_token) as client:
        sessions = client.list(status, appname=app)["sessions"]
    if as_json:
        _print_json(sessions)
        return 0
    now = dt.datetime.now(dt.UTC)
    lines = session_table(
        sessions, now=now, width=width(sys.stdout), colour=wants_colour(sys.stdout)
    )
    print("\n".join(lines))
    return 0


@_reported("show")
def show(
    _settings: Settings, *, url: str | None, client_token: str | None, session: str, as_json: bool
) -> int:
    """One session's info and metadata."""
    from service.tools.listing import session_details
    from service.tools.terminal import wants_colour

    with _client(url, client_token) as client:
        info = client.get(session)
    if as_json:
        _print_json(info)
        return 0
    now = dt.datetime.now(dt.UTC)
    print("\n".join(session_details(info, now=now, colour=wants_colour(sys.stdout))))
    return 0


@_reported("tail")
def tail(
    _settings: Settings,
    *,
    url: str | None,
    client_token: str | None,
    session: str,
    follow: bool,
    from_start: bool,
    lines: int,
    level: int | None,
    as_json: bool,
) -> int:
    """The last lines of a session's log; following, every new line as it comes."""
    from service.client import resolve_token, resolve_url
    from service.domain.ids import parse_session_id
    from service.tools.tail import Follower, printer, window

    session = parse_session_id(session)
    base, token = resolve_url(url), resolve_token(client_token)
    with _client(base, token) as client:
        span = window(client, session, lines=None if from_start else lines, minimum=level)
    if not follow and span.end <= span.start:
        return 0
    emit = printer(sys.stdout, as_json=as_json, minimum=level)
    until = None if follow else span.end
    Follower(base, token, session, span.start, emit, until=until).run()
    return 0


@_reported("sql")
def sql(
    settings: Settings, *, query: str, as_csv: bool, as_json: bool, limit: int, timeout: float
) -> int:
    """One read-only query on the database file."""
    from service.tools import sql as output
    from service.tools.database import ReadOnlyDatabase
    from service.tools.terminal import wants_colour, width

    with ReadOnlyDatabase(settings.db) as db:
        columns, rows, more = db.query(query, limit=limit or -1, timeout=timeout or None)
    if as_csv:
        output.write_csv(sys.stdout, columns, rows)
    elif as_json:
        output.write_json(sys.stdout, columns, rows)
    elif columns:
        table = output.table(
            columns, rows, width=width(sys.stdout), colour=wants_colour(sys.stdout)
        )
        print("\n".join(table))
    if more:
        print(f"sessions sql: only the first {limit:,} rows shown (--limit)", file=sys.stderr)
    return 0


@_reported("export")
def export(
    _settings: Settings,
    *,
    url: str | None,
    client_token: str | None,
    session: str,
    fmt: str,
    output: str | None,
    database: str | None,
) -> int:
    """Every entry of a session, over HTTP or from the database file."""
    import contextlib

    from service.tools import export as tool
    from service.tools.database import ReadOnlyDatabase
    from service.tools.progress import Progress
    from service.tools.terminal import is_tty

    def progress(total: int) -> Progress:
        shown = is_tty(sys.stderr) and total >= tool.LARGE
        return Progress(sys.stderr, total, label=f"export {session}", enabled=shown)

    with contextlib.ExitStack() as stack:
        if database is not None:
            pages = tool.file_pages(stack.enter_context(ReadOnlyDatabase(database)), session)
        else:
            pages = tool.http_pages(stack.enter_context(_client(url, client_token)), session)
        out = stack.enter_context(tool.output(output, sys.stdout))
        count = tool.export(pages, out, fmt=fmt, progress=progress)
    if output not in (None, "-") and is_tty(sys.stderr):
        print(f"sessions export: {count:,} entries written to {output}", file=sys.stderr)
    return 0


def run(
    _settings: Settings,
    *,
    url: str | None,
    client_token: str | None,
    app: str,
    mode: str,
    stderr_level: str | None,
    argv: list[str],
) -> int:
    """Run a command with its output logged to a new session; exit with its exit code."""
    from service.client import resolve_token, resolve_url
    from service.tools.run import run as run_logged

    argv = argv[1:] if argv[:1] == ["--"] else argv
    if not argv:
        print("sessions run: no command given: sessions run [OPTIONS] -- COMMAND", file=sys.stderr)
        return 2
    return run_logged(
        argv,
        url=resolve_url(url),
        token=resolve_token(client_token),
        appname=app,
        mode=mode,
        stderr_level=stderr_level,
    )


def _client(url: str | None, token: str | None) -> Any:
    from service.client import SessionClient

    return SessionClient(url, token=token, retries=2)


def _server_of(exc: Exception) -> str:
    try:
        return str(exc.request.url.copy_with(path="/", query=None))  # type: ignore[attr-defined]
    except (AttributeError, RuntimeError):
        return "the server"


def _print_json(value: Any) -> None:
    print(json.dumps(value, indent=2, ensure_ascii=False))


def _rank(text: str) -> int:
    from service.tools.lines import minimum_rank

    try:
        return minimum_rank(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _level_or_none(text: str) -> str | None:
    from service.domain.levels import LEVELS

    if text.lower() in ("none", "off"):
        return None
    return LEVELS[_rank(text)]


def _count(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text} is negative")
    return value


def _seconds(text: str) -> float:
    value = float(text)
    if not value >= 0:  # also NaN
        raise argparse.ArgumentTypeError(f"{text} is not a number of seconds")
    return value


def _add_client(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--url", help="the server's address (SESSIONS_URL; default: http://127.0.0.1:8558)"
    )
    parser.add_argument(
        "--token",
        dest="client_token",
        metavar="TOKEN",
        help="access token, sent as `Authorization: Bearer TOKEN` (SESSIONS_TOKEN)",
    )


def _add_tools(commands: Any) -> None:
    """The parsers of ls, show, tail, sql, export and run."""
    ls_parser = commands.add_parser("ls", help="list sessions as a table")
    ls_parser.add_argument(
        "--status", choices=("active", "ended", "all"), default="active", help="default: active"
    )
    ls_parser.add_argument("--app", metavar="NAME", help="only sessions of this appname")
    ls_parser.add_argument("--json", dest="as_json", action="store_true", help="print JSON")
    _add_client(ls_parser)
    ls_parser.set_defaults(command=ls)

    show_parser = commands.add_parser("show", help="one session's info and metadata")
    show_parser.add_argument("session", metavar="ID")
    show_parser.add_argument("--json", dest="as_json", action="store_true", help="print JSON")
    _add_client(show_parser)
    show_parser.set_defaults(command=show)

    tail_parser = commands.add_parser("tail", help="print a session's log lines, or follow them")
    tail_parser.add_argument("session", metavar="ID")
    tail_parser.add_argument(
        "-f", "--follow", action="store_true", help="keep printing new lines (Ctrl-C stops)"
    )
    start = tail_parser.add_mutually_exclusive_group()
    start.add_argument(
        "-n", "--lines", type=_count, default=10, metavar="N", help="start with the last N lines"
    )
    start.add_argument("--from-start", action="store_true", help="start with the first line")
    tail_parser.add_argument(
        "--level",
        type=_rank,
        metavar="LEVEL",
        help="only lines of this level or above (trace, debug, info, warn, error, critical); "
        "lines without a level pass",
    )
    tail_parser.add_argument("--json", dest="as_json", action="store_true", help="JSON lines")
    _add_client(tail_parser)
    tail_parser.set_defaults(command=tail)

    sql_parser = commands.add_parser("sql", help="one read-only SQL query on the database file")
    sql_parser.add_argument("query", metavar="SQL")
    formats = sql_parser.add_mutually_exclusive_group()
    formats.add_argument("--csv", dest="as_csv", action="store_true", help="CSV with a header")
    formats.add_argument("--json", dest="as_json", action="store_true", help="a JSON array")
    sql_parser.add_argument(
        "--limit", type=_count, default=1000, metavar="N", help="most rows shown; 0: all"
    )
    sql_parser.add_argument(
        "--timeout", type=_seconds, default=10.0, metavar="SECONDS", help="0: no time limit"
    )
    _add_settings(sql_parser, only=("db",))
    sql_parser.set_defaults(command=sql)

    export_parser = commands.add_parser("export", help="every log entry of a session")
    export_parser.add_argument("session", metavar="ID")
    export_parser.add_argument(
        "--format", dest="fmt", choices=("text", "jsonl"), default="text", help="default: text"
    )
    export_parser.add_argument("-o", "--output", metavar="FILE", help="default: stdout")
    export_parser.add_argument(
        "--db", dest="database", metavar="FILE", help="read this database file, not the server"
    )
    _add_client(export_parser)
    export_parser.set_defaults(command=export)

    run_parser = commands.add_parser(
        "run",
        help="run a command, logging its output to a new session",
        usage="sessions run [OPTIONS] -- COMMAND [ARGS...]",
    )
    run_parser.add_argument("--app", default="", metavar="NAME", help="default: the command's name")
    run_parser.add_argument("--mode", default="", metavar="MODE", help="the session's mode")
    run_parser.add_argument(
        "--stderr-level",
        type=_level_or_none,
        default="error",
        metavar="LEVEL",
        help="level of stderr lines (default: error; none: no level); stdout lines have none",
    )
    _add_client(run_parser)
    run_parser.add_argument("argv", nargs=argparse.REMAINDER, metavar="COMMAND")
    run_parser.set_defaults(command=run)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sessions", description="Session Service: process sessions and their logs."
    )
    commands = parser.add_subparsers(required=True, metavar="COMMAND")
    serve_parser = commands.add_parser("serve", help="run the server")
    _add_settings(serve_parser, exclude=())
    serve_parser.set_defaults(command=serve)
    migrate_parser = commands.add_parser("migrate", help="create or upgrade the database schema")
    _add_settings(migrate_parser, only=("db",))
    migrate_parser.set_defaults(command=migrate)
    prune_parser = commands.add_parser(
        "prune", help="delete ended sessions past the limits now (a running server may stay up)"
    )
    _add_settings(prune_parser, only=("db", "max_age_days", "max_ended_sessions", "max_log_bytes"))
    prune_parser.add_argument(
        "--dry-run", action="store_true", help="print what would go, change nothing"
    )
    prune_parser.set_defaults(command=prune)
    _add_tools(commands)
    return parser


def _add_settings(
    parser: argparse.ArgumentParser, *, exclude: Sequence[str] = (), only: Sequence[str] = ()
) -> None:
    """One flag per setting, generated from the Settings struct so none is forgotten."""
    defaults = Settings()
    for name in only or Settings.__struct_fields__:
        if name in exclude:
            continue
        flag = "--" + name.replace("_", "-")
        kind = field_type(Settings, name)
        default = getattr(defaults, name)
        shown = ",".join(default) if kind is tuple else default
        help_text = f"{field_help(Settings, name)} (SESSIONS_{name.upper()}; default: {shown!s})"
        help_text = help_text.replace("%", "%%")
        if kind is bool:
            parser.add_argument(flag, action=argparse.BooleanOptionalAction, help=help_text)
        elif kind is tuple:
            parser.add_argument(
                flag,
                type=lambda text: tuple(p.strip() for p in text.split(",") if p.strip()),
                help=help_text,
            )
        else:
            parser.add_argument(flag, type=kind, metavar=name.upper(), help=help_text)
        parser.set_defaults(**{name: None})
