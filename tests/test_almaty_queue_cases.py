"""The almaty-queue reglament, every case of both channels: the full sequence of section-4 steps,
the outcome and the result -- and `egov-sim run` prints the same."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys

import pytest

from egov_sim.scenarios import CASES, run_case
from simulation.database import drop_run
from simulation.settings import Settings
from simulation.topology import SYSTEMS

STAFF = ["5-тармақ, 1)", "5-тармақ, 2)"]
AFTER = ["5-тармақ, 3)", "5-тармақ, 4)", "5-тармақ, 5)"]
PORTAL_FRONT = ["1-процесс", "1-шарт", "3-процесс", "2-шарт"]
CORPORATION_FRONT = ["1-процесс", "1-шарт", "3-процесс", "4-процесс", "2-шарт"]

EXPECTED = {
    ("portal", "approved"): ("approved", [*PORTAL_FRONT, "5-процесс", "6-процесс", *STAFF, "3-шарт", *AFTER, "8-процесс"]),
    ("portal", "refused"): ("refused", [*PORTAL_FRONT, "5-процесс", "6-процесс", *STAFF, "3-шарт", "7-процесс", *AFTER, "8-процесс"]),
    ("portal", "bad-password"): ("rejected", ["1-процесс", "1-шарт", "2-процесс"]),
    ("portal", "revoked-certificate"): ("rejected", [*PORTAL_FRONT, "4-процесс"]),
    ("portal", "expired-certificate"): ("rejected", [*PORTAL_FRONT, "4-процесс"]),
    ("portal", "iin-mismatch"): ("rejected", [*PORTAL_FRONT, "4-процесс"]),
    ("corporation", "approved"): ("approved", [*CORPORATION_FRONT, "6-процесс", "7-процесс", "8-процесс", *STAFF, "3-шарт", *AFTER, "10-процесс"]),
    ("corporation", "refused"): ("refused", [*CORPORATION_FRONT, "6-процесс", "7-процесс", "8-процесс", *STAFF, "3-шарт", "9-процесс", *AFTER, "10-процесс"]),
    ("corporation", "incomplete-package"): ("rejected", ["1-процесс", "1-шарт", "2-процесс"]),
    ("corporation", "no-registry-data"): ("rejected", [*CORPORATION_FRONT, "5-процесс"]),
}
REFUSAL_CODES = {"revoked-certificate": "REVOKED", "expired-certificate": "CERT_EXPIRED", "iin-mismatch": "IIN_MISMATCH"}


def test_every_case_of_every_channel_is_covered():
    assert set(EXPECTED) == {(channel, case) for channel, cases in CASES.items() for case in cases}


@pytest.fixture
async def settings_for_cases(tmp_path):
    settings = Settings(data_dir=tmp_path / "run", population_size=200)
    yield settings
    await drop_run(settings, (*SYSTEMS, "simulation"))


@pytest.mark.parametrize(("channel", "case"), list(EXPECTED))
async def test_case(settings_for_cases, channel, case):
    report = await run_case(settings_for_cases, "almaty-queue", channel, case)
    outcome, labels = EXPECTED[(channel, case)]
    assert report["outcome"] == outcome
    assert (report["application_id"] is None) == (case == "bad-password")
    assert [e["label"] for e in report["trace"]] == labels
    conditions = {e["label"]: e["outcome"] for e in report["trace"] if e["kind"] == "condition"}
    assert list(conditions.values()).count("false") == (0 if outcome == "approved" else 1)
    assert report["term"]["met"] is True
    if outcome == "approved":
        document = report["result"]["document"]
        assert document["type"] == "notification" and document["queue"]["sequenceNumber"] == 1
        assert report["result"]["verdict"]["code"] == "VALID"
    elif outcome == "refused":
        document = report["result"]["document"]
        assert document["type"] == "refusal" and document["ground"]["code"] == "owns-dwelling"
        assert report["result"]["verdict"]["code"] == "VALID"
    else:
        refusal = report["result"]["refusal"]
        assert refusal["kk"] and refusal["ru"]
        if case in REFUSAL_CODES:
            assert refusal["code"] == REFUSAL_CODES[case]
    if outcome != "rejected":
        services = {m["serviceId"] for m in report["messages"]}
        assert "HousingQueueRegistration" in services and "GBDFL_UniversalServiceSync" in services
        assert {m["status"] for m in report["messages"]} == {"DELIVERED"}


def test_the_command_prints_the_same(tmp_path):
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
        assert [e["label"] for e in report["trace"]] == EXPECTED[("corporation", "no-registry-data")][1]
        assert set(report["trace"][0]) == {"kind", "number", "label", "system", "sim_time", "outcome", "detail"}
        wrong = subprocess.run([sys.executable, "-m", "egov_sim.cli", "run", "almaty-queue", "--channel", "portal",
                                "--case", "nonsense", "--data-dir", str(tmp_path / "cli")],
                               capture_output=True, text=True, timeout=300, env=env)
        assert wrong.returncode == 2 and "has no case 'nonsense'" in wrong.stderr and "Traceback" not in wrong.stderr
    finally:  # a named world is kept: on PostgreSQL its schemas go with the test
        asyncio.run(drop_run(Settings(data_dir=tmp_path / "cli"), (*SYSTEMS, "simulation")))
