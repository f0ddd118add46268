"""A system restarted mid-application, in one process (Simulation.restart): the provider's
workstation -- and the gateway -- stopped and started again on their data while an almaty-queue
application stands between two staff steps; the walk goes on from where it stood, each staff step
once, and the result reaches the State Corporation (the process version under `egov-sim up`:
tests/trust/test_killed_mid_application.py)."""

from __future__ import annotations

from collections import Counter

import pytest

from egov_sim.faults import restart
from tests.faults.test_reglament_reactions import _apply, operator_session


@pytest.mark.parametrize("restarted", [("provider_ws",), ("provider_ws", "gateway", "gateway-almaty")])
async def test_a_system_restarted_between_staff_steps_finishes_the_application_once(simulation, restarted):
    view = await _apply(simulation)
    application_id = view["id"]
    async with simulation.client("control") as control:
        async def position() -> dict:
            answer = await control.get(f"/positions/{application_id}")
            assert answer.status_code == 200, answer.text
            return answer.json()

        for _ in range(100):  # on to the provider, then one staff step further
            if (await position())["system"] == "provider_ws":
                break
            assert (await control.post("/clock/next")).json()["moved"], await position()
        else:
            pytest.fail(f"the application never reached the provider: {await position()}")
        stood_at = (await position())["step"]
        while (await position())["step"] == stood_at:
            assert (await control.post("/clock/next")).json()["moved"], await position()
        mid = await position()
        assert mid["system"] == "provider_ws" and not mid["outcome"], mid
        old_apps = {system: simulation.apps[system] for system in restarted}

        for system in restarted:
            await restart(simulation, system)
        assert all(simulation.apps[s] is not old_apps[s] for s in restarted)  # fresh apps, on the same data
        assert (await position())["step"] == mid["step"]

        assert (await control.post("/clock/run")).status_code == 200
        done = await position()
        trace = (await control.get(f"/trace/{application_id}")).json()
    assert done["outcome"] == "decided", done
    steps = Counter(e["step"] for e in trace if e.get("system") == "provider_ws" and e.get("step"))
    assert steps and set(steps.values()) == {1}, steps  # no staff step lost or done twice
    session = await operator_session(simulation)
    async with simulation.client("corporation_ws") as ws:
        final = (await ws.get(f"/api/applications/{application_id}", headers={"Authorization": f"Bearer {session}"})).json()
    assert final["status"] == "result" and final["result"]["document"]["queue"]["sequenceNumber"] == 1, final


async def test_restarting_what_is_not_a_system_is_refused(simulation):
    with pytest.raises(KeyError, match="nowhere"):
        await simulation.restart("nowhere")
