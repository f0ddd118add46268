"""Staff work in their offices' hours (seed 002, item 11): a request filed at night on a public
holiday is registered at once by the provider's system, and its staff take it up at the next
opening -- the trace says when."""

from __future__ import annotations

from datetime import datetime

import pytest

from egov_sim.citizen import DEMO_CITIZEN, apply_on_portal
from egov_sim.inprocess import Simulation
from reglaments import get_reglament
from simulation.calendar import to_local
from simulation.database import drop_run
from simulation.settings import Settings
from simulation.topology import SYSTEMS

INDEPENDENCE_DAY_NIGHT = datetime.fromisoformat("2026-12-16T22:30:00+05:00")


@pytest.fixture
async def holiday_night(tmp_path):
    settings = Settings(data_dir=tmp_path / "run", population_size=200, clock_start=INDEPENDENCE_DAY_NIGHT)
    async with Simulation(settings) as simulation:
        yield simulation
    await drop_run(settings, (*SYSTEMS, "simulation"))


async def test_a_request_filed_on_a_holiday_night_is_taken_at_the_next_opening(holiday_night):
    reglament = get_reglament("almaty-queue")
    hours = reglament.schedule_of("provider_ws")
    outcome = await apply_on_portal(holiday_night.client, reglament.id, DEMO_CITIZEN)
    trace = {e["label"]: e for e in outcome.trace}
    registered = to_local(datetime.fromisoformat(trace["6-процесс"]["sim_time"]))
    assert registered.date().isoformat() == "2026-12-16" and registered.hour >= 22  # the system works at night
    assert not hours.is_open(registered)
    first = trace["5-тармақ, 1)"]
    taken = to_local(hours.next_opening(registered))
    assert taken.isoformat().startswith("2026-12-17T09:00")  # the 16th is Independence Day, the 17th works
    assert to_local(datetime.fromisoformat(first["sim_time"])) == to_local(hours.add(reglament.staff_step(1).duration, registered))
    assert "жұмыс уақыты басталғанда қабылданды: 2026-12-17 09:00" in first["detail"]
    assert outcome.application["status"] == "result"
    for event in outcome.trace:
        if event["kind"] == "action":
            assert "қабылданды" not in event["detail"] or event is first
