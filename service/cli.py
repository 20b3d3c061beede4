"""The `sessions` command: serve, migrate."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from collections.abc import Sequence

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
    sys.exit(args.command(settings))


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
