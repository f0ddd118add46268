"""Issue 14, point 6: a portal account is registered only by the holder of the ЖСН, proved with
their AUTH ЭЦҚ over the portal's one-time challenge; wrong passwords lock the account for a time.

Before this, ``POST /api/accounts`` took any ЖСН with a password, and no number of wrong passwords
locked an account."""

from __future__ import annotations

import base64
from datetime import datetime
from typing import Any

import httpx
import pytest

from egov_sim.citizen import DEMO_CITIZEN, Citizen, register_on_portal
from egov_sim.inprocess import Simulation
from signatures.cms import sign_cms
from signatures.identity import KEY_STORAGE_PASSWORD, Identity
from signatures.ncalayer import person_key_storage

OTHER = Citizen("851102304571", "ОМАРОВ", "ДӘУРЕН", "АСҚАРҰЛЫ", "Dauren-2026!")
OFFICIAL_IIN = "750909303210"
"""ҚАСЫМОВ ЕРЛАН, an official the CA seeds (signatures/people.yaml): his AUTH key is an employee's."""
PASSWORD = "Aliya-2026!"


async def now(simulation: Simulation) -> datetime:
    return await simulation.runtime("control").clock.now()


def seeded(simulation: Simulation, iin: str, usage: str) -> Identity:
    path = person_key_storage(simulation.settings.data_dir, iin, usage)
    assert path is not None, f"the run seeded no {usage} key storage of {iin}"
    return Identity.from_pkcs12(path.read_bytes(), KEY_STORAGE_PASSWORD)


async def issued(ca: httpx.AsyncClient, citizen: Citizen, usage: str, authority: str = "rsa") -> Identity:
    reply = await ca.post("/v1/certificates/person", json={
        "iin": citizen.iin, "surname": citizen.surname, "name": citizen.name,
        "patronymic": citizen.patronymic, "usage": usage, "ca": authority})
    assert reply.status_code == 200, reply.text
    body = reply.json()
    return Identity.from_pkcs12(base64.b64decode(body["pkcs12"]), body["password"].encode())


async def challenge(portal: httpx.AsyncClient) -> dict[str, Any]:
    reply = await portal.post("/api/accounts/challenge")
    assert reply.status_code == 200, reply.text
    return reply.json()


async def signed(simulation: Simulation, key: Identity, text: str) -> str:
    """A detached CMS over the challenge, as NCALayer makes it -- or anyone holding the key."""
    return base64.b64encode(
        sign_cms(text.encode(), key.key, key.chain, at=await now(simulation), detached=True)
    ).decode()


async def register(simulation: Simulation, portal: httpx.AsyncClient, iin: str, key: Identity,
                   given: dict[str, Any] | None = None) -> httpx.Response:
    given = given or await challenge(portal)
    return await portal.post("/api/accounts", json={
        "iin": iin, "password": PASSWORD, "challenge": given["challenge"],
        "signature": await signed(simulation, key, given["challenge"])})


def refused(reply: httpx.Response, status: int, error: str, field: str) -> dict[str, Any]:
    assert reply.status_code == status, reply.text
    body = reply.json()
    assert (body["error"], body["field"]) == (error, field)
    assert body["message"] and body["message_kk"] and body["message_ru"]
    return body


async def log_in(portal: httpx.AsyncClient, password: str, reglament: str | None = None) -> httpx.Response:
    return await portal.post("/api/sessions", json={
        "iin": DEMO_CITIZEN.iin, "password": password, **({"reglament": reglament} if reglament else {})})


async def test_registration_without_proof_is_refused(simulation):
    async with simulation.client("portal", role=None) as portal:
        bare = await portal.post("/api/accounts", json={"iin": DEMO_CITIZEN.iin, "password": PASSWORD})
        assert bare.status_code == 422, bare.text
        assert {f["field"] for f in bare.json()["fields"]} == {"challenge", "signature"}
        given = await challenge(portal)
        garbage = await portal.post("/api/accounts", json={
            "iin": DEMO_CITIZEN.iin, "password": PASSWORD, "challenge": given["challenge"], "signature": "bm9wZQ=="})
        assert refused(garbage, 403, "identity_not_proven", "signature")["verdict"] == "MALFORMED"
        assert (await log_in(portal, PASSWORD)).status_code == 401  # no account was made


async def test_another_persons_auth_key_is_refused(simulation):
    async with simulation.client("portal", role=None) as portal:
        reply = await register(simulation, portal, DEMO_CITIZEN.iin, seeded(simulation, OTHER.iin, "auth"))
        body = refused(reply, 403, "identity_not_proven", "signature")
        assert body["verdict"] == "IIN_MISMATCH"
        assert body["message_kk"].startswith("Тіркеуден бас тартылды")
        assert (await log_in(portal, PASSWORD)).status_code == 401


@pytest.mark.parametrize("authority", ["rsa", "gost"])
async def test_a_signing_key_is_refused(simulation, authority):
    async with simulation.client("signatures") as ca:
        key = await issued(ca, DEMO_CITIZEN, "sign", authority)
    async with simulation.client("portal", role=None) as portal:
        reply = await register(simulation, portal, DEMO_CITIZEN.iin, key)
        assert refused(reply, 403, "identity_not_proven", "signature")["verdict"] == "WRONG_KEY_USAGE"
        seeded_sign = await register(simulation, portal, DEMO_CITIZEN.iin, seeded(simulation, DEMO_CITIZEN.iin, "sign"))
        assert refused(seeded_sign, 403, "identity_not_proven", "signature")["verdict"] == "WRONG_KEY_USAGE"


async def test_an_employees_auth_key_registers_no_citizen(simulation):
    async with simulation.client("portal", role=None) as portal:
        reply = await register(simulation, portal, OFFICIAL_IIN, seeded(simulation, OFFICIAL_IIN, "auth"))
        assert refused(reply, 403, "identity_not_proven", "signature")["verdict"] == "NOT_AN_INDIVIDUAL"


async def test_a_revoked_auth_key_is_refused(simulation):
    async with simulation.client("signatures") as ca:
        key = await issued(ca, DEMO_CITIZEN, "auth")
        serial = format(key.certificate.serial_number, "x")
        revoked = await ca.post(f"/v1/certificates/{serial}/revoke", json={"reason": "keyCompromise"})
        assert revoked.json()["status"] == "revoked"
    async with simulation.client("portal", role=None) as portal:
        reply = await register(simulation, portal, DEMO_CITIZEN.iin, key)
        body = refused(reply, 403, "identity_not_proven", "signature")
        assert body["verdict"] == "REVOKED" and "keyCompromise" in body["message_kk"]


async def test_a_stale_unknown_or_reused_challenge_is_refused(simulation):
    key = seeded(simulation, DEMO_CITIZEN.iin, "auth")
    async with simulation.client("portal", role=None) as portal, simulation.client("control") as control:
        unknown = await register(simulation, portal, DEMO_CITIZEN.iin, key, {"challenge": "made-up"})
        assert "POST /api/accounts/challenge" in refused(unknown, 422, "challenge_refused", "challenge")["message"]

        stale = await challenge(portal)
        assert (await control.post("/clock/advance", json={"by": "6 minutes"})).status_code == 200
        expired = await register(simulation, portal, DEMO_CITIZEN.iin, key, stale)
        assert "expired" in refused(expired, 422, "challenge_refused", "challenge")["message"]

        # a challenge taken by a refused attempt (another person's key) cannot be tried again
        given = await challenge(portal)
        wrong = await register(simulation, portal, DEMO_CITIZEN.iin, seeded(simulation, OTHER.iin, "auth"), given)
        assert wrong.status_code == 403
        again = await register(simulation, portal, DEMO_CITIZEN.iin, key, given)
        assert "used" in refused(again, 422, "challenge_refused", "challenge")["message"]

        # a successful registration's challenge and signature, replayed, are refused as used
        given = await challenge(portal)
        proof = {"iin": DEMO_CITIZEN.iin, "password": PASSWORD, "challenge": given["challenge"],
                 "signature": await signed(simulation, key, given["challenge"])}
        assert (await portal.post("/api/accounts", json=proof)).status_code == 201
        replayed = await portal.post("/api/accounts", json=proof)
        refused(replayed, 422, "challenge_refused", "challenge")


async def test_the_right_proof_registers_once(simulation):
    async with simulation.client("portal", role=None) as portal:
        given = await challenge(portal)
        assert given["ncalayer"]["args"]["signerParams"]["extKeyUsageOids"] == ["1.3.6.1.5.5.7.3.2"]
        assert base64.b64decode(given["dataToSign"]).decode() == given["challenge"]
        key = seeded(simulation, DEMO_CITIZEN.iin, "auth")
        reply = await register(simulation, portal, DEMO_CITIZEN.iin, key, given)
        assert reply.status_code == 201, reply.text
        assert reply.json() == {"iin": DEMO_CITIZEN.iin, "registered": True,
                                "certificate": format(key.certificate.serial_number, "x")}
        assert (await log_in(portal, PASSWORD)).status_code == 200
        second = await register(simulation, portal, DEMO_CITIZEN.iin, key)
        refused(second, 409, "account_exists", "iin")
    # the citizen of the demo and the scenarios proves the ЖСН the same way, with the seeded AUTH key
    async with simulation.client("signatures") as ca, simulation.client("portal", role=None) as portal, \
            simulation.client("control") as control:
        reply = await register_on_portal(ca, portal, control, OTHER, data_dir=simulation.settings.data_dir)
        assert reply.status_code == 201
        assert reply.json()["certificate"] == format(seeded(simulation, OTHER.iin, "auth").certificate.serial_number, "x")
        assert (await register_on_portal(ca, portal, control, OTHER)).status_code == 409  # a key the CA issues now


async def test_wrong_passwords_lock_the_account_until_the_lock_ends(settings):
    attempts = settings.portal_login_attempts
    async with Simulation(settings) as simulation:
        async with simulation.client("portal", role=None) as portal, simulation.client("control") as control:
            assert (await register(simulation, portal, DEMO_CITIZEN.iin,
                                   seeded(simulation, DEMO_CITIZEN.iin, "auth"))).status_code == 201
            # the right password clears the count: attempts - 1 wrong, right, attempts - 1 wrong lock nothing
            for _ in range(2):
                for _ in range(attempts - 1):
                    assert (await log_in(portal, "not-her-password")).status_code == 401
                assert (await log_in(portal, PASSWORD)).status_code == 200
            for _ in range(attempts - 1):
                assert (await log_in(portal, "not-her-password", "almaty-queue")).status_code == 401
            locking = await log_in(portal, "not-her-password", "almaty-queue")
            locked_at = await now(simulation)
            body = locking.json()
            assert locking.status_code == 423, locking.text
            assert body["error"] == "account_locked"
            until = datetime.fromisoformat(body["lockedUntil"])
            assert (until - locked_at).total_seconds() == settings.portal_lockout_minutes * 60
            shown = until.isoformat(timespec="minutes")
            for message in (body["message"], body["message_kk"], body["message_ru"]):
                assert shown in message
            # the right password is refused while the lock holds, with or without a service
            for reglament in (None, "almaty-queue"):
                right = await log_in(portal, PASSWORD, reglament)
                assert right.status_code == 423 and right.json()["lockedUntil"] == body["lockedUntil"]
            minutes = int(settings.portal_lockout_minutes)
            assert (await control.post("/clock/advance", json={"by": f"{minutes - 1} minutes"})).status_code == 200
    # the lock is kept in the portal's database: a restarted portal still refuses
    async with Simulation(settings) as simulation:
        async with simulation.client("portal", role=None) as portal, simulation.client("control") as control:
            assert (await log_in(portal, PASSWORD)).status_code == 423
            assert (await control.post("/clock/advance", json={"by": "2 minutes"})).status_code == 200
            assert (await log_in(portal, PASSWORD, "almaty-queue")).status_code == 200
            assert (await log_in(portal, "not-her-password")).status_code == 401  # a fresh count


async def test_nobody_but_the_tester_signs_with_a_seeded_persons_key_storage(simulation):
    """The run keeps the seeded people's key storages, all with the seeds' one password: an
    anonymous caller of the stand-in NCALayer who names a seeded ЖСН would prove that person's
    ЖСН to the portal with her AUTH key. Only the admin (the tester standing in for her) may;
    anyone may sign with a key storage they bring."""
    async with simulation.client("portal", role=None) as portal:
        request = (await challenge(portal))["ncalayer"]
    dialog = {"iin": DEMO_CITIZEN.iin, "usage": "auth", "password": KEY_STORAGE_PASSWORD.decode()}
    async with simulation.client("signatures", role=None) as anonymous, \
            simulation.client("signatures", role="auditor") as auditor, simulation.client("signatures") as admin:
        refused = await anonymous.post("/ncalayer", json={**request, "dialog": dialog})
        assert refused.status_code == 401 and "result" not in refused.text, refused.text
        assert (await auditor.post("/ncalayer", json={**request, "dialog": dialog})).status_code == 403
        assert (await admin.post("/ncalayer", json={**request, "dialog": dialog})).json()["status"] is True
        own = base64.b64encode(person_key_storage(simulation.settings.data_dir, DEMO_CITIZEN.iin, "auth").read_bytes())
        brought = await anonymous.post("/ncalayer", json={
            **request, "dialog": {"pkcs12": own.decode(), "password": KEY_STORAGE_PASSWORD.decode()}})
        assert brought.json()["status"] is True, brought.text


async def test_challenges_anyone_asks_for_do_not_pile_up(simulation, monkeypatch):
    """Challenges are handed out to anyone: those that registered nobody are forgotten a lifetime
    after they expired, and no more than MAX_OPEN_CHALLENGES wait at once (429 beyond)."""
    from sqlalchemy import func
    from sqlmodel import select

    from portal import service
    from portal.models import RegistrationChallenge

    monkeypatch.setattr(service, "MAX_OPEN_CHALLENGES", 3)
    portal_db = simulation.runtime("portal").db

    async def stored() -> int:
        async with portal_db.session() as session:
            return (await session.exec(select(func.count()).select_from(RegistrationChallenge))).one()

    async with simulation.client("portal", role=None) as portal, simulation.client("control") as control:
        for _ in range(3):
            assert (await portal.post("/api/accounts/challenge")).status_code == 200
        refused = await portal.post("/api/accounts/challenge")
        assert refused.status_code == 429 and refused.json()["error"] == "too_many_challenges", refused.text
        assert refused.json()["message_kk"] and await stored() == 3
        lifetime = simulation.settings.portal_challenge_minutes
        assert (await control.post("/clock/advance", json={"by": f"{int(2 * lifetime) + 1} minutes"})).status_code == 200
        assert (await portal.post("/api/accounts/challenge")).status_code == 200
        assert await stored() == 1  # the three that registered nobody are gone
