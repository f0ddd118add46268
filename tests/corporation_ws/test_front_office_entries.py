"""The operator workstation refuses what its form does not offer, naming the field, before the
application is taken: the ticket stays good for the corrected entry."""

from __future__ import annotations

DOCUMENTS = ["identity", "family-composition", "incomes", "category"]


async def test_unknown_documents_and_queue_lists_are_refused_naming_the_field(simulation):
    async with simulation.client("corporation_ws") as ws:
        session = (await ws.post("/api/operator/sessions")).json()["session"]
        auth = {"Authorization": f"Bearer {session}"}
        ticket = (await ws.post("/api/tickets", params={"reglament": "almaty-queue"})).json()["ticket"]
        entry = {"reglament": "almaty-queue", "ticket": ticket, "applicant_iin": "851102304571",
                 "presented_documents": DOCUMENTS, "form": {"queueList": "socially-vulnerable"}}

        reply = await ws.post("/api/applications", headers=auth,
                              json={**entry, "presented_documents": ["identity", "passport"]})
        assert reply.status_code == 422
        body = reply.json()
        assert body["field"] == "presented_documents[1]"
        assert "passport" in body["message"] and "family-composition" in body["message"]
        assert body["message_kk"] and body["message_ru"]

        reply = await ws.post("/api/applications", headers=auth, json={**entry, "form": {"queueList": "nobody"}})
        assert reply.status_code == 422
        assert reply.json()["field"] == "form.queueList" and "orphans" in reply.json()["message"]

        taken = await ws.post("/api/applications", headers=auth, json=entry)
        assert taken.status_code == 200, taken.text
        assert taken.json()["ticket"] == ticket
