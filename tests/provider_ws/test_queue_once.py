"""A citizen stands on a queue list once: a second application for the same list is refused with
a ground that names the registration already holding the place."""

from __future__ import annotations

import pytest

from egov_sim.citizen import DEMO_CITIZEN, apply_on_portal
from egov_sim.inprocess import Simulation
from simulation.database import drop_run
from simulation.settings import Settings
from simulation.topology import SYSTEMS


@pytest.fixture
async def simulation(tmp_path):
    settings = Settings(data_dir=tmp_path / "run", population_size=100)
    async with Simulation(settings) as simulation:
        yield simulation
    await drop_run(settings, (*SYSTEMS, "simulation"))


async def test_the_same_citizen_is_not_queued_twice_on_one_list(simulation):
    data_dir = simulation.settings.data_dir
    first = await apply_on_portal(simulation.client, "almaty-queue", DEMO_CITIZEN, data_dir=data_dir)
    placed = first.application["result"]["document"]
    assert placed["decision"] == "approved" and placed["queue"]["sequenceNumber"] == 1

    again = await apply_on_portal(simulation.client, "almaty-queue", DEMO_CITIZEN, data_dir=data_dir)
    refusal = again.application["result"]["document"]
    assert refusal["decision"] == "refused"
    assert refusal["ground"]["code"] == "already-queued"
    number = first.application["registrationNumber"]
    for language in ("kk", "ru", "en"):
        assert number in refusal["ground"][language]
        assert "1" in refusal["ground"][language]
    assert again.application["result"]["verdict"]["valid"]
    decided = [e for e in again.trace if e["number"] == 3 and e["kind"] == "condition"]
    assert [e["outcome"] for e in decided] == ["false"] and number in decided[0]["detail"]

    async with simulation.client("provider_ws") as ws:
        queue = (await ws.get("/api/queue/socially-vulnerable", params={"reglament": "almaty-queue"})).json()
    assert [e["applicationId"] for e in queue] == [first.application_id]


async def test_an_executor_cannot_approve_a_second_place_on_the_list(tmp_path):
    settings = Settings(data_dir=tmp_path / "run", population_size=100, provider_mode="manual")
    async with Simulation(settings) as manual:
        data_dir = settings.data_dir
        first = await apply_on_portal(manual.client, "almaty-queue", DEMO_CITIZEN, data_dir=data_dir)
        second = await apply_on_portal(manual.client, "almaty-queue", DEMO_CITIZEN, data_dir=data_dir)
        async with manual.client("provider_ws") as ws:
            for application_id in (first.application_id, second.application_id):
                for number in (1, 2):
                    done = await ws.post(f"/api/cases/{application_id}/steps/{number}",
                                         json={"executor": "Ж. Сапарова"} if number == 2 else None)
                    assert done.status_code == 200, done.text
            approved = await ws.post(f"/api/cases/{first.application_id}/steps/3", json={"decision": "approve"})
            assert approved.status_code == 200 and approved.json()["decision"] == "approved"
            again = await ws.post(f"/api/cases/{second.application_id}/steps/3", json={"decision": "approve"})
            assert again.status_code == 409
            assert first.application["registrationNumber"] in again.json()["message"]
            waiting = (await ws.get(f"/api/cases/{second.application_id}/next")).json()
            assert waiting["nextStep"]["number"] == 3  # nothing was decided: the executor refuses instead
    await drop_run(settings, (*SYSTEMS, "simulation"))
