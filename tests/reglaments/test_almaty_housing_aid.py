"""almaty-housing-aid beyond what tests/test_reglament_cases.py checks: the cabinet's acceptance
with the date the result is due (item 13), the consent recorded and required (item 11), the
electronic queue booked on the portal (item 11), the contact centre 1414's status by the number
(item 16), and the approved application within its 10 calendar days."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest

from egov_sim.citizen import Citizen, apply_on_portal, register_citizen
from egov_sim.inprocess import Simulation
from gateway_protocol.client import build_signed_request
from gateway_protocol.envelope import SYNC_PATH
from reglaments import get_reglament
from simulation.database import drop_run
from simulation.settings import Settings
from simulation.topology import SYSTEMS
from tests.conftest import WORKING_MONDAY

REGLAMENT = "almaty-housing-aid"
RAUSHAN = Citizen("520321444209", "ЖАНСҮГІРОВА", "РАУШАН", "ӘБІЛҚЫЗЫ", "Raushan-2026!")
FAMILY_OF_FOUR = "840602344306"


@pytest.fixture
async def run(tmp_path):
    settings = Settings(data_dir=tmp_path / "run", population_size=200, clock_start=WORKING_MONDAY)
    async with Simulation(settings) as simulation:
        yield simulation
    await drop_run(settings, (*SYSTEMS, "simulation"))


async def ask_as(run: Simulation, sender: str, service: str, data: dict[str, Any]):
    runtime = run.runtime(sender)
    signed = build_signed_request(runtime.identity, sender_id=sender, password=runtime.credentials.password_of(sender),
                                  service_id=service, data=data, message_date=await runtime.now())
    async with run.client("gateway") as gateway:
        return await gateway.post(SYNC_PATH, json=signed.model_dump(mode="json", exclude_none=True))


async def test_an_application_on_the_portal_end_to_end(run):
    form = get_reglament(REGLAMENT).cases["portal"]["approved"].form
    outcome = await apply_on_portal(run.client, REGLAMENT, RAUSHAN, data_dir=run.settings.data_dir,
                                    run_clock=False, form_fields=form)
    accepted = outcome.application
    assert accepted["status"] == "in_progress" and accepted["registrationNumber"].startswith("ESB-")
    # item 13: the cabinet shows the acceptance and the date and time the result is due: the term
    # of 10 calendar days from the request
    due = datetime.fromisoformat(accepted["resultDue"])
    submitted = datetime.fromisoformat(accepted["submittedAt"])
    assert timedelta(days=10) <= due - submitted < timedelta(days=10, minutes=5)
    assert [e["status"] for e in accepted["history"]][-1] == "in_progress"

    async with run.client("control") as control:
        (await control.post("/clock/run")).raise_for_status()
        trace = (await control.get(f"/trace/{outcome.application_id}")).json()
    assert datetime.fromisoformat(trace[-1]["sim_time"]) <= submitted + timedelta(days=10)

    # the consent was recorded from the signed request, and the registries of incomes were asked with it
    async with run.client("registries") as registries:
        log = (await registries.get("/api/access-log", params={"iin": RAUSHAN.iin, "limit": 100})).json()
    recorded = [e for e in log if e["serviceId"] == "CONSENT_Record"]
    assert len(recorded) == 1 and recorded[0]["requester"] == "e_sobes"
    reference = recorded[0]["consentRef"]
    assert reference.startswith("CNS-")
    incomes = [e for e in log if e["serviceId"] == "GCVP_IncomesAndStatus"]
    assert incomes and {(e["consentRef"], e["outcome"], e["requester"]) for e in incomes} == {(reference, "found", "e_sobes")}

    # a consent reference answers only what it covers
    granted = await ask_as(run, "e_sobes", "GCVP_IncomesAndStatus", {"iin": RAUSHAN.iin, "consentRef": reference})
    assert granted.status_code == 200, granted.text
    for data, why in (({"iin": RAUSHAN.iin, "consentRef": "CNS-2026-NOSUCHONE0"}, "no consent is recorded"),
                      ({"iin": FAMILY_OF_FOUR, "consentRef": reference}, "does not cover ЖСН")):
        refused = await ask_as(run, "e_sobes", "GCVP_IncomesAndStatus", data)
        info = refused.json()["errorInfo"]
        assert info["errorCode"] == "Provider.ConsentRequired" and why in info["errorMessage"], info
    not_granted = await ask_as(run, "provider_ws", "GCVP_IncomesAndStatus", {"iin": RAUSHAN.iin, "consentRef": reference})
    assert "is not granted to provider_ws" in not_granted.json()["errorInfo"]["errorMessage"]

    # the contact centre 1414 tells the status by the number, asking Е-собес through ЭҮШ
    async with run.client("corporation_ws") as front:
        status = (await front.get(f"/api/contact-centre/applications/{accepted['registrationNumber']}")).json()
        unknown = await front.get("/api/contact-centre/applications/ESB-2026-999999")
    assert status["source"] == "ESOBES_ApplicationStatus" and status["status"] == "dispatched"
    assert status["decision"] == "approved" and status["resultDue"] == accepted["resultDue"]
    assert unknown.status_code == 404 and unknown.json()["message_kk"]


async def test_the_queue_booked_on_the_portal_and_its_ticket_at_the_front_office(run):
    async with run.client("portal") as portal:
        registered = await register_citizen(
            run.client, Citizen(FAMILY_OF_FOUR, "ТЕМІРХАНОВ", "АЙДОС", "СЕРІКҰЛЫ", "Aidos-2026!"))
        assert registered.status_code == 201, registered.text
        session = (await portal.post("/api/sessions", json={"iin": FAMILY_OF_FOUR, "password": "Aidos-2026!"})).json()
        auth = {"Authorization": f"Bearer {session['session']}"}

        async def book(at: str):
            return await portal.post("/api/equeue/bookings", json={"reglament": REGLAMENT, "at": at}, headers=auth)

        booked = await book("2026-11-03T10:15:00+05:00")
        assert booked.status_code == 200, booked.text
        ticket = booked.json()["ticket"]
        assert ticket.startswith("Б-") and booked.json()["at"] == "2026-11-03T10:15:00+05:00"
        again = await book("2026-11-03T10:15:00+05:00")
        assert again.status_code == 409 and again.json()["field"] == "at"
        sunday = await book("2026-11-08T10:15:00+05:00")
        assert sunday.status_code == 422 and sunday.json()["field"] == "at" and sunday.json()["message_kk"]
        off_slot = await book("2026-11-03T10:20:00+05:00")
        assert off_slot.status_code == 422 and "15 minutes" in off_slot.json()["message"]
    async with run.client("corporation_ws") as front:
        operator = (await front.post("/api/operator/sessions")).json()["session"]
        auth = {"Authorization": f"Bearer {operator}"}
        body = {"reglament": REGLAMENT, "ticket": ticket, "presented_documents": ["identity"], "form": {}}
        stranger = await front.post("/api/applications", headers=auth, json={**body, "applicant_iin": RAUSHAN.iin})
        assert stranger.status_code == 422 and stranger.json()["field"] == "ticket"
        taken = await front.post("/api/applications", headers=auth, json={**body, "applicant_iin": FAMILY_OF_FOUR})
        assert taken.status_code == 200, taken.text
        assert taken.json()["ticket"] == ticket
