"""Simulation control's trace endpoint: an application's steps, or 404 naming an unknown id."""

from __future__ import annotations

from base64 import b64decode

from egov_sim.citizen import DEMO_CITIZEN, apply_on_portal
from signatures.identity import Identity


async def test_the_trace_of_an_unknown_id_is_404_naming_it(simulation):
    async with simulation.client("control") as control:
        reply = await control.get("/trace/no-such-application")
    assert reply.status_code == 404
    body = reply.json()
    assert body["error"] == "not_found"
    assert body["applicationId"] == "no-such-application"
    assert "no-such-application" in body["message"]
    assert "no-such-application" in body["message_kk"] and "no-such-application" in body["message_ru"]


async def test_a_rejected_application_still_has_its_trace(simulation):
    """An application the portal refuses at 2-шарт exists, and so does its trace."""
    async with simulation.client("signatures") as ca:
        issued = (await ca.post("/v1/certificates/person", json={
            "iin": DEMO_CITIZEN.iin, "surname": DEMO_CITIZEN.surname, "name": DEMO_CITIZEN.name,
            "validity": "expired"})).json()
    key = Identity.from_pkcs12(b64decode(issued["pkcs12"]), issued["password"].encode())
    outcome = await apply_on_portal(simulation.client, "almaty-queue", DEMO_CITIZEN, signing_key=key,
                                    run_clock=False)
    assert outcome.application["status"] == "rejected"
    async with simulation.client("control") as control:
        reply = await control.get(f"/trace/{outcome.application_id}")
    assert reply.status_code == 200
    assert [e["label"] for e in reply.json()][-2:] == ["2-шарт", "4-процесс"]


async def test_the_position_says_where_an_application_stands(simulation):
    outcome = await apply_on_portal(simulation.client, "almaty-queue", DEMO_CITIZEN, run_clock=False)
    async with simulation.client("control") as control:
        waiting = (await control.get(f"/positions/{outcome.application_id}")).json()
        await control.post("/clock/run")
        done = (await control.get(f"/positions/{outcome.application_id}")).json()
        unknown = await control.get("/positions/no-such-application")
    # registered, the chancellery's 20 minutes run on the clock
    assert waiting == {"applicationId": outcome.application_id, "reglament": "almaty-queue", "channel": "portal",
                       "step": "action-1", "system": "provider_ws", "state": "timed", "waitingFor": None,
                       "outcome": None, "label": "5-тармақ, 1)", "name": waiting["name"]}
    assert waiting["name"]["en"].startswith("Chancellery")
    assert (done["state"], done["outcome"], done["label"]) == ("done", "decided", "8-процесс")
    assert unknown.status_code == 404 and "no-such-application" in unknown.json()["message"]
