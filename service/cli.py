"""The `sessions` command: serve, migrate, prune."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from service.settings import Settings, field_help, field_type


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
    sys.exit(args.command(settings, **options))


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
    from service.db.engine import create_tool_engine
    from service.db.migrate import upgrade

    async def run() -> str | None:
        engine = create_tool_engine(settings.db)
        try:
            return await upgrade(engine)
        finally:
            await engine.dispose()

    print(f"{settings.db}: at revision {asyncio.run(run())}")
    return 0


def prune(settings: Settings, *, dry_run: bool = False) -> int:
    """Prune ended sessions past the limits now, beside a running server or not."""
    from service.db.engine import create_engine
    from service.db.migrate import upgrade
    from service.db.writer import Writer
    from service.tasks.maintenance import PruneLimits, PruneResult
    from service.tasks.maintenance import prune as prune_now

    if not Path(settings.db).exists():
        print(f"sessions prune: no database at {settings.db}", file=sys.stderr)
        return 1

    async def run() -> PruneResult:
        write_engine = create_engine(settings.db, writer=True)
        read_engine = create_engine(settings.db, writer=False)
        writer = Writer(write_engine)
        try:
            await upgrade(write_engine)
            await writer.start()
            return await prune_now(
                writer, read_engine, PruneLimits.of(settings), now=time.time(), dry_run=dry_run
            )
        finally:
            await writer.stop()
            await write_engine.dispose()
            await read_engine.dispose()

    result = asyncio.run(run())
    for session in result.pruned:
        print(
            f"{session.id}  ended {session.ended_at}  {session.reason:<7}  "
            f"{session.log_count:>9} entries  {session.log_bytes:>12} bytes  {session.appname}"
        )
    print(f"{settings.db}: {result.summary()}")
    return 0


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
