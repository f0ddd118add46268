"""The scenario runner plays the staff by hand: each listed procedure in order, with its inputs,
after its own duration; one out of order is named by its field, and the application waits."""

from __future__ import annotations

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
