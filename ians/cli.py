"""The `ians` command (also `python -m ians`)."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import socket
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from ians import runtime
from ians.domain.limits import time_problem
from ians.errors import FileError, IansError, InvalidInput, Problem
from ians.listening import listen
from ians.reports.render import FORMATS
from ians.scenarios.model import ConsultationScenario

if TYPE_CHECKING:
    from aiohttp import web

    from ians.domain.contacts import Registry
    from ians.scenarios.model import Scenario
    from ians.settings import Settings
    from ians.store import Store


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        result: int = args.run(args)
        sys.stdout.flush()  # a reader that went away (`| head`) is found here, not at exit
        return result
    except BrokenPipeError:
        # the reader of our output closed it early: stop quietly, as `cat` would. Python
        # flushes stdout again at exit, so point it at /dev/null first (Python docs recipe)
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141  # 128 + SIGPIPE, what a shell reports for a program stopped by the pipe
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
    serve.add_argument("--host", help="address to listen on (default 127.0.0.1; IANS_HOST)")
    serve.add_argument("--port", type=int, help="port to listen on (default 8080; IANS_PORT)")
    _common(serve)
    serve.add_argument(
        "--lease",
        type=float,
        help="seconds the claims of a node outlive it, on PostgreSQL (default 10; IANS_LEASE)",
    )
    serve.add_argument(
        "--settings",
        type=Path,
        help="settings file (YAML): policies, e-mail (IANS_SETTINGS_FILE)",
    )
    _channel_flags(serve)
    serve.add_argument(
        "--access-log",
        action="store_true",
        help="log every request (costs about as much as an acknowledgement)",
    )
    serve.set_defaults(run=_serve)

    check = commands.add_parser("check", help="validate contacts and scenario files")
    check.add_argument("files", nargs="+", type=Path, help="contacts and scenario files or folders")
    check.add_argument(
        "--contacts",
        type=Path,
        action="append",
        help="the registry to check scenarios against (default: the contacts"
        " among FILES, else contacts/)",
    )
    check.set_defaults(run=_check)

    drill = commands.add_parser("drill", help="run an exercise of a scenario and write its report")
    drill.add_argument("scenario", type=Path, help="the scenario file (YAML)")
    clock = drill.add_mutually_exclusive_group()
    clock.add_argument(
        "--virtual", action="store_true", help="virtual time: every PoC simulated, done in seconds"
    )
    clock.add_argument(
        "--speed",
        type=float,
        default=1.0,
        help="run the timeline and every policy duration N times faster (real clock; default 1)",
    )
    drill.add_argument(
        "--simulate",
        default="",
        help="countries (comma-separated, e.g. HUN,ROU) or 'all' whose PoCs IANS plays"
        " (real clock; default none)",
    )
    _seed_and_start(drill)
    drill.add_argument(
        "--report",
        type=Path,
        help="write the report here, format from the suffix: .json .csv .md .html .pdf"
        " (default: JSON on standard output)",
    )
    drill.add_argument(
        "--host", help="serve the API meanwhile on this address (real clock; default 127.0.0.1)"
    )
    drill.add_argument("--port", type=int, help="and this port (default 8080)")
    drill.add_argument("--settings", type=Path, help="settings file (YAML): policies, e-mail")
    _channel_flags(drill)
    _common(drill)
    drill.set_defaults(run=_drill)

    simulate = commands.add_parser("simulate", help="Monte Carlo over virtual runs")
    simulate.add_argument("scenario", type=Path, help="the scenario file (YAML)")
    simulate.add_argument(
        "--runs", type=int, required=True, help="how many virtual runs, 1 to 1000000"
    )
    _seed_and_start(simulate)
    simulate.add_argument(
        "--format",
        choices=["text", "json"],
        default="text",
        help="a table for people, or JSON for programs (default text)",
    )
    simulate.add_argument("--settings", type=Path, help="settings file (YAML): policies")
    simulate.add_argument(
        "--contacts", type=Path, action="append", help="contacts folder or file (default contacts/)"
    )
    simulate.set_defaults(run=_simulate)

    report = commands.add_parser("report", help="the report of an exercise in the database")
    report.add_argument(
        "exercise_id", nargs="?", help="the exercise or consultation id (ex-…, cn-…)"
    )
    report.add_argument(
        "--history",
        action="store_true",
        help="instead: every exercise compared over time, oldest first",
    )
    report.add_argument("--country", help="with --history: only this country (ISO 3166-1 alpha-3)")
    report.add_argument(
        "--kind", choices=["drill", "connectivity_test"], help="with --history: only this kind"
    )
    report.add_argument(
        "--format",
        choices=list(FORMATS),
        default="json",
        help=f"{', '.join(FORMATS)} (default json)",
    )
    report.add_argument("--output", type=Path, help="write here instead of to standard output")
    _common(report)
    report.set_defaults(run=_report)
    for command in commands.choices.values():
        for action in command._actions:
            if action.nargs != 0 and action.dest in _METAVARS:
                action.metavar = _METAVARS[action.dest]
    return parser


# the names that `--help` and docs/cli.md give the values of options
_METAVARS = {
    "host": "HOST",
    "port": "PORT",
    "db": "DB",
    "lease": "SECONDS",
    "contacts": "PATH",
    "settings": "FILE",
    "report": "FILE",
    "output": "FILE",
    "country": "C",
    "kind": "K",
    "speed": "N",
    "runs": "N",
    "simulate": "COUNTRIES",
    "seed": "S",
    "start": "T",
    "format": "F",
    "files": "FILES",
    "scenario": "SCENARIO",
    "exercise_id": "EXERCISE_ID",
}


def _seed_and_start(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--seed", type=int, default=0, help="seed of the simulated PoCs' draws (default 0)"
    )
    parser.add_argument(
        "--start",
        type=_when,
        help="scenario start, RFC 3339 with an offset, e.g. 2026-11-27T17:00:00+01:00"
        " (default now)",
    )


def _when(text: str) -> datetime:
    try:
        at = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an RFC 3339 time") from None
    if at.tzinfo is None:
        raise argparse.ArgumentTypeError(f"{text!r} needs an offset, such as Z or +01:00")
    problem = time_problem(at)
    if problem:
        raise argparse.ArgumentTypeError(problem)
    return at


_CHANNEL_FLAGS = (
    ("--public-url", str, "URL", "base of the links in e-mails (default http://HOST:PORT)"),
    ("--smtp-host", str, "HOST", "SMTP relay for e-mail out; without one, e-mail is off"),
    ("--smtp-port", int, "PORT", "its port (default 25)"),
    ("--smtp-username", str, "NAME", "SMTP login (the password: IANS_SMTP_PASSWORD only)"),
    ("--smtp-connections", int, "N", "SMTP sessions a burst of notices shares (default 4)"),
    ("--email-from", str, "ADDRESS", 'From of notices, e.g. "IAN System <ians@example.org>"'),
    ("--email-reply-to", str, "ADDRESS", "where replies go (plus-addressed per notice)"),
    ("--inbound-host", str, "HOST", "listen for replies by SMTP on this address"),
    ("--inbound-port", int, "PORT", "and this port (default 2525)"),
    ("--inbound-max-size", int, "BYTES", "refuse replies over this size (default 1 MiB)"),
    ("--delivery-retries", str, "DURATIONS", "retries after a temporary failure: 10s,1m,5m"),
    ("--delivery-timeout", str, "DURATION", "timeout of one delivery attempt (default 15s)"),
)


def _channel_flags(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("e-mail (each also an IANS_* variable and a settings key)")
    for flag, kind, metavar, text in _CHANNEL_FLAGS:
        variable = "IANS_" + flag.removeprefix("--").replace("-", "_").upper()
        group.add_argument(flag, type=kind, metavar=metavar, help=f"{text} ({variable})")
    for flag, on in (("--smtp-starttls", True), ("--no-smtp-starttls", False)):
        group.add_argument(
            flag,
            dest="smtp_starttls",
            action="store_const",
            const=on,
            default=None,
            help=f"{'use' if on else 'no'} STARTTLS to the relay (IANS_SMTP_STARTTLS)",
        )


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--db", help="SQLite database file (default ians.db) or a postgresql:// URL"
    )
    parser.add_argument(
        "--contacts",
        type=Path,
        action="append",
        help="contacts folder or file; repeat for several (default contacts/)",
    )


def _serve(args: argparse.Namespace) -> int:
    from aiohttp import web

    from ians.contacts import load_registry
    from ians.web.app import AppConfig, connection_options, create_app

    settings = _settings(args, host=args.host, port=args.port, lease=args.lease)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    # the format shows no process, thread or process name: don't look them up for every
    # record (os.getpid alone was a tenth of the server's time under a burst of acks)
    logging.logProcesses = logging.logThreads = logging.logMultiprocessing = False
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    logging.getLogger("mail.log").setLevel(logging.WARNING)  # aiosmtpd: a line per session
    registry = load_registry(settings.contacts)
    config = AppConfig.from_settings(settings, registry)
    sockets = listen(settings.host, settings.port)  # before the database is opened
    runtime.prepare()
    web.run_app(
        create_app(config),
        sock=sockets,
        print=lambda text: print(text, flush=True),
        access_log=logging.getLogger("aiohttp.access") if args.access_log else None,
        **connection_options(settings),
    )
    return 0


def _check(args: argparse.Namespace) -> int:
    from ians.scenarios.loader import check_files

    problems: list[Problem] = check_files(args.files, contacts=args.contacts)
    for problem in problems:
        print(problem, file=sys.stderr)
    if problems:
        print(f"{len(problems)} problem(s)", file=sys.stderr)
        return 1
    print(f"ok: {', '.join(str(f) for f in args.files)}")
    return 0


def _settings(args: argparse.Namespace, **flags: object) -> Settings:
    from pydantic import ValidationError

    from ians.settings import Settings

    given = {
        "contacts": getattr(args, "contacts", None),
        "db": getattr(args, "db", None),
        "settings_file": getattr(args, "settings", None),
        "smtp_starttls": getattr(args, "smtp_starttls", None),
        **{
            name: getattr(args, name, None)
            for name in (f[0].removeprefix("--").replace("-", "_") for f in _CHANNEL_FLAGS)
        },
        **flags,
    }
    try:
        return Settings.model_validate({k: v for k, v in given.items() if v is not None})
    except ValidationError as exc:
        wrong = [
            f"IANS_{'_'.join(str(p) for p in e['loc']).upper()}: "
            + e["msg"].removeprefix("Value error, ")
            for e in exc.errors()
        ]
        raise IansError("; ".join(wrong)) from None


def _simulate(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from ians.consultations import rehearsals
    from ians.contacts import load_registry
    from ians.scenarios.loader import load_scenario_file, start_problems
    from ians.scenarios.model import ConsultationScenario
    from ians.scenarios.montecarlo import monte_carlo
    from ians.scenarios.virtual import VirtualExercise
    from ians.settings import load_policy_table

    if args.runs < 1 or args.runs > 1_000_000:
        raise IansError("--runs must be from 1 to 1000000")
    settings = _settings(args)
    registry = load_registry(settings.contacts)
    scenario = load_scenario_file(args.scenario, registry)
    start = args.start or datetime.now(UTC)
    problems = start_problems(scenario, start)
    if problems:
        raise InvalidInput.listing(problems)
    with tqdm(total=args.runs, unit="run", file=sys.stderr, disable=None) as bar:
        if isinstance(scenario, ConsultationScenario):
            figures = rehearsals(
                scenario, registry, start, args.runs, args.seed, on_run=lambda _: bar.update()
            )
        else:
            exercise = VirtualExercise(
                scenario, registry, load_policy_table(settings.settings_file), start, "simulation"
            )
            figures = monte_carlo(exercise, args.runs, args.seed, on_run=lambda _: bar.update())
    if args.format == "json":
        print(json.dumps(figures, indent=2))
        return 0
    print(f"{scenario.name}: {args.runs} virtual runs from {start.isoformat()}, seed {args.seed}")
    if isinstance(scenario, ConsultationScenario):
        print(f"expected response rate {figures['response_rate']:.1%} of {figures['invited']}")
        for stage in figures["by_stage"]:
            print(f"  {stage['stage']:20} {stage['at']:>28} {stage['response_rate']:7.1%}")
        print(f"{'country':8} {'answered':>9}")
        for row in figures["by_country"]:
            print(f"{row['country']:8} {row['response_rate']:9.1%}")
        return 0
    print(f"{'country':8} {'acked':>7} {'in target':>10} {'median':>9} {'p90':>9}")
    for row in figures["by_country"]:
        seconds = row["ack_seconds"]
        print(
            f"{row['country']:8} {row['ack_rate']:7.1%} {row['within_target_rate']:10.1%}"
            f" {_span(seconds['median']):>9} {_span(seconds['p90']):>9}"
        )
    return 0


def _span(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{secs:02d}s"


def _report(args: argparse.Namespace) -> int:
    from ians.contacts import load_registry
    from ians.store.backends import open_store
    from ians.store.postgres import is_postgres_url

    settings = _settings(args)
    if not is_postgres_url(settings.db) and not Path(settings.db).exists():
        raise IansError(f"no database at {settings.db}")
    registry = load_registry(settings.contacts)

    if args.history == (args.exercise_id is not None):
        raise IansError("give an exercise id, or --history (not both)")
    if not args.history and (args.country or args.kind):
        raise IansError("--country and --kind go with --history")
    if args.country is not None and args.country not in registry.countries:
        raise IansError(f"--country: {args.country!r} is not a country code of the registry")

    async def read() -> bytes:
        store = await open_store(settings.db)
        try:
            if args.history:
                from ians.reports.history import report_history
                from ians.reports.page import Names
                from ians.reports.render import render_history

                history = await report_history(store, registry, args.country, args.kind)
                return render_history(history, args.format, Names.of(registry))
            return await _rendered(store, args.exercise_id, args.format, registry)
        finally:
            await store.close()

    body = asyncio.run(read())
    if args.output:
        args.output.write_bytes(body)
    else:
        sys.stdout.buffer.write(body)
    return 0


def _drill(args: argparse.Namespace) -> int:
    from ians.contacts import load_registry
    from ians.scenarios.loader import load_scenario_file

    settings = _settings(args, host=args.host, port=args.port)
    registry = load_registry(settings.contacts)
    scenario = load_scenario_file(args.scenario, registry)
    fmt = "json"
    if args.report is not None:
        fmt = args.report.suffix.lstrip(".").lower()
        if fmt not in FORMATS:
            raise IansError(
                f"--report: use a .json, .csv, .md, .html or .pdf file, not {args.report}"
            )
    simulate = [c.strip() for c in args.simulate.split(",") if c.strip()]
    if simulate == ["all"]:
        simulate = list(registry.countries)
    if args.virtual and simulate:
        raise IansError("--simulate is for the real clock: in virtual time every PoC is simulated")
    if isinstance(scenario, ConsultationScenario) and simulate:
        raise IansError("a consultation takes no --simulate: rehearse it with --virtual")
    # the real clock serves the API: bind now, so a port in use stops us before the database
    sockets = [] if args.virtual else listen(settings.host, settings.port)
    runtime.prepare()
    body = asyncio.run(
        _run_drill(args, settings, registry, scenario, tuple(simulate), fmt, sockets)
    )
    if args.report is not None:
        args.report.write_bytes(body)
        print(f"report written to {args.report}", file=sys.stderr)
    else:
        sys.stdout.buffer.write(body)
    return 0


async def _run_drill(
    args: argparse.Namespace,
    settings: Settings,
    registry: Registry,
    scenario: Scenario,
    simulate: tuple[str, ...],
    fmt: str,
    sockets: list[socket.socket],
) -> bytes:
    from aiohttp import web

    from ians.domain.exercise import ClockKind, ExerciseState
    from ians.exercises import ExerciseRequest
    from ians.services import AppConfig
    from ians.web.app import connection_options, create_app
    from ians.web.keys import exercises_key, tracker_key

    config = AppConfig.from_settings(settings, registry)
    app = create_app(config)
    runner = web.AppRunner(app, access_log=None, **connection_options(settings))
    await runner.setup()
    try:
        store = app[tracker_key].store
        clock = ClockKind.VIRTUAL if args.virtual else ClockKind.REAL
        source = args.scenario.read_text(encoding="utf-8")
        exercise = await app[exercises_key].start(
            ExerciseRequest(
                scenario=scenario,
                source=source,
                clock=clock,
                speed=args.speed,
                seed=args.seed,
                start=args.start,
                simulate=simulate,
            )
        )
        print(f"exercise {exercise.id}: {scenario.name}", file=sys.stderr)
        if exercise.state == ExerciseState.RUNNING:
            for sock in sockets:
                await web.SockSite(runner, sock).start()
            print(
                f"API on http://{settings.host}:{settings.port} (Ctrl-C stops it)", file=sys.stderr
            )
            await _follow(app, exercise.id, scenario, registry)
        record = await store.exercise(exercise.id)
        print(f"exercise {exercise.id} {record.state}", file=sys.stderr)
        return await _rendered(store, exercise.id, fmt, registry)
    finally:
        await runner.cleanup()
        for sock in sockets:  # those never served (the exercise ended at once)
            sock.close()


async def _rendered(store: Store, exercise_id: str, fmt: str, registry: Registry) -> bytes:
    """The report of an exercise, or the results of a consultation, in `fmt`."""
    from ians.consultations import Opened, results, results_csv
    from ians.reports.build import build_report
    from ians.reports.page import Names
    from ians.reports.render import render
    from ians.reports.results import render_results
    from ians.scenarios.loader import load_scenario

    record = await store.exercise(exercise_id)
    if record.kind != "consultation":
        facts = await store.exercise_facts(exercise_id)
        return render(build_report(facts, registry), facts, fmt, Names.of(registry))
    scenario = load_scenario(record.scenario, registry, name=record.id)
    assert isinstance(scenario, ConsultationScenario)
    opened = Opened(record, scenario)
    invitations = await store.invitations(exercise_id)
    responses = await store.responses(exercise_id)
    if fmt == "csv":
        return results_csv(opened, invitations, responses).encode()
    found = results(opened, invitations, responses)
    if fmt == "json":
        return (json.dumps(found, indent=2, ensure_ascii=False) + "\n").encode()
    return render_results(found, fmt, Names.of(registry))


async def _follow(
    app: web.Application, exercise_id: str, scenario: Scenario, registry: Registry
) -> None:
    """Show progress until the exercise or consultation ends; Ctrl-C stops it."""
    from tqdm import tqdm

    from ians.domain.exercise import ExerciseState
    from ians.exercises import progress
    from ians.web.keys import exercises_key, tracker_key

    store = app[tracker_key].store
    if isinstance(scenario, ConsultationScenario):
        total, unit = len(scenario.audience_pocs(registry)), "response"
    else:
        total, unit = len(scenario.timeline(registry)), "inject"
    with tqdm(total=total, unit=unit, file=sys.stderr, disable=None) as bar:
        try:
            while (await store.exercise(exercise_id)).state == ExerciseState.RUNNING:
                await asyncio.sleep(0.5)  # a progress display, not a wait for an event
                if isinstance(scenario, ConsultationScenario):
                    bar.n = len(await store.responses(exercise_id))
                else:
                    facts = await store.exercise_facts(exercise_id)
                    done = progress(facts.messages, facts.chases)
                    bar.n = done["injects_sent"]
                    bar.set_postfix(
                        acknowledged=done["acknowledged"],
                        pending=done["pending"],
                        gave_up=done["gave_up"],
                    )
                bar.refresh()
        except (KeyboardInterrupt, asyncio.CancelledError):
            await app[exercises_key].stop(exercise_id)
