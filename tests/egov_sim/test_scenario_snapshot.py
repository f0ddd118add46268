"""A scenario starts from a snapshot of another world (given.snapshot): its fresh world takes the
snapshot's state, so the next queue number and the clock go on from where the snapshot was taken."""

from __future__ import annotations

import asyncio
from datetime import datetime

from egov_sim import snapshot
from egov_sim.citizen import DEMO_CITIZEN, apply_on_portal
from egov_sim.inprocess import Simulation
from egov_sim.scenario import RunOptions, Scenario, run_scenario
from simulation.settings import Settings


async def test_a_scenario_starts_from_a_snapshot_of_another_world(settings: Settings):
    async with Simulation(settings) as simulation:
        first = await apply_on_portal(simulation.client, "almaty-queue", DEMO_CITIZEN,
                                      data_dir=simulation.settings.data_dir)
        assert first.application["result"]["document"]["queue"]["sequenceNumber"] == 1
        async with simulation.client("control") as control:
            saved_at = datetime.fromisoformat((await control.get("/clock")).json()["now"])
    await asyncio.to_thread(snapshot.save, settings, "after-first")

    scenario = Scenario.model_validate({
        "name": "the second in the queue",
        "given": {"snapshot": "after-first"},
        "when": {"reglament": "almaty-queue", "channel": "corporation", "applicant": "851102304571",
                 "queue_list": "socially-vulnerable"},
        "then": {"outcome": "approved", "result": {"queue": {"sequenceNumber": 2}}, "signature": "VALID"},
    })
    options = RunOptions(snapshots_from=settings.data_dir, settings={"population_size": settings.population_size})
    result = await run_scenario(scenario, options)
    assert result.passed, (result.error, result.failures, result.details)
    assert datetime.fromisoformat(result.report["clock_at_start"]) == saved_at

    missing = await run_scenario(scenario.model_copy(update={"given": scenario.given.model_copy(
        update={"snapshot": "no-such-snapshot"})}), options)
    assert missing.error is not None and missing.error.startswith("given.snapshot: no snapshot 'no-such-snapshot'")
    assert "after-first" in missing.error
