"""The decision to provide housing: dwellings go to the applicants of a queue list in its order, each
decision signed by the provider's head and delivered where the application came from; the queue
moves up; a declined offer (or one left unanswered) goes to the next in line, and the applicant who
declined keeps their place."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
import yaml

from egov_sim.citizen import Citizen, apply_on_portal
from egov_sim.inprocess import Simulation
from reglaments import get_reglament
from simulation.database import drop_run
from simulation.identifiers import make_iin
from simulation.settings import Settings
from simulation.topology import SYSTEMS
from test_queue_concurrency import person

REGLAMENT = "almaty-queue"
LIST = "socially-vulnerable"
HEAD_IIN = get_reglament(REGLAMENT).provider.head.iin
DOCUMENTS = ["identity", "family-composition", "incomes", "category"]


class Applicants:
    """Five applicants on one list, queued in turn: the 1st, 3rd and 5th on the portal, the 2nd and
    4th at the State Corporation's front office."""

    def __init__(self, simulation: Simulation, iins: list[str]) -> None:
        self.simulation, self.iins = simulation, iins
        self.channel: dict[str, str] = {}
        self.citizen: dict[str, Citizen] = {}
        self.operator: dict[str, str] = {}

    async def queue_all(self) -> list[str]:
        ids = []
        async with self.simulation.client("corporation_ws") as office, self.simulation.client("control") as control:
            session = (await office.post("/api/operator/sessions")).json()["session"]
            self.operator = {"Authorization": f"Bearer {session}"}
            for n, iin in enumerate(self.iins):
                if n % 2 == 0:
                    citizen = Citizen(iin, "СЫНАҚОВ", "АДАМ", None, f"Pass-{iin}!", LIST)
                    outcome = await apply_on_portal(self.simulation.client, REGLAMENT, citizen)
                    application_id = outcome.application_id
                    self.citizen[application_id] = citizen
                    self.channel[application_id] = "portal"
                else:
                    ticket = (await office.post("/api/tickets", params={"reglament": REGLAMENT})).json()["ticket"]
                    taken = await office.post("/api/applications", headers=self.operator, json={
                        "reglament": REGLAMENT, "ticket": ticket, "applicant_iin": iin,
                        "presented_documents": DOCUMENTS, "form": {"queueList": LIST}})
                    assert taken.status_code == 200, taken.text
                    application_id = taken.json()["id"]
                    self.channel[application_id] = "corporation"
                    assert (await control.post("/clock/run")).status_code == 200
                ids.append(application_id)
        return ids

    async def view(self, application_id: str) -> dict[str, Any]:
        """The application as the applicant sees it: the cabinet, or the front office's view."""
        if self.channel[application_id] == "corporation":
            async with self.simulation.client("corporation_ws") as office:
                reply = await office.get(f"/api/applications/{application_id}", headers=self.operator)
        else:
            citizen = self.citizen[application_id]
            async with self.simulation.client("portal") as portal:
                login = await portal.post("/api/sessions", json={"iin": citizen.iin, "password": citizen.password})
                auth = {"Authorization": f"Bearer {login.json()['session']}"}
                reply = await portal.get(f"/api/cabinet/applications/{application_id}", headers=auth)
        assert reply.status_code == 200, reply.text
        return reply.json()


@pytest.fixture
async def queued(tmp_path):
    iins = [make_iin(date(1985, 3, 1 + n), 1, 40 + n) for n in range(5)]
    fixture = tmp_path / "applicants.yaml"
    fixture.write_text(yaml.safe_dump({"persons": [person(i) for i in iins]}, allow_unicode=True), encoding="utf-8")
    settings = Settings(data_dir=tmp_path / "run", population_size=0, registry_fixtures=[fixture], seed_people=False)
    async with Simulation(settings) as simulation:
        applicants = Applicants(simulation, iins)
        ids = await applicants.queue_all()
        async with simulation.client("provider_ws") as provider:
            queue = (await provider.get(f"/api/queues/{LIST}", params={"reglament": REGLAMENT})).json()
        assert [(e["applicationId"], e["sequenceNumber"], e["place"], e["status"]) for e in queue] == [
            (i, n, n, "waiting") for n, i in enumerate(ids, start=1)]
        yield simulation, applicants, ids
    await drop_run(settings, (*SYSTEMS, "simulation"))


def dwelling(n: int) -> dict[str, Any]:
    return {"address": f"Алматы қ., Саина көшесі 12, {n}-пәтер", "rooms": 1 + n % 3, "areaM2": 38.5 + 10 * n,
            "fund": "state" if n % 2 else "rented-private", "queueList": LIST, "reglament": REGLAMENT}


def places(queue: list[dict[str, Any]]) -> list[tuple[int, str, int | None]]:
    return [(e["sequenceNumber"], e["status"], e["place"]) for e in queue]


async def test_three_dwellings_go_to_the_first_three_and_the_rest_move_up(queued):
    simulation, applicants, ids = queued
    async with simulation.client("provider_ws") as provider:
        offers = []
        for n in (1, 2, 3):
            registered = await provider.post("/api/dwellings", json=dwelling(n))
            assert registered.status_code == 201, registered.text
            offers.append(registered.json()["offer"])
        assert [o["applicationId"] for o in offers] == ids[:3]
        assert [o["place"] for o in offers] == [1, 2, 3]
        assert places((await provider.get(f"/api/queues/{LIST}", params={"reglament": REGLAMENT})).json()) == [
            (1, "offered", 1), (2, "offered", 2), (3, "offered", 3), (4, "waiting", 4), (5, "waiting", 5)]

        for offer in offers:
            decision = offer["document"]
            assert decision["type"] == "housing-decision"
            assert decision["applicationId"] == offer["applicationId"]
            assert decision["queue"]["sequenceNumber"] == ids.index(offer["applicationId"]) + 1
            assert decision["legalGround"]["article"] == "74"
            assert all(decision["text"][lang] and decision["dwelling"]["address"] in decision["text"][lang]
                       for lang in ("kk", "ru", "en"))
            view = await applicants.view(offer["applicationId"])
            assert len(view["notices"]) == 1, view["notices"]
            notice = view["notices"][0]
            assert notice["document"] == decision and notice["signature"] == offer["signature"]
            assert notice["verdict"]["valid"] is True, notice["verdict"]
            assert notice["verdict"]["signer"]["iin"] == HEAD_IIN
            expected = {"portal": "EPORTAL_CabinetNotification", "corporation": "GK_NotificationDelivery"}
            assert offer["deliveredTo"] == expected[applicants.channel[offer["applicationId"]]]
        assert {applicants.channel[o["applicationId"]] for o in offers} == {"portal", "corporation"}

        for offer in offers:
            accepted = await provider.post(f"/api/allocations/{offer['id']}/accept")
            assert accepted.status_code == 200, accepted.text
            assert accepted.json()["allocation"]["state"] == "accepted"
        assert places((await provider.get(f"/api/queues/{LIST}", params={"reglament": REGLAMENT})).json()) == [
            (1, "housed", None), (2, "housed", None), (3, "housed", None), (4, "waiting", 1), (5, "waiting", 2)]
        assert {d["state"] for d in (await provider.get("/api/dwellings")).json()} == {"allocated"}
        again = await provider.post(f"/api/allocations/{offers[0]['id']}/decline")
        assert again.status_code == 409 and again.json()["error"] == "already_answered"
        for waiting in ids[3:]:
            assert (await applicants.view(waiting))["notices"] == []


async def test_a_declined_offer_goes_to_the_next_and_the_decliner_keeps_the_place(queued):
    simulation, applicants, ids = queued
    async with simulation.client("provider_ws") as provider, simulation.client("control") as control:
        first = (await provider.post("/api/dwellings", json=dwelling(1))).json()["offer"]
        assert first["applicationId"] == ids[0]
        assert first["document"]["ifDeclined"]["code"] == "decline-keeps-place"

        declined = await provider.post(f"/api/allocations/{first['id']}/decline")
        assert declined.status_code == 200, declined.text
        assert declined.json()["allocation"]["state"] == "declined"
        second = declined.json()["next"]
        assert second["applicationId"] == ids[1] and second["dwellingId"] == first["dwellingId"]
        assert places((await provider.get(f"/api/queues/{LIST}", params={"reglament": REGLAMENT})).json()) == [
            (1, "waiting", 1), (2, "offered", 2), (3, "waiting", 3), (4, "waiting", 4), (5, "waiting", 5)]

        # no answer within five working days counts as a decline: the offer passes to the third
        moved = await control.post("/clock/next")
        assert moved.status_code == 200 and moved.json()["moved"], moved.text
        states = {a["id"]: a for a in (await provider.get("/api/allocations")).json()}
        assert states[second["id"]]["state"] == "expired"
        third = next(a for a in states.values() if a["state"] == "offered")
        assert third["applicationId"] == ids[2] and third["dwellingId"] == first["dwellingId"]
        late = await provider.post(f"/api/allocations/{second['id']}/accept")
        assert late.status_code == 409 and late.json()["error"] == "already_answered"

        assert (await provider.post(f"/api/allocations/{third['id']}/accept")).status_code == 200
        # the next dwelling is the first applicant's again: declining cost them no place
        fourth = (await provider.post("/api/dwellings", json=dwelling(2))).json()["offer"]
        assert fourth["applicationId"] == ids[0] and fourth["place"] == 1
        assert places((await provider.get(f"/api/queues/{LIST}", params={"reglament": REGLAMENT})).json()) == [
            (1, "offered", 1), (2, "waiting", 2), (3, "housed", None), (4, "waiting", 3), (5, "waiting", 4)]
        notices = (await applicants.view(ids[0]))["notices"]
        assert [n["document"]["allocationId"] for n in notices] == [first["id"], fourth["id"]]
        assert all(n["verdict"]["valid"] for n in notices)


async def test_refusals_name_the_field_and_the_rule(queued):
    simulation, _, _ = queued
    async with simulation.client("provider_ws") as provider:
        for change, field in (({"fund": "municipal"}, "fund"), ({"rooms": 0}, "rooms"), ({"areaM2": -3}, "areaM2"),
                              ({"queueList": "astronauts"}, "queueList"), ({"address": " "}, "address"),
                              ({"reglament": "nowhere"}, "reglament")):
            refused = await provider.post("/api/dwellings", json={**dwelling(1), **change})
            assert refused.status_code == 422, (change, refused.text)
            body = refused.json()
            assert body["field"] == field and body["message"] and body["message_kk"] and body["message_ru"]
        assert (await provider.get("/api/dwellings")).json() == []
        unknown = await provider.get("/api/queues/astronauts")
        assert unknown.status_code == 404 and LIST in unknown.json()["message"]
        assert (await provider.post("/api/allocations/999/accept")).status_code == 404
