"""The `ians` command (also `python -m ians`)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from ians.errors import FileError, IansError, Problem


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        result: int = args.run(args)
        return result
    except FileError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        return 1
    except IansError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ians", description=__doc__)
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    serve = commands.add_parser("serve", help="run the API server and its timers")
    serve.add_argument("--host", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port (default 8080)")
    _common(serve)
    serve.add_argument("--settings", type=Path, help="settings file (YAML): policies")
    serve.set_defaults(run=_serve)

    check = commands.add_parser("check", help="validate contacts and scenario files")
    check.add_argument("files", nargs="+", type=Path, help="contacts folders or files")
    check.set_defaults(run=_check)
    return parser


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--db", help="SQLite database file (default ians.db)")
    parser.add_argument(
        "--contacts",
        type=Path,
        action="append",
        help="contacts folder or file; repeat for several (default contacts/)",
    )


def _serve(args: argparse.Namespace) -> int:
    from aiohttp import web

    from ians.contacts import load_registry
    from ians.settings import Settings, load_policy_table
    from ians.web.app import AppConfig, create_app

    overrides = {
        k: v
        for k, v in {
            "host": args.host,
            "port": args.port,
            "db": args.db,
            "contacts": args.contacts,
            "settings_file": args.settings,
        }.items()
        if v is not None
    }
    settings = Settings(**overrides)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    registry = load_registry(settings.contacts)
    config = AppConfig(
        registry=registry,
        db=str(settings.db),
        admin_token=settings.admin_token.get_secret_value() if settings.admin_token else None,
        policies=load_policy_table(settings.settings_file),
        synchronous=settings.synchronous,
    )
    _install_uvloop()
    web.run_app(
        create_app(config),
        host=settings.host,
        port=settings.port,
        print=lambda text: print(text, flush=True),
    )
    return 0


def _install_uvloop() -> None:
    try:
        import uvloop
    except ImportError:  # optional: faster event loop where available
        return
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())


def _check(args: argparse.Namespace) -> int:
    from ians.contacts import check_contacts

    problems: list[Problem] = check_contacts(args.files)
    for problem in problems:
        print(problem, file=sys.stderr)
    if problems:
        print(f"{len(problems)} problem(s)", file=sys.stderr)
        return 1
    print(f"ok: {', '.join(str(f) for f in args.files)}")
    return 0
