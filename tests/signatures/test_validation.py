"""Every verdict of a full verification, in a running simulation: the CA issues, a relying
system (the portal) verifies with revocation from the CA's OCSP responder."""

from __future__ import annotations

import base64
from datetime import timedelta

import httpx
import pytest

from egov_sim.inprocess import Simulation
from signatures.certificates import create_root_ca, create_issuing_ca, generate_key, issue_certificate, Subject
from signatures.cms import sign_cms
from signatures.identity import Identity
from signatures.jws import sign_detached
from simulation.calendar import Duration
from simulation.settings import Settings

CONTENT = b'{"applicant":{"iin":"900515401230"}}'
ALIYA = {"iin": "900515401230", "surname": "НҰРЛАНОВА", "name": "ӘЛИЯ"}


async def issue(simulation, **fields) -> tuple[Identity, str]:
    async with simulation.client("signatures") as ca:
        reply = await ca.post("/v1/certificates/person", json={**ALIYA, **fields})
        assert reply.status_code == 200, reply.text
        body = reply.json()
    return Identity.from_pkcs12(base64.b64decode(body["pkcs12"]), body["password"].encode()), body["serial"]


async def check(simulation, identity: Identity, content: bytes = CONTENT, **kwargs):
    portal = simulation.runtime("portal")
    now = await portal.now()
    signature = sign_cms(CONTENT, identity.key, identity.chain, at=now, detached=True)
    return (await portal.validator.cms(signature, content, at=now, **kwargs)).verdict


def block_ocsp(simulation) -> None:
    def refuse(request: httpx.Request):
        if request.url.path.startswith("/v1/ocsp"):
            raise httpx.ConnectError("the OCSP responder is down (test)")
        return None

    simulation.transport.interceptors.append(refuse)


async def test_valid_with_a_fresh_then_cached_ocsp_answer(simulation):
    identity, _ = await issue(simulation)
    first = await check(simulation, identity, iin=ALIYA["iin"])
    assert first.valid and first.code == "VALID"
    assert first.revocation["status"] == "good" and first.revocation["source"] == "ocsp"
    second = await check(simulation, identity)
    assert second.revocation["source"] == "cache"


async def test_signature_mismatch(simulation):
    identity, _ = await issue(simulation)
    verdict = await check(simulation, identity, content=CONTENT.replace(b"9", b"8", 1))
    assert verdict.code == "SIGNATURE_MISMATCH"
    assert verdict.message_kk == "Қолтаңба құжатқа сәйкес келмейді"


async def test_chain_not_trusted(simulation):
    now = await simulation.runtime("portal").now()
    root_key, ca_key, key = generate_key("ec"), generate_key("ec"), generate_key("ec")
    root = create_root_ca(root_key, now=now - timedelta(days=1))
    issuing = create_issuing_ca(ca_key, root, root_key, now=now - timedelta(days=1))
    cert = issue_certificate(
        key.public_key(), Subject.individual(iin=ALIYA["iin"], surname="X", name="Y"),
        issuer_cert=issuing, issuer_key=ca_key, now=now, usage="sign",
    )
    verdict = await check(simulation, Identity(key, (cert, issuing)))
    assert verdict.code == "CHAIN_NOT_TRUSTED"


@pytest.mark.parametrize(("validity", "code"), [("expired", "CERT_EXPIRED"), ("not-yet-valid", "CERT_NOT_YET_VALID")])
async def test_validity_period(simulation, validity, code):
    identity, _ = await issue(simulation, validity=validity)
    assert (await check(simulation, identity)).code == code


async def test_revoked_says_when_and_why(simulation):
    identity, serial = await issue(simulation)
    async with simulation.client("signatures") as ca:
        revoked = await ca.post(f"/v1/certificates/{serial}/revoke", json={"reason": "keyCompromise"})
        assert revoked.status_code == 200
    verdict = await check(simulation, identity)
    assert verdict.code == "REVOKED"
    assert verdict.revocation["status"] == "revoked"
    assert verdict.revocation["reason"] == "keyCompromise"
    assert verdict.revocation["revoked_at"]
    assert "keyCompromise" in verdict.message
    assert verdict.message_kk.startswith("Сертификат кері қайтарылған")


async def test_an_auth_key_may_not_sign(simulation):
    identity, _ = await issue(simulation, usage="auth")
    assert (await check(simulation, identity)).code == "WRONG_KEY_USAGE"


async def test_iin_and_bin_must_match_the_certificate(simulation):
    identity, _ = await issue(simulation)
    assert (await check(simulation, identity, iin="851102304571")).code == "IIN_MISMATCH"
    employee, _ = await issue(
        simulation, organisation="Алматы қаласы Тұрғын үй басқармасы", bin="150640011819", roles=["first_head"]
    )
    assert (await check(simulation, employee, bin="150640011819")).valid
    assert (await check(simulation, employee, bin="010140000778")).code == "BIN_MISMATCH"


async def test_responder_down_hard_fail(simulation):
    identity, _ = await issue(simulation)
    block_ocsp(simulation)
    verdict = await check(simulation, identity)
    assert verdict.code == "REVOCATION_UNKNOWN"
    assert verdict.message_ru == "Не удалось получить статус отзыва сертификата"


async def test_cached_answer_carries_a_short_outage_but_not_a_long_one(simulation):
    identity, _ = await issue(simulation)
    assert (await check(simulation, identity)).valid
    block_ocsp(simulation)
    await simulation.runtime("control").clock.advance(Duration.parse("30 minutes"))
    within = await check(simulation, identity)
    assert within.valid and within.revocation["source"] == "cache"
    await simulation.runtime("control").clock.advance(Duration.parse("2 hours"))
    assert (await check(simulation, identity)).code == "REVOCATION_UNKNOWN"


async def test_soft_fail_accepts_when_the_responder_is_down(tmp_path):
    settings = Settings(data_dir=tmp_path / "soft", revocation_policy="soft-fail", seed_people=False)
    async with Simulation(settings) as simulation:
        identity, _ = await issue(simulation)
        block_ocsp(simulation)
        verdict = await check(simulation, identity)
        assert verdict.valid
        assert verdict.revocation["status"] == "unknown" and verdict.revocation["source"] == "none"
    from simulation.database import drop_run
    from simulation.topology import SYSTEMS

    await drop_run(settings, (*SYSTEMS, "simulation"))


async def test_jws_signatures_get_the_same_checks(simulation):
    identity, serial = await issue(simulation)
    portal = simulation.runtime("portal")
    token = sign_detached({"a": 1}, identity.key, identity.chain)
    assert (await portal.validator.jws(token, {"a": 1}, at=await portal.now())).valid
    async with simulation.client("signatures") as ca:
        await ca.post(f"/v1/certificates/{serial}/revoke", json={"reason": "superseded"})
    verdict = await portal.validator.jws(token, {"a": 1}, at=await portal.now())
    # The good answer is still fresh in the cache: revocation shows once it is asked again.
    assert verdict.valid
    portal.validator.revocation.clear_cache()
    assert (await portal.validator.jws(token, {"a": 1}, at=await portal.now())).code == "REVOKED"
