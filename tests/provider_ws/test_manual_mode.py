"""Manual mode: people perform the provider's staff steps through the workstation's API."""

from __future__ import annotations

import pytest

from egov_sim.citizen import DEMO_CITIZEN, apply_on_portal
from egov_sim.inprocess import Simulation
from simulation.calendar import Duration
from simulation.database import drop_run
from simulation.settings import Settings
from simulation.topology import SYSTEMS


@pytest.fixture
async def manual(tmp_path):
    settings = Settings(data_dir=tmp_path / "run", population_size=100, provider_mode="manual")
    async with Simulation(settings) as simulation:
        yield simulation
    await drop_run(settings, (*SYSTEMS, "simulation"))


async def test_people_perform_each_step_in_order(manual):
    outcome = await apply_on_portal(manual.client, "almaty-queue", DEMO_CITIZEN, data_dir=manual.settings.data_dir)
    application_id = outcome.application_id
    assert outcome.application["status"] == "in_progress"  # nothing moves by itself
    clock = manual.runtime("control").clock
    async with manual.client("provider_ws") as ws:
        waiting = (await ws.get(f"/api/cases/{application_id}/next")).json()
        assert waiting["nextStep"]["number"] == 1 and waiting["nextStep"]["actor"] == "chancellery"
        early = await ws.post(f"/api/cases/{application_id}/steps/3")
        assert early.status_code == 409 and "the next step is 1" in early.json()["message"]
        await clock.advance(Duration.parse("15 minutes"))
        assert (await ws.post(f"/api/cases/{application_id}/steps/1")).status_code == 200
        await clock.advance(Duration.parse("40 minutes"))
        assigned = await ws.post(f"/api/cases/{application_id}/steps/2", json={"executor": "Ж. Сапарова"})
        assert assigned.json()["nextStep"]["number"] == 3
        bad = await ws.post(f"/api/cases/{application_id}/steps/3", json={"decision": "refuse"})
        assert bad.status_code == 422 and "ground" in bad.json()["message"]
        await clock.advance(Duration.parse("10 calendar days"))
        refused = await ws.post(f"/api/cases/{application_id}/steps/3", json={
            "decision": "refuse", "ground": {"kk": "отбасы құрамы туралы мәліметтер расталмады",
                                             "ru": "сведения о составе семьи не подтверждены",
                                             "en": "the family composition could not be confirmed"}})
        assert refused.status_code == 200 and refused.json()["decision"] == "refused"
        for number in (4, 5):
            await clock.advance(Duration.parse("1 hour"))
            assert (await ws.post(f"/api/cases/{application_id}/steps/{number}")).status_code == 200
        done = await ws.post(f"/api/cases/{application_id}/steps/6")
        assert done.status_code == 409
    async with manual.client("control") as control:
        trace = (await control.get(f"/trace/{application_id}")).json()
    labels = [e["label"] for e in trace]
    assert labels[-9:] == ["6-процесс", "5-тармақ, 1)", "5-тармақ, 2)", "3-шарт", "7-процесс",
                           "5-тармақ, 3)", "5-тармақ, 4)", "5-тармақ, 5)", "8-процесс"]
    assert trace[labels.index("3-шарт")]["outcome"] == "false"
    assert "Ж. Сапарова" in trace[labels.index("5-тармақ, 2)")]["detail"]


async def test_auto_mode_refuses_manual_steps(simulation):
    outcome = await apply_on_portal(simulation.client, "almaty-queue", DEMO_CITIZEN, run_clock=False,
                                    data_dir=simulation.settings.data_dir)
    async with simulation.client("provider_ws") as ws:
        reply = await ws.post(f"/api/cases/{outcome.application_id}/steps/1")
    assert reply.status_code == 409 and "auto mode" in reply.json()["message"]
