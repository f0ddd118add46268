"""Each provider organisation keeps its own queue lists (Law "On housing relations", art. 74): the
same list code in two reglaments served by one provider workstation is two lists, numbered apart,
with their own "already queued" check, their own listing and their own dwellings."""

from __future__ import annotations

from dataclasses import replace

from egov_sim.citizen import DEMO_CITIZEN, Citizen, apply_on_portal
from reglaments import all_reglaments

LIST = "civil-servants"
ALMATY, WKO = "almaty-queue", "wko-queue"
ALIYA = replace(DEMO_CITIZEN, queue_list=LIST)
"""Әлия Нұрланова, resident of Almaty (registries/fixtures.yaml)."""
GULMIRA = Citizen("880314444176", "СӘРСЕНОВА", "ГҮЛМИРА", "ҚАЙРАТҚЫЗЫ", "Gulmira-2026!", LIST)
"""Гүлмира Сәрсенова, a civil servant of Oral (registries/fixtures.yaml)."""


async def _apply(simulation, reglament: str, citizen: Citizen) -> tuple[str, dict]:
    outcome = await apply_on_portal(simulation.client, reglament, citizen, data_dir=simulation.settings.data_dir)
    assert outcome.application is not None and outcome.application.get("result"), outcome.application
    return outcome.application_id, outcome.application


async def test_one_list_code_is_a_list_of_each_reglament(simulation):
    almaty_id, almaty = await _apply(simulation, ALMATY, ALIYA)
    wko_id, wko = await _apply(simulation, WKO, GULMIRA)
    for application, reglament in ((almaty, ALMATY), (wko, WKO)):
        document = application["result"]["document"]
        assert document["decision"] == "approved", document
        assert document["reglament"] == reglament
        assert document["queue"]["list"] == LIST and document["queue"]["sequenceNumber"] == 1

    async with simulation.client("provider_ws") as ws:
        for path in (f"/api/queues/{LIST}", f"/api/queue/{LIST}"):
            ambiguous = await ws.get(path)
            assert ambiguous.status_code == 422, (path, ambiguous.text)
            body = ambiguous.json()
            having = sorted(r.id for r in all_reglaments().values()
                            if r.provider.system == "provider_ws" and r.queue_list(LIST) is not None)
            assert {ALMATY, WKO} <= set(having)  # and any other reglament with the list (aktogai-queue-2013)
            assert body["field"] == "reglament" and sorted(body["choices"]) == having
            for message in (body["message"], body["message_kk"], body["message_ru"]):
                assert all(reglament in message for reglament in having)

            for reglament, application_id in ((ALMATY, almaty_id), (WKO, wko_id)):
                listing = await ws.get(path, params={"reglament": reglament})
                assert listing.status_code == 200, listing.text
                assert [(e["reglament"], e["sequenceNumber"], e["applicationId"]) for e in listing.json()] == [
                    (reglament, 1, application_id)]

            foreign = await ws.get(path, params={"reglament": "nowhere"})
            assert foreign.status_code == 422 and foreign.json()["field"] == "reglament"
            unknown = await ws.get(path.replace(LIST, "astronauts"), params={"reglament": WKO})
            assert unknown.status_code == 404 and unknown.json()["field"] == "queueList"


async def test_already_queued_is_checked_within_the_reglament(simulation):
    first_id, first = await _apply(simulation, ALMATY, ALIYA)
    assert first["result"]["document"]["decision"] == "approved"

    # Әлия's place on Almaty's list is no ground in West Kazakhstan: there the provider's own rules
    # decide (she does not live in the region), not another organisation's list.
    _, elsewhere = await _apply(simulation, WKO, ALIYA)
    refusal = elsewhere["result"]["document"]
    assert refusal["decision"] == "refused" and refusal["ground"]["code"] != "already-queued", refusal["ground"]
    assert first["registrationNumber"] not in refusal["ground"]["en"]

    _, placed = await _apply(simulation, WKO, GULMIRA)
    assert placed["result"]["document"]["queue"]["sequenceNumber"] == 1
    _, again = await _apply(simulation, WKO, GULMIRA)
    twice = again["result"]["document"]
    assert twice["decision"] == "refused" and twice["ground"]["code"] == "already-queued"
    assert placed["registrationNumber"] in twice["ground"]["en"]


async def test_a_dwelling_goes_to_its_reglament_list_and_places_count_there(simulation):
    almaty_id, _ = await _apply(simulation, ALMATY, ALIYA)
    wko_id, _ = await _apply(simulation, WKO, GULMIRA)
    async with simulation.client("provider_ws") as ws:
        registered = await ws.post("/api/dwellings", json={
            "address": "Орал қ., Дина Нұрпейісова көшесі 9, 4-пәтер", "rooms": 2, "areaM2": 52.0,
            "fund": "state", "queueList": LIST, "reglament": WKO})
        assert registered.status_code == 201, registered.text
        offer = registered.json()["offer"]
        assert offer["applicationId"] == wko_id and (offer["sequenceNumber"], offer["place"]) == (1, 1)
        assert offer["document"]["reglament"] == WKO

        statuses = {}
        for reglament in (ALMATY, WKO):
            listing = (await ws.get(f"/api/queues/{LIST}", params={"reglament": reglament})).json()
            statuses[reglament] = [(e["applicationId"], e["status"], e["place"]) for e in listing]
    assert statuses == {ALMATY: [(almaty_id, "waiting", 1)], WKO: [(wko_id, "offered", 1)]}
