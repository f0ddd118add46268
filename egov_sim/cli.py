"""The ``egov-sim`` command.

Start-up is kept light: this module imports only the standard library's argparse, os and sys, so
``egov-sim --help`` and a usage error answer at once. A command imports what it needs once it is
chosen; the commands whose arguments live in their own modules (``up``, ``apply``, ``pki``,
``gateway``) are imported only when named on the command line (``bench/cli.py`` measures it).

``demo`` and ``run`` play in a fresh world unless told otherwise (:mod:`egov_sim.world`) and
narrate in ``--lang`` (:mod:`egov_sim.texts`).

Exit status: 0 done (``run``: whatever the case's outcome), 1 the command's own failure (e.g. the
demo's result not valid), 2 a usage error or a refused input, 141 when whoever reads the output
closed it early (``egov-sim run … | head -1``), as a command killed by SIGPIPE reports it to the
shell, without a traceback.
"""

from __future__ import annotations

import argparse
import os
import sys
from importlib import import_module
from importlib.util import find_spec

from egov_sim.texts import LANGUAGES, default_language

PIPE_CLOSED = 141
"""128 + SIGPIPE: the status a shell shows for a command whose reader went away."""

# Commands whose parsers their own modules build: (module, help in `egov-sim --help`). A module is
# imported (and its parser built in full) only when its command is the one named.
_OWN_PARSERS: dict[str, tuple[str, str]] = {
    "up": ("egov_sim.up", "every system as its own process on 127.0.0.1"),
    "apply": ("egov_sim.apply", "file one application with running systems (egov-sim up); prints its id"),
    "pki": ("egov_sim.pki", "the simulated certification authority (НУЦ)"),
    "gateway": ("egov_sim.gateway_cli", "the gateways' message logs"),
    "snapshot": ("egov_sim.snapshot", "save and restore the whole world (databases, keys, secrets, the clock)"),
    "scenario": ("egov_sim.scenario.cli", "scenario files (given / when / then) with path coverage"),
    "trace": ("egov_sim.trace_cli", "one application's trace as text, a Mermaid diagram, one HTML file or OTLP spans"),
    "trainer": ("egov_sim.trainer.cli", "the trainer's web view with every system in one process"),
}


def _named_command(argv: list[str]) -> str | None:
    """The subcommand on the command line: the first word that is not an option."""
    return next((word for word in argv if not word.startswith("-")), None)


def _world_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data-dir", metavar="DIR",
        help="continue the world in DIR (created if new); default: a fresh world in a temporary "
             "directory, removed afterwards. EGOV_SIM_DATA_DIR names a world too",
    )
    parser.add_argument("--keep", action="store_true",
                        help="keep the fresh world's directory and say where it is")
    language = default_language()
    parser.add_argument("--lang", choices=LANGUAGES, default=language,
                        help=f"language of the narration around the systems' Kazakh texts (default "
                             f"here: {language}, from LC_ALL/LC_MESSAGES/LANG if kk or ru, else en)")


def _up_arguments(parser: argparse.ArgumentParser, module) -> None:
    if hasattr(module, "add_arguments"):
        module.add_arguments(parser)
        return
    parser.add_argument("--data-dir", help="where the run keeps its state (default ./.egov-sim)")
    parser.add_argument("--base-port", type=int, help="port of the first system (default 8700)")


def build_parser(argv: list[str]) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="egov-sim",
        description="A simulation of Kazakhstan's e-government gateway and the state services behind it.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    named = _named_command(argv)

    demo = commands.add_parser("demo", help="one application through the portal, every system in one process")
    demo.add_argument("--reglament", default="almaty-queue")
    demo.add_argument("--step", action="store_true",
                      help="pause after each step (with the seed's text of it) until Enter, so a trainer can "
                           "talk it through; q and Enter stops the narration. The prompt goes to stderr. When "
                           "the input ends (stdin closed or piped) the narration goes on without waiting")
    _world_arguments(demo)

    run = commands.add_parser("run", help="one application end to end in virtual time; exits 0 whatever the outcome")
    run.add_argument("reglament")
    run.add_argument("--channel", required=True, help="a channel of the reglament (`egov-sim reglaments` lists them)")
    run.add_argument("--case", required=True, help="approved, refused, bad-password, revoked-certificate, …")
    run.add_argument("--json", action="store_true",
                     help="print one JSON object (with application_id and the world it ran in)")
    _world_arguments(run)

    reglaments = commands.add_parser(
        "reglaments", help="list the reglament definitions with their channels and cases; `export` one as BPMN",
        description="Without a subcommand: list the reglaments with their channels and cases.")
    reglaments.add_argument("--lang", choices=LANGUAGES, default=default_language(),
                            help="language of the titles")
    reglaments_commands = reglaments.add_subparsers(dest="reglaments_command", metavar="export")
    export = reglaments_commands.add_parser(
        "export", help="a reglament as BPMN 2.0 XML with diagram coordinates (bpmn-js, Camunda Modeler...)",
        description="A reglament as BPMN 2.0 XML: one file, a collaboration and a diagram per channel (a pool per "
                    "system, message flows between them), or only the channels named with --channel.")
    export.add_argument("reglament", help="a reglament id (`egov-sim reglaments` lists them)")
    export.add_argument("--format", choices=("bpmn",), default="bpmn", help="the export's format (default bpmn)")
    export.add_argument("--channel", action="append", metavar="CHANNEL",
                        help="export only this channel (repeat for several; default: every channel)")
    export.add_argument("--output", "-o", metavar="FILE", help="write to FILE instead of stdout")

    for name, (module_name, help_text) in _OWN_PARSERS.items():
        if name != named:
            if find_spec(module_name) is not None:
                commands.add_parser(name, help=help_text)  # listed; built in full when named
            continue
        module = import_module(module_name)
        if name == "up":
            _up_arguments(commands.add_parser(name, help=help_text), module)
        else:
            module.add_parser(commands)
    return parser


def _settings(args: argparse.Namespace, data_dir=None):
    """The run's settings, read only now: they need pydantic-settings, which takes a while to import."""
    from pathlib import Path

    from simulation.settings import Settings

    overrides = {}
    chosen = data_dir or getattr(args, "data_dir", None)
    if chosen:
        overrides["data_dir"] = Path(chosen)
    if getattr(args, "base_port", None):
        overrides["base_port"] = args.base_port
    return Settings(**overrides)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = build_parser(argv).parse_args(argv)
    try:
        status = _dispatch(args)
        if sys.stdout is not None:  # None: started with stdout closed (`>&-`); print() then writes nothing
            sys.stdout.flush()
    except BrokenPipeError:
        # The reader left (`| head`): say nothing more, and keep the interpreter's last flush of
        # the dead pipe from printing a traceback at exit (the Python docs' recipe, signal module).
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return PIPE_CLOSED
    return status


def _dispatch(args: argparse.Namespace) -> int:
    import logging

    from pydantic import ValidationError

    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    if args.command == "reglaments" and args.reglaments_command == "export":
        return _export(args)
    if args.command == "reglaments":
        from egov_sim.scenarios import cases_of
        from reglaments import all_reglaments

        for reglament in all_reglaments().values():
            print(f"{reglament.id} ({reglament.region}): {getattr(reglament.title, args.lang)}")
            for channel, cases in cases_of(reglament.id).items():
                print(f"  --channel {channel}: --case {' | '.join(cases)}")
        return 0
    if args.command == "run" and (problem := _case_problem(args.reglament, args.channel, args.case)):
        print(f"egov-sim run: {problem}", file=sys.stderr)  # before a world or a system is made
        return 2
    if args.command in ("demo", "run"):
        from egov_sim.world import World

        world = World.choose(args.data_dir, args.keep)
        try:
            try:
                settings = _settings(args, world.data_dir)
            except ValidationError as exc:
                print(f"egov-sim: bad setting: {exc}", file=sys.stderr)
                return 2
            return _demo(args, settings, world) if args.command == "demo" else _run(args, settings, world)
        finally:
            world.remove()
    try:
        settings = _settings(args)
    except ValidationError as exc:
        print(f"egov-sim: bad setting: {exc}", file=sys.stderr)
        return 2
    if args.command == "up":
        from egov_sim.up import run_up

        options = {name: getattr(args, name) for name in ("only", "max_restarts", "restart_window", "replicas")
                   if hasattr(args, name)}
        return run_up(settings, sys.stdout, **options)
    if args.command == "apply":
        from egov_sim.apply import run_apply

        return run_apply(args, settings, sys.stdout, sys.stderr)
    if args.command == "scenario":
        from egov_sim.scenario.cli import run_scenario_command

        return run_scenario_command(args, sys.stdout, sys.stderr)
    if args.command == "pki":
        from egov_sim import loops

        from egov_sim.pki import run_pki

        return loops.run(run_pki(args, settings, sys.stdout, sys.stderr))
    if args.command == "gateway":
        from egov_sim import loops

        from egov_sim.gateway_cli import run_gateway

        return loops.run(run_gateway(args, settings, sys.stdout, sys.stderr))
    if args.command == "snapshot":
        from egov_sim.snapshot import run_snapshot

        return run_snapshot(args, settings, sys.stdout, sys.stderr)
    if args.command == "trace":
        from egov_sim.trace_cli import run_trace

        return run_trace(args, None, sys.stdout, sys.stderr)  # its own --data-dir / --base-port
    if args.command == "trainer":
        from egov_sim.trainer.cli import run_trainer

        return run_trainer(args, sys.stdout, sys.stderr)
    return 2


def _demo(args: argparse.Namespace, settings, world) -> int:
    from egov_sim import loops
    import io

    from egov_sim.demo import run_demo
    from reglaments import ReglamentError, get_reglament

    try:
        get_reglament(args.reglament)
    except ReglamentError as exc:
        print(f"egov-sim demo: {exc}", file=sys.stderr)
        return 2

    async def demo() -> int:
        try:
            # --step reads stdin only after the simulation has stopped: nothing else runs meanwhile.
            # A process started with stdin closed has none: the narration then never waits.
            step_input = (sys.stdin if sys.stdin is not None else io.StringIO()) if args.step else None
            return await run_demo(settings, sys.stdout, args.reglament, args.lang, world,
                                  step_input=step_input, prompt=sys.stderr)
        finally:
            await world.drop_schemas(settings)

    return loops.run(demo())


def _export(args: argparse.Namespace) -> int:
    """``egov-sim reglaments export R --format bpmn``: 2 for an unknown reglament or channel, or an
    output that cannot be written, naming what is known or why."""
    from pathlib import Path

    from egov_sim.trainer.bpmn import ExportError, render_bpmn
    from reglaments import ReglamentError, all_reglaments

    try:
        known = all_reglaments()
    except ReglamentError as exc:
        print(f"egov-sim reglaments export: {exc}", file=sys.stderr)
        return 2
    if args.reglament not in known:
        print(f"egov-sim reglaments export: unknown reglament {args.reglament!r} (known: {', '.join(known)})",
              file=sys.stderr)
        return 2
    try:
        text = render_bpmn(known[args.reglament], args.channel)
    except ExportError as exc:
        print(f"egov-sim reglaments export: {exc}", file=sys.stderr)
        return 2
    if not args.output:
        sys.stdout.write(text)
        return 0
    try:
        Path(args.output).write_text(text, encoding="utf-8")
    except OSError as exc:
        print(f"egov-sim reglaments export: cannot write {args.output}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    channels = args.channel or list(known[args.reglament].channels)
    print(f"{args.output}: {args.reglament}, BPMN 2.0, {len(channels)} channel(s): {', '.join(dict.fromkeys(channels))}")
    return 0


def _case_problem(reglament_id: str, channel: str, case: str) -> str | None:
    """Why the reglament, channel or case of ``egov-sim run`` is none the definitions have."""
    from reglaments import ReglamentError, all_reglaments

    try:
        known = all_reglaments()
    except ReglamentError as exc:
        return str(exc)
    if reglament_id not in known:
        return f"unknown reglament {reglament_id!r} (known: {', '.join(known)})"
    cases = known[reglament_id].cases
    if channel not in cases:
        return f"reglament {reglament_id} has no channel {channel!r} with cases (it has: {', '.join(cases) or 'none'})"
    if case not in cases[channel]:
        return f"channel {channel} has no case {case!r} (it has: {', '.join(cases[channel])})"
    return None


def _run(args: argparse.Namespace, settings, world) -> int:
    from egov_sim import loops
    import json

    from egov_sim.scenarios import CaseError, narrate, run_case

    async def run() -> dict:
        try:
            return await run_case(settings, args.reglament, args.channel, args.case, world)
        finally:
            await world.drop_schemas(settings)

    try:
        report = loops.run(run())
    except CaseError as exc:
        print(f"egov-sim run: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(report, ensure_ascii=False, indent=2))
    else:
        from datetime import datetime

        print(world.describe(datetime.fromisoformat(report["world"]["clock_at_start"]), args.lang))
        print(narrate(report, args.lang))
    return 0


if __name__ == "__main__":
    sys.exit(main())
