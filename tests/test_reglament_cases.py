"""The definitions' cases files name their cases alike and state what each gives; `egov-sim run`
plays a case and prints its report. The cases themselves are played by the scenario library
(scenarios/, tests/scenarios/): the full sequence of steps, the outcome, the result and its
signature, the term, and every staff procedure done inside its office's working hours."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys

from egov_sim.scenarios import cases_of
from reglaments import all_reglaments, get_reglament
from simulation.database import drop_run
from simulation.settings import Settings
from simulation.topology import SYSTEMS

CASES = [(r.id, channel, case) for r in all_reglaments().values() for channel, cases in r.cases.items() for case in cases]
SHARED_NAMES = {"approved", "refused", "incomplete-package", "no-registry-data", "bad-password",
                "revoked-certificate", "expired-certificate", "iin-mismatch"}


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
                               "finished_at", "term", "trace", "messages", "world", "clock_at_start"}
        assert report["application_id"] and report["world"]["data_dir"] == str((tmp_path / "cli").resolve())
        assert [e["label"] for e in report["trace"]] == expected
        assert set(report["trace"][0]) == {"kind", "number", "label", "step", "system", "sim_time", "outcome", "detail"}
        wrong = subprocess.run([sys.executable, "-m", "egov_sim.cli", "run", "almaty-queue", "--channel", "portal",
                                "--case", "nonsense", "--data-dir", str(tmp_path / "cli")],
                               capture_output=True, text=True, timeout=300, env=env)
        assert wrong.returncode == 2 and "has no case 'nonsense'" in wrong.stderr and "Traceback" not in wrong.stderr
    finally:  # a named world is kept: on PostgreSQL its schemas go with the test
        asyncio.run(drop_run(Settings(data_dir=tmp_path / "cli"), (*SYSTEMS, "simulation")))
