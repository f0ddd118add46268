"""Runs a folder of the shipped scenario library (``scenarios/``) in one process and checks it:
every scenario passes its own ``then``, every report keeps the invariants any run must keep, and
the folder's reglament is covered in every step and every branch outcome of its channels.

Not a test module itself (no ``test_`` prefix): one small test file per folder calls
:func:`check_library`, so pytest-xdist (``--dist loadfile``) spreads the folders over the cores.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from egov_sim.scenario import Coverage, RunOptions, Scenario, ScenarioResult, collect, run_scenarios
from reglaments import all_reglaments, get_reglament

LIBRARY = Path(__file__).resolve().parents[2] / "scenarios"
"""The shipped library: a folder per reglament, and ``faults/``."""

OPTIONS = RunOptions(settings={"population_size": 200})
"""Small worlds: the library's people are the registries' fixtures and what the scenarios give."""

REFUSAL_CODES = {"revoked": "REVOKED", "expired": "CERT_EXPIRED"}
"""The code a portal's refusal carries for a request signed with such a certificate."""


def verdict(result: ScenarioResult) -> str:
    """What went wrong with one scenario, as lines to read: the failures and the steps' diff."""
    scenario = result.scenario
    head = f"{scenario.when.reglament} / {scenario.when.channel}: {scenario.name}  [{scenario.source}]"
    if result.error is not None:
        return "\n".join([f"ERROR {head}", f"      {result.error}", result.details])
    return "\n".join([f"FAIL  {head}", *(f"      {line}" for line in [*result.failures, *result.diff])])


def invariants(scenario: Scenario, report: dict[str, Any]) -> list[str]:
    """What every run must keep, whatever its scenario says: one line for each broken rule."""
    problems: list[str] = []
    reglament = get_reglament(scenario.when.reglament)
    channel = reglament.channel(scenario.when.channel)
    spec = scenario.case()
    trace = report["trace"]
    outcome = report["outcome"]

    if (report["application_id"] is None) != (spec.password == "wrong"):
        problems.append(f"application id {report['application_id']!r}: an application exists unless the log-in "
                        "is refused")
    for event in trace:  # each staff procedure ends inside its office's hours
        if event["kind"] == "action":
            schedule = reglament.schedule_of(event["system"])
            at = datetime.fromisoformat(event["sim_time"])
            if not (schedule.is_open(at) or schedule.is_open(at - timedelta(minutes=1))):
                problems.append(f"{event['label']} ({event['system']}) ends at {at:%a %Y-%m-%d %H:%M}, "
                                "outside its office's hours")
    times = [datetime.fromisoformat(e["sim_time"]) for e in trace]
    if times != sorted(times):
        problems.append("the trace's times go backwards: " + ", ".join(f"{e['label']} {e['sim_time']}" for e in trace))
    conditions = [e["outcome"] for e in trace if e["kind"] == "condition"]
    if conditions.count("false") > 1:
        problems.append(f"{conditions.count('false')} conditions turned out false: a walk stops at the first")

    result = report.get("result") or {}
    if outcome == "approved" and not (result.get("document") or {}).get("type"):
        problems.append("approved, with no result document")
    expected = reglament.cases[scenario.when.channel][scenario.when.case].expect.get("result") if scenario.when.case else None
    if expected is not None and outcome == scenario.expected().outcome:
        problems += holds(result.get("document"), expected)  # the case's result, lists item for item
    if outcome == "refused":
        document = result.get("document") or {}
        if document.get("type") != "refusal" or not (document.get("ground") or {}).get("code"):
            problems.append(f"refused, but the result is no refusal with a ground: {document}")
    if outcome in ("approved", "refused") and (result.get("verdict") or {}).get("code") != "VALID":
        problems.append(f"the result's signature is not VALID: {result.get('verdict')}")
    if outcome == "rejected":
        refusal = result.get("refusal") or {}
        if not (refusal.get("kk") and refusal.get("ru")):
            problems.append(f"rejected, with no refusal in Kazakh and Russian: {refusal}")
        wanted = REFUSAL_CODES.get(spec.certificate or "") or ("IIN_MISMATCH" if spec.signer == "other" else None)
        if wanted and refusal.get("code") != wanted:
            problems.append(f"the refusal's code is {refusal.get('code')!r}, not {wanted}")

    messages = report["messages"]
    services = {m["serviceId"] for m in messages}
    # (a registry's "not found" is its answer, logged NOT_DELIVERED: a rejection may have one)
    if not scenario.given.faults and outcome != "rejected" and {m["status"] for m in messages} - {"DELIVERED"}:
        problems.append("gateway messages not delivered (the scenario has no faults): "
                        + ", ".join(f"{m['serviceId']} {m['status']}" for m in messages if m["status"] != "DELIVERED"))
    if outcome != "rejected":
        if channel.first.system != reglament.provider.system and reglament.gateway.service_id not in services:
            problems.append(f"the request did not reach the provider through ЭҮШ ({reglament.gateway.service_id})")
        # a procedure that registers the case in another system did so through the gateway (each
        # trace event names its step's key, so steps sharing a label are told apart)
        taken = {e["step"] for e in trace}
        registered_in = {params["service_id"] for s in channel.steps if s.key in taken
                         for _, params in s.calls if "service_id" in params}
        if registered_in - services:
            problems.append(f"no message of {sorted(registered_in - services)}, which the steps taken call")
    return problems


def holds(actual: Any, expected: Any, where: str = "result") -> list[str]:
    """Where ``actual`` does not hold what ``expected`` names: mappings field by field (more
    fields are fine), lists item for item and of the same length, anything else equal."""
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            return [f"{where}: {actual!r} is not a mapping"]
        return [problem for key, value in expected.items()
                for problem in (holds(actual[key], value, f"{where}.{key}") if key in actual
                                else [f"{where}.{key}: missing (it has {sorted(actual)})"])]
    if isinstance(expected, list):
        if not isinstance(actual, list) or len(actual) != len(expected):
            return [f"{where}: {actual!r} is not {len(expected)} items like {expected!r}"]
        return [problem for i, (a, e) in enumerate(zip(actual, expected)) for problem in holds(a, e, f"{where}[{i}]")]
    return [] if actual == expected else [f"{where}: {actual!r}, not {expected!r}"]


def unstated(scenario: Scenario) -> list[str]:
    """What the library asks every scenario to state: a name, a description, the term."""
    missing = [name for name in ("name", "description") if not getattr(scenario, name).strip()]
    if scenario.then.term_met is None:
        missing.append("then.term_met")
    return missing


async def check_library(folder: str | Path, *, complete: bool = True) -> list[ScenarioResult]:
    """Play every scenario of ``folder`` (under ``scenarios/`` when relative) and assert they all
    pass and keep the invariants; with ``complete``, that they cover every step and every branch
    outcome of each channel of the reglaments they play (a folder is one reglament's)."""
    path = Path(folder) if Path(folder).is_absolute() else LIBRARY / folder
    scenarios = collect([path])
    assert scenarios, f"{path}: no scenarios"
    results = await run_scenarios(scenarios, OPTIONS)
    coverage = Coverage(all_reglaments())
    wrong = []
    for result in results:
        lines = [] if result.passed else [verdict(result)]
        problems = unstated(result.scenario) + (invariants(result.scenario, result.report) if result.report else [])
        if problems and result.passed:
            lines.append(verdict(result))
        lines += [f"      invariant: {problem}" for problem in problems]
        if lines:
            wrong.append("\n".join(lines))
        if result.report is not None:
            coverage.add(result.report["trace"], result.report["reglament"], result.report["channel"])
    assert not wrong, f"{len(wrong)} of {len(results)} scenarios of {path} went wrong:\n" + "\n".join(wrong)
    if complete:
        played = sorted({s.when.reglament for s in scenarios})
        gaps = []
        for reglament in played:
            for channel in get_reglament(reglament).channels:
                cov = coverage.of(reglament, channel)
                gaps += [f"{reglament} / {channel}: step {cov.label(k)} ({k})" for k in cov.missing_steps]
                gaps += [f"{reglament} / {channel}: branch {cov.label(k)} → {side} ({k})"
                         for k, side in cov.missing_branches]
        assert not gaps, f"{path} leaves uncovered:\n" + "\n".join(gaps)
    return results
