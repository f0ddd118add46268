"""``egov-sim scenario run PATH…``: play scenario files, print a verdict per scenario (with the
steps' diff when they differ) and the path coverage, write JUnit XML and coverage files.

Exit status: 0 every scenario passed, 1 one failed or could not run, 2 a file that cannot be read
(nothing runs then: the message names the file, the scenario and the field).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TextIO


def add_parser(commands: argparse._SubParsersAction) -> None:
    scenario = commands.add_parser("scenario", help="scenario files (given / when / then) with path coverage")
    actions = scenario.add_subparsers(dest="scenario_command", required=True, metavar="ACTION")
    run = actions.add_parser("run", help="play scenario files or folders and judge them")
    run.add_argument("paths", nargs="+", type=Path, metavar="PATH", help="scenario files (.yaml) or folders of them")
    run.add_argument("--junit", type=Path, metavar="FILE", help="write the verdicts as JUnit XML")
    run.add_argument("--target", metavar="URL",
                     help="play against running systems: the control system's URL (egov-sim up prints it)")
    run.add_argument("--token", help="the running world's admin token (default: EGOV_SIM_ADMIN_TOKEN, or --data-dir's)")
    run.add_argument("--data-dir", type=Path, metavar="DIR",
                     help="the world whose snapshots given.snapshot names, or the running world of --target")
    run.add_argument("--coverage-json", type=Path, metavar="FILE",
                     help='write the path coverage: {reglament: {channel: {"steps": [covered, total], '
                          '"branches": [covered, total]}}}')
    run.add_argument("--coverage-html", type=Path, metavar="FILE",
                     help="write each reglament's graph with the covered steps and branches marked")
    run.add_argument("--require-coverage", action="store_true",
                     help="exit 1 unless every step and branch of every reglament is covered")
    run.add_argument("--verbose", "-v", action="store_true", help="narrate each run and show an error's traceback")
    from egov_sim.texts import LANGUAGES, default_language

    run.add_argument("--lang", choices=LANGUAGES, default=default_language(),
                     help="language of the narration (--verbose) around the systems' Kazakh texts")
    check = actions.add_parser("check", help="read scenario files and report the first problem, without running them")
    check.add_argument("paths", nargs="+", type=Path, metavar="PATH")


def _verdict_lines(result) -> list[str]:
    scenario = result.scenario
    head = f"{scenario.when.reglament} / {scenario.when.channel}: {scenario.name}  [{scenario.source}]"
    if result.error is not None:
        return [f"ERROR {head}", f"      {result.error}"]
    if result.failures:
        lines = [f"FAIL  {head}"] + [f"      {failure}" for failure in result.failures]
        return lines + [f"      {line}" for line in result.diff]
    report = result.report or {}
    return [f"PASS  {head}  ({len(report.get('trace', []))} steps, {report.get('outcome')})"]


def run_scenario_command(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from egov_sim.scenario import Coverage, RunOptions, ScenarioFileError, collect, run_scenarios
    from reglaments import ReglamentError, all_reglaments

    try:
        scenarios = collect(args.paths)
    except (ScenarioFileError, ReglamentError) as exc:
        print(f"egov-sim scenario: {exc}", file=err)
        return 2
    if not scenarios:  # (a file always holds one; kept against an empty selection)
        print("egov-sim scenario: no scenario found", file=err)
        return 2
    if args.scenario_command == "check":
        print(f"{len(scenarios)} scenarios read, no problem found", file=out)
        return 0
    options = RunOptions(target=args.target, token=args.token, target_data_dir=args.data_dir if args.target else None,
                         snapshots_from=args.data_dir)
    coverage = Coverage(all_reglaments())

    def each(result) -> None:
        for line in _verdict_lines(result):
            print(line, file=out)
        if result.report is not None:
            coverage.add(result.report["trace"], result.report["reglament"], result.report["channel"])
            if args.verbose:
                from egov_sim.scenarios import narrate

                print("      " + narrate(result.report, args.lang).replace("\n", "\n      "), file=out)
        if args.verbose and result.details:
            print(result.details, file=out)
        out.flush()

    from egov_sim import loops

    results = loops.run(run_scenarios(scenarios, options, each))
    passed = sum(r.passed for r in results)
    failed = sum(bool(r.failures) for r in results)
    errors = sum(r.error is not None for r in results)
    print(f"\n{len(results)} scenarios: {passed} passed, {failed} failed, {errors} could not run", file=out)
    print("\npath coverage (steps, and each branch's two outcomes)", file=out)
    print(coverage.table(), file=out)
    if args.junit:
        from egov_sim.scenario.junit import write_junit

        write_junit(results, args.junit)
    if args.coverage_json:
        args.coverage_json.parent.mkdir(parents=True, exist_ok=True)
        args.coverage_json.write_text(json.dumps(coverage.as_json(), ensure_ascii=False, indent=2) + "\n",
                                      encoding="utf-8")
    if args.coverage_html:
        from egov_sim.scenario.graph import coverage_html

        args.coverage_html.parent.mkdir(parents=True, exist_ok=True)
        args.coverage_html.write_text(coverage_html(coverage), encoding="utf-8")
    if passed != len(results):
        return 1
    if args.require_coverage and not coverage.complete():
        print("egov-sim scenario: not every step and branch is covered (see the table)", file=err)
        return 1
    return 0


def main(args: argparse.Namespace) -> int:
    return run_scenario_command(args, sys.stdout, sys.stderr)
