"""The ``egov-sim`` command."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from pathlib import Path

from pydantic import ValidationError

from simulation.settings import Settings


def _settings(args: argparse.Namespace) -> Settings:
    overrides = {}
    if getattr(args, "data_dir", None):
        overrides["data_dir"] = Path(args.data_dir)
    if getattr(args, "base_port", None):
        overrides["base_port"] = args.base_port
    return Settings(**overrides)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="egov-sim",
        description="A simulation of Kazakhstan's e-government gateway and the state services behind it.",
    )
    commands = parser.add_subparsers(dest="command", required=True)

    demo = commands.add_parser("demo", help="one application through the portal, every system in one process")
    demo.add_argument("--data-dir", help="where the run keeps its state (default ./.egov-sim)")
    demo.add_argument("--reglament", default="almaty-queue")

    up = commands.add_parser("up", help="every system as its own process on 127.0.0.1")
    up.add_argument("--data-dir", help="where the run keeps its state (default ./.egov-sim)")
    up.add_argument("--base-port", type=int, help="port of the first system (default 8700)")

    commands.add_parser("reglaments", help="list the reglament definitions with their channels and cases")

    run = commands.add_parser("run", help="one application end to end in virtual time; exits 0 whatever the outcome")
    run.add_argument("reglament")
    run.add_argument("--channel", required=True, choices=["portal", "corporation"])
    run.add_argument("--case", required=True, help="approved, refused, bad-password, revoked-certificate, …")
    run.add_argument("--json", action="store_true", help="print one JSON object")
    run.add_argument("--data-dir", help="where the run keeps its state (default ./.egov-sim)")

    from egov_sim.gateway_cli import add_parser as add_gateway
    from egov_sim.pki import add_parser as add_pki

    add_pki(commands)
    add_gateway(commands)

    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        settings = _settings(args)
    except ValidationError as exc:
        print(f"egov-sim: bad setting: {exc}", file=sys.stderr)
        return 2
    if args.command == "demo":
        from egov_sim.demo import run_demo

        return asyncio.run(run_demo(settings, sys.stdout, args.reglament))
    if args.command == "up":
        from egov_sim.up import run_up

        return run_up(settings, sys.stdout)
    if args.command == "pki":
        from egov_sim.pki import run_pki

        return asyncio.run(run_pki(args, settings, sys.stdout, sys.stderr))
    if args.command == "gateway":
        from egov_sim.gateway_cli import run_gateway

        return asyncio.run(run_gateway(args, settings, sys.stdout, sys.stderr))
    if args.command == "reglaments":
        from egov_sim.scenarios import cases_of
        from reglaments import all_reglaments

        for reglament in all_reglaments().values():
            print(f"{reglament.id} ({reglament.region}): {reglament.title.en}")
            for channel, cases in cases_of(reglament.id).items():
                print(f"  --channel {channel}: --case {' | '.join(cases)}")
        return 0
    if args.command == "run":
        import json

        from egov_sim.scenarios import CaseError, narrate, run_case

        try:
            report = asyncio.run(run_case(settings, args.reglament, args.channel, args.case))
        except CaseError as exc:
            print(f"egov-sim run: {exc}", file=sys.stderr)
            return 2
        print(json.dumps(report, ensure_ascii=False, indent=2) if args.json else narrate(report))
        return 0
    return 2


if __name__ == "__main__":
    sys.exit(main())
