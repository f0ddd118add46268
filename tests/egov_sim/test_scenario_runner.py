"""The scenario runner: the staff by hand (each listed procedure in order, with its inputs, after
its own duration; one out of order named by its field), systems restarted mid-application, faults
cleared whatever happened, files it cannot read, a JUnit file that always parses."""

from __future__ import annotations

import pytest

from egov_sim.scenario import RunOptions, Scenario, run_scenario
from tests.conftest import WORKING_MONDAY

OPTIONS = RunOptions(settings={"population_size": 200})
GROUND = {"kk": "отбасы құрамы туралы мәліметтер расталмады", "ru": "сведения о составе семьи не подтверждены",
          "en": "the family composition could not be confirmed"}


def _scenario(staff: list[dict], then: dict | None = None, channel: str = "portal") -> Scenario:
    return Scenario.model_validate({
        "name": "by hand", "given": {"provider_staff": "manual", "clock": WORKING_MONDAY.isoformat()},
        "when": {"reglament": "almaty-queue", "channel": channel, "queue_list": "socially-vulnerable", "staff": staff},
        "then": then or {}})


async def test_the_staff_by_hand_refuse_with_their_own_ground():
    result = await run_scenario(_scenario(
        [{"step": 1}, {"step": 2, "executor": "Ж. Сапарова"}, {"step": 3, "decision": "refuse", "ground": GROUND}],
        {"outcome": "refused", "signature": "VALID", "term_met": True, "refusal_contains": "расталмады",
         "steps": ["1-процесс", "1-шарт", "3-процесс", "2-шарт", "5-процесс", "6-процесс", "5-тармақ, 1)",
                   "5-тармақ, 2)", "3-шарт", "7-процесс", "5-тармақ, 3)", "5-тармақ, 4)", "5-тармақ, 5)",
                   "8-процесс"]}), OPTIONS)
    assert result.passed, (result.error, result.failures, result.diff)
    trace = result.report["trace"]
    assert "Ж. Сапарова" in next(e for e in trace if e["label"] == "5-тармақ, 2)")["detail"]
    assert next(e for e in trace if e["label"] == "3-шарт")["outcome"] == "false"


async def test_a_staff_step_out_of_order_names_the_field():
    result = await run_scenario(_scenario([{"step": 2}], channel="corporation"), OPTIONS)
    assert result.report is None and result.error == (
        "when.staff[0].step: the case waits for procedure 1 (chancellery), the scenario performs 2")


async def test_systems_restarted_once_the_application_is_filed_finish_it_once():
    result = await run_scenario(Scenario.model_validate({
        "name": "restarted", "given": {"clock": WORKING_MONDAY.isoformat()},
        "when": {"reglament": "almaty-queue", "channel": "corporation", "case": "approved",
                 "restart": ["provider_ws", "gateway"]},
        "then": {"signature": "VALID", "term_met": True}}), OPTIONS)
    assert result.passed, (result.error, result.failures, result.diff)
    labels = [e["label"] for e in result.report["trace"]]
    assert len(labels) == len(set(labels))  # no step twice
    assert result.report["result"]["document"]["queue"]["sequenceNumber"] == 1


async def test_the_faults_set_before_a_refused_one_are_cleared(settings):
    from egov_sim.inprocess import Simulation
    from egov_sim.scenario.runner import ScenarioRunError, _play

    scenario = Scenario.model_validate({
        "name": "a refused second fault",
        "given": {"faults": [{"system": "registries", "service": "GBDFL_UniversalServiceSync", "mode": "down"},
                             {"system": "portal", "service": "GBDFL_UniversalServiceSync", "mode": "down"}]},
        "when": {"reglament": "almaty-queue", "channel": "corporation", "case": "approved"}})
    async with Simulation(settings) as world:
        with pytest.raises(ScenarioRunError, match=r"given\.faults: fault 1: GBDFL_UniversalServiceSync goes to "
                                                   r"'registries' at gateway, not to 'portal'"):
            await _play(world, scenario)
        async with world.client("gateway") as gateway:
            assert (await gateway.get("/admin/faults")).json() == {}


def test_a_file_of_no_scenario_or_not_utf8_is_refused(tmp_path):
    from egov_sim.scenario import ScenarioFileError, load_file

    empty = tmp_path / "empty.yaml"
    empty.write_text("scenarios: []\n", encoding="utf-8")
    with pytest.raises(ScenarioFileError, match="holds no scenario"):
        load_file(empty)
    latin = tmp_path / "latin.yaml"
    latin.write_bytes("name: caf\xe9\n".encode("latin-1"))
    with pytest.raises(ScenarioFileError, match="is not UTF-8 text"):
        load_file(latin)


def test_the_junit_file_parses_whatever_an_error_carries():
    import xml.etree.ElementTree as ET

    from egov_sim.scenario.junit import junit_xml
    from egov_sim.scenario.runner import ScenarioResult

    scenario = _scenario([{"step": 1}])
    broken = ScenarioResult(scenario, error="outside answer: \x1b[31mred\x00", details="trace \x07")
    suite = ET.fromstring(junit_xml([broken]))
    assert suite.get("errors") == "1"
    assert suite.find(".//error").get("message") == "outside answer: \ufffd[31mred\ufffd"
