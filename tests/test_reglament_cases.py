"""Every case of every reglament, as its definition's cases file states it: the full sequence of
steps, the outcome, the result and its signature, the term -- and every staff procedure done
inside its office's working hours. `egov-sim run` prints the same."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from datetime import datetime, timedelta

import pytest

from egov_sim.scenarios import cases_of, run_case
from reglaments import all_reglaments, get_reglament
from simulation.database import drop_run
from simulation.settings import Settings
from simulation.topology import SYSTEMS
from tests.conftest import WORKING_MONDAY

CASES = [(r.id, channel, case) for r in all_reglaments().values() for channel, cases in r.cases.items() for case in cases]
SHARED_NAMES = {"approved", "refused", "incomplete-package", "no-registry-data", "bad-password",
                "revoked-certificate", "expired-certificate", "iin-mismatch"}
REFUSAL_CODES = {"revoked-certificate": "REVOKED", "expired-certificate": "CERT_EXPIRED", "iin-mismatch": "IIN_MISMATCH"}


def test_every_reglament_with_channels_has_cases_named_alike():
    for reglament in all_reglaments().values():
        assert set(cases_of(reglament.id)) == set(reglament.channels), reglament.id
        for channel, cases in reglament.cases.items():
            assert "approved" in cases, (reglament.id, channel)
            for name, case in cases.items():
                assert case.expect.get("outcome") in ("approved", "refused", "rejected"), (reglament.id, channel, name)
                assert case.expect.get("steps"), (reglament.id, channel, name)
    names = {case for _, _, case in CASES}
    assert SHARED_NAMES <= names




def assert_holds(actual, expected, where="result"):
    """``actual`` holds every field ``expected`` names, with the same value (nested mappings are
    compared field by field, lists item by item)."""
    if isinstance(expected, dict):
        assert isinstance(actual, dict), f"{where}: {actual!r} is not a mapping"
        for key, value in expected.items():
            assert key in actual, f"{where}.{key}: missing from {sorted(actual)}"
            assert_holds(actual[key], value, f"{where}.{key}")
    elif isinstance(expected, list):
        assert isinstance(actual, list) and len(actual) == len(expected), f"{where}: {actual!r} != {expected!r}"
        for i, (a, e) in enumerate(zip(actual, expected)):
            assert_holds(a, e, f"{where}[{i}]")
    else:
        assert actual == expected, f"{where}: {actual!r} != {expected!r}"


@pytest.fixture
async def settings_for_cases(tmp_path):
    settings = Settings(data_dir=tmp_path / "run", population_size=200, clock_start=WORKING_MONDAY)
    yield settings
    await drop_run(settings, (*SYSTEMS, "simulation"))


@pytest.mark.parametrize(("reglament_id", "channel", "case"), CASES)
async def test_case(settings_for_cases, reglament_id, channel, case):
    reglament = get_reglament(reglament_id)
    expect = reglament.cases[channel][case].expect
    report = await run_case(settings_for_cases, reglament_id, channel, case)
    assert [e["label"] for e in report["trace"]] == expect["steps"]
    assert report["outcome"] == expect["outcome"]
    assert (report["application_id"] is None) == (reglament.cases[channel][case].password == "wrong")
    assert report["term"]["met"] is True
    conditions = [e["outcome"] for e in report["trace"] if e["kind"] == "condition"]
    assert conditions.count("false") <= 1
    for event in report["trace"]:  # each staff procedure ends inside its office's hours
        if event["kind"] == "action":
            schedule = reglament.schedule_of(event["system"])
            at = datetime.fromisoformat(event["sim_time"])
            assert schedule.is_open(at) or schedule.is_open(at - timedelta(minutes=1)), event
    times = [datetime.fromisoformat(e["sim_time"]) for e in report["trace"]]
    assert times == sorted(times)
    if report["outcome"] == "approved":
        document = report["result"]["document"]
        if "result" in expect:  # what the case's result must hold (a certificate, a contract...)
            assert_holds(document, expect["result"])
        else:  # a queue reglament's notification
            assert document["type"] == "notification" and document["queue"]["sequenceNumber"] == 1
        assert report["result"]["verdict"]["code"] == "VALID"
    elif report["outcome"] == "refused":
        document = report["result"]["document"]
        assert document["type"] == "refusal" and document["ground"]["code"]
        assert report["result"]["verdict"]["code"] == "VALID"
    else:
        refusal = report["result"]["refusal"]
        assert refusal["kk"] and refusal["ru"]
        if case in REFUSAL_CODES:
            assert refusal["code"] == REFUSAL_CODES[case]
    if report["outcome"] != "rejected":
        services = {m["serviceId"] for m in report["messages"]}
        if reglament.channel(channel).first.system != reglament.provider.system:
            # the request reached the provider through ЭҮШ (not so a paper application its chancellery took)
            assert reglament.gateway.service_id in services
        if report["outcome"] == "approved":  # the provider's rules read the registries
            assert "GBDFL_UniversalServiceSync" in services
        assert {m["status"] for m in report["messages"]} == {"DELIVERED"}
        # a procedure that registers the case in another system did so through the gateway
        # (wko-queue's executor in "Е-әкімдік")
        labels = {e["label"] for e in report["trace"]}
        channel_steps = reglament.channel(channel).steps
        # (a label several steps share -- pavlodar-privatization's "7-процесс" of each stage and of a
        # refusal -- does not tell from the trace which of them ran)
        shared = {s.label for s in channel_steps if sum(t.label == s.label for t in channel_steps) > 1}
        registered_in = {params["service_id"] for s in channel_steps if s.label in labels - shared
                         for _, params in s.calls if "service_id" in params}
        assert registered_in <= services, registered_in - services


def test_the_command_prints_the_same(tmp_path):
    expected = get_reglament("almaty-queue").cases["corporation"]["no-registry-data"].expect["steps"]
    try:
        env = {**os.environ, "EGOV_SIM_POPULATION_SIZE": "200"}
        result = subprocess.run(
            [sys.executable, "-m", "egov_sim.cli", "run", "almaty-queue", "--channel", "corporation",
             "--case", "no-registry-data", "--json", "--data-dir", str(tmp_path / "cli")],
            capture_output=True, text=True, timeout=300, env=env,
        )
        assert result.returncode == 0, result.stderr
        report = json.loads(result.stdout)
        assert set(report) == {"reglament", "channel", "case", "application_id", "outcome", "result", "started_at",
                               "finished_at", "term", "trace", "messages", "world"}
        assert report["application_id"] and report["world"]["data_dir"] == str((tmp_path / "cli").resolve())
        assert [e["label"] for e in report["trace"]] == expected
        assert set(report["trace"][0]) == {"kind", "number", "label", "step", "system", "sim_time", "outcome", "detail"}
        wrong = subprocess.run([sys.executable, "-m", "egov_sim.cli", "run", "almaty-queue", "--channel", "portal",
                                "--case", "nonsense", "--data-dir", str(tmp_path / "cli")],
                               capture_output=True, text=True, timeout=300, env=env)
        assert wrong.returncode == 2 and "has no case 'nonsense'" in wrong.stderr and "Traceback" not in wrong.stderr
    finally:  # a named world is kept: on PostgreSQL its schemas go with the test
        asyncio.run(drop_run(Settings(data_dir=tmp_path / "cli"), (*SYSTEMS, "simulation")))
