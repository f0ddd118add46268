"""The portal prepares the document to sign from the filled-in form; NCALayer over HTTP signs it
with the key storage and password the person gives, and says clearly when it cannot."""

from __future__ import annotations

import base64
import hashlib
from datetime import date

from egov_sim.citizen import DEMO_CITIZEN, Citizen, obtain_signing_key, register_citizen
from signatures.jws import canonical_json
from signatures.ncalayer import person_key_storage
from simulation.calendar import Duration
from simulation.identifiers import make_iin

FORM = {
    "form": {"queueList": "orphans"},
    "attachments": [
        {"code": "identity", "name": "passport.pdf", "content": base64.b64encode(b"my passport").decode()},
        {"code": "incomes", "name": "incomes.pdf", "sha256": "ab" * 32},
    ],
}


async def _logged_in(simulation, portal, reglament: str | None = "almaty-queue") -> dict[str, str]:
    await register_citizen(simulation.client, DEMO_CITIZEN, data_dir=simulation.settings.data_dir)
    login = {"iin": DEMO_CITIZEN.iin, "password": DEMO_CITIZEN.password}
    if reglament:
        login["reglament"] = reglament
    reply = await portal.post("/api/sessions", json=login)
    assert reply.status_code == 200, reply.text
    return {"Authorization": f"Bearer {reply.json()['session']}"}


async def test_the_portal_prepares_what_it_will_verify(simulation):
    async with simulation.client("portal") as portal:
        auth = await _logged_in(simulation, portal)
        reply = await portal.post("/api/services/almaty-queue/document", headers=auth, json=FORM)
    assert reply.status_code == 200, reply.text
    prepared = reply.json()
    document = prepared["document"]
    assert document == {
        "reglament": "almaty-queue",
        "applicant": {"iin": DEMO_CITIZEN.iin},
        "form": {"queueList": "orphans"},
        "attachments": [
            {"code": "identity", "name": "passport.pdf", "sha256": hashlib.sha256(b"my passport").hexdigest()},
            {"code": "incomes", "name": "incomes.pdf", "sha256": "ab" * 32},
        ],
    }
    assert base64.b64decode(prepared["dataToSign"]) == canonical_json(document)
    assert prepared["ncalayer"]["module"] == "kz.gov.pki.knca.basics"
    assert prepared["ncalayer"]["args"]["data"] == prepared["dataToSign"]


async def test_a_wrong_form_is_refused_naming_the_field(simulation):
    async with simulation.client("portal") as portal:
        auth = await _logged_in(simulation, portal)

        async def problem(body: dict, reglament: str = "almaty-queue", headers=auth) -> tuple[int, dict]:
            reply = await portal.post(f"/api/services/{reglament}/document", headers=headers, json=body)
            return reply.status_code, reply.json()

        status, body = await problem({**FORM, "form": {"queueList": "nobody"}})
        assert status == 422 and body["field"] == "form.queueList" and "orphans" in body["message"]
        assert body["message_kk"] and body["message_ru"]
        status, body = await problem({**FORM, "attachments": [{"code": "diploma", "name": "d.pdf", "sha256": "0" * 64}]})
        assert status == 422 and body["field"] == "attachments[0].code" and "family-composition" in body["message"]
        twice = [FORM["attachments"][1], FORM["attachments"][1]]
        status, body = await problem({**FORM, "attachments": twice})
        assert status == 422 and body["field"] == "attachments[1].code" and "twice" in body["message"]
        status, body = await problem({**FORM, "attachments": [{"code": "identity", "name": "x", "content": "%%%"}]})
        assert status == 422 and body["field"] == "attachments[0].content"
        status, body = await problem({**FORM, "attachments": [{"code": "identity", "name": "x"}]})
        assert status == 422 and body["fields"][0]["field"] == "attachments.0"
        status, body = await problem({**FORM, "applicant": {"iin": "851102304571"}})
        assert status == 422 and body["field"] == "applicant.iin"
        status, body = await problem(FORM, reglament="nosuch")
        assert status == 404 and "almaty-queue" in body["message"]
        status, body = await problem(FORM, headers={})
        assert status == 401


async def test_ncalayer_signs_with_the_chosen_key_storage_and_its_password(simulation):
    async with simulation.client("portal") as portal, simulation.client("signatures") as ncalayer:
        auth = await _logged_in(simulation, portal, reglament=None)
        prepared = (await portal.post("/api/services/almaty-queue/document", headers=auth, json=FORM)).json()
        request = prepared["ncalayer"]

        async def sign(dialog: dict | None) -> tuple[int, dict]:
            reply = await ncalayer.post("/ncalayer", json={**request, **({"dialog": dialog} if dialog else {})})
            return reply.status_code, reply.json()

        status, body = await sign(None)
        assert status == 422 and body["fields"][0]["field"] == "dialog"
        status, body = await sign({"iin": DEMO_CITIZEN.iin})
        assert status == 422 and body["fields"][0]["field"] == "dialog.password"
        status, body = await sign({"iin": DEMO_CITIZEN.iin, "password": "guess"})
        assert status == 403 and body == {"status": False, "code": "WRONG_PASSWORD",
                                          "message": "the key storage password is wrong"}
        status, body = await sign({"iin": make_iin(date(1960, 1, 1), 1, 15), "password": "Qwerty12"})
        assert status == 404 and body["fields"][0]["field"] == "dialog.iin"
        status, body = await sign({"iin": "123", "password": "Qwerty12"})
        assert status == 422 and body["fields"][0]["field"] == "dialog.iin"
        status, body = await sign({"iin": DEMO_CITIZEN.iin, "pkcs12": "AAAA", "password": "Qwerty12"})
        assert status == 422 and body["fields"][0]["field"] == "dialog"
        status, body = await sign({"iin": DEMO_CITIZEN.iin, "password": "Qwerty12", "cancel": True})
        assert status == 409 and body["code"] == "USER_CANCELED"
        version = await ncalayer.post("/ncalayer", json={"module": "kz.gov.pki.knca.commonUtils", "method": "getVersion"})
        assert version.status_code == 200 and version.json()["status"] is True

        # A key storage she brings, with a password of her own.
        async with simulation.client("signatures") as ca:
            issued = (await ca.post("/v1/certificates/person", json={
                "iin": DEMO_CITIZEN.iin, "surname": DEMO_CITIZEN.surname, "name": DEMO_CITIZEN.name,
                "password": "her-own-1"})).json()
        status, body = await sign({"pkcs12": issued["pkcs12"], "password": "her-own-1"})
        assert status == 200, body
        filed = await portal.post("/api/applications", headers=auth, json={
            "document": prepared["document"], "signature": body["body"]["result"][0]})
        assert filed.status_code == 200, filed.text
        assert filed.json()["status"] == "in_progress"

        # Someone else's key is NCALayer's to use, and the portal's 2-шарт refuses it.
        async with simulation.client("signatures") as ca:
            other = await obtain_signing_key(ca, Citizen("851102304571", "ОМАРОВ", "ДӘУРЕН", "АСҚАРҰЛЫ", "x"))
        status, body = await sign({"pkcs12": base64.b64encode(other.to_pkcs12("k")).decode(), "password": "Qwerty12"})
        assert status == 200
        refused = await portal.post("/api/applications", headers=auth, json={
            "document": prepared["document"], "signature": body["body"]["result"][0]})
        assert refused.status_code == 200 and refused.json()["status"] == "rejected"


async def test_ncalayer_renews_an_expired_seeded_key_storage_before_signing(simulation, settings):
    """Virtual time past the seeded certificate's end: the person renews it, then signs."""
    before = person_key_storage(settings.data_dir, DEMO_CITIZEN.iin)
    await simulation.runtime("control").clock.advance(Duration.parse("400 calendar days"))
    async with simulation.client("portal") as portal, simulation.client("signatures") as ncalayer:
        auth = await _logged_in(simulation, portal)
        prepared = (await portal.post("/api/services/almaty-queue/document", headers=auth, json=FORM)).json()
        wrong = await ncalayer.post("/ncalayer", json={
            **prepared["ncalayer"], "dialog": {"iin": DEMO_CITIZEN.iin, "password": "guess"}})
        assert wrong.status_code == 403
        assert person_key_storage(settings.data_dir, DEMO_CITIZEN.iin) == before  # no renewal without the password
        signed = await ncalayer.post("/ncalayer", json={
            **prepared["ncalayer"], "dialog": {"iin": DEMO_CITIZEN.iin, "password": "Qwerty12"}})
        assert signed.status_code == 200, signed.text
        assert person_key_storage(settings.data_dir, DEMO_CITIZEN.iin) != before
        filed = await portal.post("/api/applications", headers=auth, json={
            "document": prepared["document"], "signature": signed.json()["body"]["result"][0]})
    assert filed.status_code == 200 and filed.json()["status"] == "in_progress", filed.text
