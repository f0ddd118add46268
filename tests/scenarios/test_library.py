"""The shipped library as files: every case of every definition is played by one of its scenarios,
every scenario starts on the tests' working Monday and says what it shows, each folder holds one
reglament's channels; and the library's own checks catch a wrong scenario and a broken run."""

from __future__ import annotations

from pathlib import Path

import pytest

from egov_sim.scenario import Scenario, collect
from reglaments import all_reglaments
from tests.conftest import WORKING_MONDAY
from tests.scenarios.library import LIBRARY, check_library, invariants

SCENARIOS = collect([LIBRARY])


def test_every_case_of_every_definition_is_played_by_a_library_scenario():
    played = {(s.when.reglament, s.when.channel, s.when.case) for s in SCENARIOS}
    cases = {(r.id, channel, case) for r in all_reglaments().values()
             for channel, named in r.cases.items() for case in named}
    assert cases - played == set(), f"cases no library scenario plays: {sorted(cases - played)}"


def test_every_scenario_starts_on_the_working_monday_and_says_what_it_shows():
    for scenario in SCENARIOS:
        where = f"{scenario.source} ({scenario.name})"
        assert scenario.given.clock == WORKING_MONDAY, where
        assert scenario.name and scenario.description.strip() and "\n" not in scenario.description.strip(), where
        assert scenario.then.term_met is not None, where
        if scenario.expected().outcome == "rejected":
            assert scenario.then.refusal_contains, where
        elif scenario.expected().outcome == "approved" or scenario.then.signature:
            assert scenario.then.signature == "VALID", where


def test_a_folder_holds_one_reglament_a_file_one_channel():
    reglaments = all_reglaments()
    assert {p.name for p in LIBRARY.iterdir() if p.is_dir()} == {*reglaments, "faults"}
    assert (LIBRARY / "README.md").is_file()
    names = [s.name for s in SCENARIOS]
    assert len(names) == len(set(names)), "scenario names repeat"
    for scenario in SCENARIOS:
        file = Path(scenario.source.split("#")[0])
        if file.parent.name != "faults":
            assert (file.parent.name, file.stem) == (scenario.when.reglament, scenario.when.channel), scenario.source
        else:
            assert scenario.given.faults, scenario.source


async def test_the_check_fails_a_scenario_with_a_wrong_step(tmp_path):
    (tmp_path / "wrong.yaml").write_text(
        "name: a wrong expected step\n"
        "description: the log-in is refused, but the scenario expects the request to be signed\n"
        f"given: {{clock: '{WORKING_MONDAY.isoformat()}'}}\n"
        "when: {reglament: almaty-queue, channel: portal, case: bad-password}\n"
        "then: {term_met: true, steps: ['1-процесс', '1-шарт', '3-процесс']}\n", encoding="utf-8")
    with pytest.raises(AssertionError) as failed:
        await check_library(tmp_path, complete=False)
    message = str(failed.value)
    assert "FAIL  almaty-queue / portal: a wrong expected step" in message
    assert "-3-процесс" in message and "+2-процесс" in message


def test_the_invariants_catch_a_procedure_at_night_and_time_going_back():
    scenario = Scenario.model_validate({"name": "n", "when": {"reglament": "almaty-queue", "channel": "portal",
                                                               "case": "approved"}})
    event = {"kind": "action", "label": "5-тармақ, 1)", "step": "action-1", "system": "provider_ws",
             "outcome": None, "detail": ""}
    report = {"application_id": "A-1", "outcome": "approved", "messages": [],
              "result": {"document": {"type": "notification"}, "verdict": {"code": "VALID"}},
              "trace": [{**event, "sim_time": "2026-11-04T03:00:00+05:00"},
                        {**event, "sim_time": "2026-11-03T11:00:00+05:00"}]}
    problems = invariants(scenario, report)
    assert any("outside its office's hours" in p for p in problems), problems
    assert any("go backwards" in p for p in problems), problems
    assert any("HousingQueueRegistration" in p for p in problems), problems


def test_the_readme_check_command_reads_the_whole_library():
    import subprocess
    import sys

    readme = (LIBRARY / "README.md").read_text(encoding="utf-8")
    assert "    egov-sim scenario check scenarios\n" in readme
    done = subprocess.run([sys.executable, "-m", "egov_sim.cli", "scenario", "check", "scenarios"],
                          cwd=LIBRARY.parent, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert f"{len(SCENARIOS)} scenarios read, no problem found" in done.stdout
