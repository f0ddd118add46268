"""Issue 14, points 2 and 9: the certification authority issues, reissues and revokes only for the
run's administrator or for the holder of the certificate's current key; JWS parts are canonical
base64url; an admin's revocation reaches the gateways' cached OCSP answers at once."""

from __future__ import annotations

import base64
from datetime import timedelta

import httpx
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding
from cryptography.x509.oid import NameOID

from egov_sim.citizen import DEMO_CITIZEN
from signatures.identity import Identity
from signatures.jws import canonical_json, sign_detached, verify_detached
from signatures.ncalayer import person_key_storage
from signatures.proofs import csr_digest, make_proof, proof_content
from signatures.revocation_push import gateways

OTHER_CITIZEN = "851102304571"  # ОМАРОВ ДӘУРЕН, seeded as well
PERSON = {"iin": "900515401230", "surname": "НҰРЛАНОВА", "name": "ӘЛИЯ", "usage": "sign"}
CONTENT = {"probe": "қол"}


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def csr_for(system: str, key) -> str:
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, system)]))
        .sign(key, hashes.SHA256())
    )
    return csr.public_bytes(serialization.Encoding.PEM).decode()


def serial_of(identity: Identity) -> str:
    return format(identity.certificate.serial_number, "x")


async def status_of(simulation, serial: str) -> dict:
    async with simulation.client("signatures", role=None) as ca:
        return (await ca.get(f"/v1/certificates/{serial}/status")).json()


async def test_writes_need_the_admin_token_anonymous_and_auditor_change_nothing(simulation, settings):
    citizen = Identity.load(person_key_storage(settings.data_dir, DEMO_CITIZEN.iin))
    portal = simulation.runtime("portal").identity
    csr = csr_for("portal", ec.generate_private_key(ec.SECP256R1()))
    for role, code in ((None, 401), ("auditor", 403)):
        async with simulation.client("signatures", role=role) as ca:
            answers = {
                "system": await ca.post("/v1/certificates/system", json={"system": "portal", "csr_pem": csr}),
                "person": await ca.post("/v1/certificates/person", json=PERSON),
                "reissue": await ca.post(f"/v1/certificates/{serial_of(citizen)}/reissue", json={}),
                "reissue, no body": await ca.post(f"/v1/certificates/{serial_of(citizen)}/reissue"),
                "revoke citizen": await ca.post(f"/v1/certificates/{serial_of(citizen)}/revoke",
                                                json={"reason": "keyCompromise"}),
                "revoke portal": await ca.post(f"/v1/certificates/{serial_of(portal)}/revoke",
                                               json={"reason": "keyCompromise"}),
            }
        for what, answer in answers.items():
            assert answer.status_code == code, (role, what, answer.text)
            body = answer.json()
            assert "pkcs12" not in body and "certificate_pem" not in body and "chain_pem" not in body, what
            assert body["message_kk"] and body["message_ru"] and "admin" in body["message"], what
        if role is None:
            assert "proof" in answers["reissue"].json()["message"]  # says the holder's way in too
    for serial in (serial_of(citizen), serial_of(portal)):
        status = await status_of(simulation, serial)
        assert status["status"] == "good" and status["supersededBy"] is None, status
    # reading stays open, as a real CA's publication is
    async with simulation.client("signatures", role=None) as ca:
        assert (await ca.get("/v1/ca/root")).status_code == 200
        assert (await ca.get("/v1/ca/chain")).status_code == 200
        assert (await ca.get(f"/v1/certificates/{serial_of(citizen)}")).status_code == 200
        assert (await ca.get("/v1/crl/rsa.crl")).status_code == 200
    # the run's admin token does it all
    async with simulation.client("signatures") as ca:  # the admin token
        system = await ca.post("/v1/certificates/system", json={
            "system": "portal", "csr_pem": csr_for("portal", ec.generate_private_key(ec.SECP256R1()))})
        assert system.status_code == 200 and "certificate_pem" in system.json(), system.text
        person = await ca.post("/v1/certificates/person", json=PERSON)
        assert person.status_code == 200 and person.json()["pkcs12"], person.text
        serial = person.json()["serial"]
        reissued = await ca.post(f"/v1/certificates/{serial}/reissue", json={})
        assert reissued.status_code == 200 and reissued.json()["pkcs12"], reissued.text
        revoked = await ca.post(f"/v1/certificates/{reissued.json()['serial']}/revoke", json={"reason": "keyCompromise"})
        assert revoked.status_code == 200 and revoked.json()["status"] == "revoked", revoked.text
    assert (await status_of(simulation, serial))["supersededBy"] == reissued.json()["serial"]


async def test_a_holder_reissues_with_proof_of_the_current_key_and_no_other_proof_passes(simulation, settings):
    citizen = Identity.load(person_key_storage(settings.data_dir, DEMO_CITIZEN.iin))
    other = Identity.load(person_key_storage(settings.data_dir, OTHER_CITIZEN))
    serial = serial_of(citizen)
    now = await simulation.runtime("signatures").now()

    async def reissue(target: str, proof: dict) -> httpx.Response:
        async with simulation.client("signatures", role=None) as ca:
            return await ca.post(f"/v1/certificates/{target}/reissue", json={"proof": proof})

    def refused(answer: httpx.Response, rule: str) -> None:
        assert answer.status_code == 401, answer.text
        body = answer.json()
        assert body["error"] == "proof_refused" and body["rule"] == rule, body
        assert "pkcs12" not in body and body["message_kk"] and body["message_ru"]

    # made with another key: the other citizen signs a proof naming this citizen's certificate ...
    forged = make_proof(citizen, "reissue", now)
    content = proof_content("reissue", serial, forged["requested_at"], forged["nonce"], {})
    forged["signature"] = sign_detached(content, other.key, other.chain)
    refused(await reissue(serial, forged), "signature")
    # ... and with this citizen's certificate in x5c, signed with the other key
    header_part = sign_detached(content, citizen.key, citizen.chain).split(".")[0]
    signing_input = f"{header_part}.{b64url(canonical_json(content))}".encode()
    forged["signature"] = f"{header_part}..{b64url(other.key.sign(signing_input, padding.PKCS1v15(), hashes.SHA256()))}"
    refused(await reissue(serial, forged), "signature")
    # a proof of one's own key, used for another certificate
    refused(await reissue(serial, make_proof(other, "reissue", now)), "other-certificate")
    # a proof made for another action
    refused(await reissue(serial, make_proof(citizen, "revoke", now, reason="keyCompromise")), "signature")
    # an old proof: made ten minutes of virtual time ago (message_date_skew is five)
    refused(await reissue(serial, make_proof(citizen, "reissue", now - timedelta(minutes=10))), "requested-at")
    assert (await status_of(simulation, serial))["status"] == "good"  # none of them touched it

    proof = make_proof(citizen, "reissue", now)
    renewed = await reissue(serial, proof)
    assert renewed.status_code == 200, renewed.text
    new = Identity.from_pkcs12(base64.b64decode(renewed.json()["pkcs12"]), renewed.json()["password"].encode())
    assert new.certificate.public_key() != citizen.certificate.public_key()
    status = await status_of(simulation, serial)
    assert status["status"] == "revoked" and status["reason"] == "superseded"
    assert status["supersededBy"] == serial_of(new)

    # the same proof sent again: refused as used, before anything else is looked at
    refused(await reissue(serial, proof), "replayed")
    # the superseded key proves nothing any more
    refused(await reissue(serial, make_proof(citizen, "reissue", now)), "revoked")


async def test_a_holder_revokes_its_own_key_with_proof_and_a_replay_is_refused(simulation, settings):
    other = Identity.load(person_key_storage(settings.data_dir, OTHER_CITIZEN))
    serial = serial_of(other)
    now = await simulation.runtime("signatures").now()
    proof = make_proof(other, "revoke", now, reason="keyCompromise")
    async with simulation.client("signatures", role=None) as ca:
        # the reason is part of what the holder signed
        changed = await ca.post(f"/v1/certificates/{serial}/revoke", json={"reason": "superseded", "proof": proof})
        assert changed.status_code == 401 and changed.json()["rule"] == "signature", changed.text
        dated = await ca.post(f"/v1/certificates/{serial}/revoke", json={
            "reason": "keyCompromise", "at": (now - timedelta(days=30)).isoformat(),
            "proof": make_proof(other, "revoke", now, reason="keyCompromise")})
        assert dated.status_code == 422 and dated.json()["fields"][0]["field"] == "at", dated.text
        revoked = await ca.post(f"/v1/certificates/{serial}/revoke", json={"reason": "keyCompromise", "proof": proof})
        assert revoked.status_code == 200 and revoked.json()["status"] == "revoked", revoked.text
        again = await ca.post(f"/v1/certificates/{serial}/revoke", json={"reason": "keyCompromise", "proof": proof})
        assert again.status_code == 401 and again.json()["rule"] == "replayed", again.text


async def test_a_system_renews_with_proof_of_its_own_key_only(simulation):
    portal = simulation.runtime("portal").identity
    gateway = simulation.runtime("gateway").identity
    now = await simulation.runtime("signatures").now()
    csr = csr_for("portal", ec.generate_private_key(ec.SECP256R1()))
    async with simulation.client("signatures", role=None) as ca:
        # the gateway's key does not renew the portal
        wrong = await ca.post("/v1/certificates/system", json={"system": "portal", "csr_pem": csr, "proof": make_proof(
            gateway, "certify-system", now, system="portal", csr_sha256=csr_digest(csr))})
        assert wrong.status_code == 401 and wrong.json()["rule"] == "system", wrong.text
        # a proof bound to another CSR does not certify this one
        other_csr = csr_for("portal", ec.generate_private_key(ec.SECP256R1()))
        swapped = await ca.post("/v1/certificates/system", json={"system": "portal", "csr_pem": csr, "proof": make_proof(
            portal, "certify-system", now, system="portal", csr_sha256=csr_digest(other_csr))})
        assert swapped.status_code == 401 and swapped.json()["rule"] == "signature", swapped.text
        renewed = await ca.post("/v1/certificates/system", json={"system": "portal", "csr_pem": csr, "proof": make_proof(
            portal, "certify-system", now, system="portal", csr_sha256=csr_digest(csr))})
        assert renewed.status_code == 200 and "certificate_pem" in renewed.json(), renewed.text
        # the key that proved the renewal is superseded: it renews nothing any more
        old = format(portal.certificate.serial_number, "x")
        status = (await ca.get(f"/v1/certificates/{old}/status")).json()
        assert status["status"] == "revoked" and status["reason"] == "superseded", status
        again_csr = csr_for("portal", ec.generate_private_key(ec.SECP256R1()))
        again = await ca.post("/v1/certificates/system", json={"system": "portal", "csr_pem": again_csr,
                                                                "proof": make_proof(portal, "certify-system", now, system="portal",
                                                                                    csr_sha256=csr_digest(again_csr))})
        assert again.status_code == 401 and again.json()["rule"] == "revoked", again.text


async def test_non_canonical_base64url_is_malformed(simulation):
    identity = simulation.runtime("portal").identity
    gateway = simulation.runtime("gateway")
    now = await gateway.now()
    token = sign_detached(CONTENT, identity.key, identity.chain)
    header, _, signature = token.split(".")
    assert (await gateway.validator.jws(token, CONTENT, at=now)).valid
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

    def trailing_bits(part: str) -> str:
        # the last character carries bits beyond the last byte (ES256: 64 bytes = 86 characters,
        # 4 spare bits); setting one decodes to the very same bytes
        spare = {2: 4, 3: 2}[len(part) % 4]
        last = alphabet.index(part[-1])
        assert last % (1 << spare) == 0
        return part[:-1] + alphabet[last | 1]

    variants = {
        "signature: non-zero trailing bits": f"{header}..{trailing_bits(signature)}",
        "signature: padding": f"{header}..{signature}==",
        "signature: standard alphabet": f"{header}..{signature.replace('-', '+').replace('_', '/')}"
        if ("-" in signature or "_" in signature) else f"{header}..{signature[:-1]}+",
        "signature: whitespace": f"{header}..{signature[:10]} {signature[10:]}",
        "token: trailing newline": token + "\n",
    }
    if len(header) % 4:
        variants["header: non-zero trailing bits"] = f"{trailing_bits(header)}..{signature}"
    for what, variant in variants.items():
        for verdict in (
            verify_detached(variant, CONTENT, trusted_roots=gateway.trusted_roots, at=now),
            await gateway.validator.jws(variant, CONTENT, at=now),
        ):
            assert verdict.code == "MALFORMED", (what, verdict)
            assert "base64" in verdict.message or "3 dot-separated" in verdict.message, (what, verdict.message)
            assert verdict.message_kk == "Қолтаңбаның пішімі дұрыс емес"


async def test_an_admin_revocation_reaches_the_gateways_at_once(simulation):
    gateway = simulation.runtime("gateway")
    freshness = timedelta(seconds=simulation.settings.ocsp_freshness)
    async with simulation.client("signatures") as ca:
        signers = []
        for _ in range(2):
            issued = (await ca.post("/v1/certificates/person", json=PERSON)).json()
            signers.append((issued["serial"], Identity.from_pkcs12(
                base64.b64decode(issued["pkcs12"]), issued["password"].encode())))
    tokens = [sign_detached(CONTENT, identity.key, identity.chain) for _, identity in signers]
    checked_at = await gateway.now()
    for token in tokens:  # the gateway asks the responder once and caches "good"
        verdict = await gateway.validator.jws(token, CONTENT, at=checked_at)
        assert verdict.valid and verdict.revocation["status"] == "good", verdict

    unnotified, notified = signers
    async with simulation.client("signatures") as ca:
        quiet = await ca.post(f"/v1/certificates/{unnotified[0]}/revoke",
                              json={"reason": "keyCompromise", "notify": False})
        assert quiet.status_code == 200 and "gateways" not in quiet.json(), quiet.text
        told = await ca.post(f"/v1/certificates/{notified[0]}/revoke", json={"reason": "keyCompromise"})
    assert told.status_code == 200, told.text
    assert sorted(told.json()["gateways"]["notified"]) == sorted(gateways())
    assert told.json()["gateways"]["not_reached"] == []

    now = await gateway.now()
    assert now - checked_at < freshness  # still within the cached answers' freshness
    kept = await gateway.validator.jws(tokens[0], CONTENT, at=now)
    assert kept.valid and kept.revocation["source"] == "cache"  # without notify: until it expires
    refused = await gateway.validator.jws(tokens[1], CONTENT, at=now)
    assert refused.code == "REVOKED" and "keyCompromise" in refused.message, refused


async def test_an_unreachable_gateway_is_reported_not_fatal(simulation):
    def wko_down(request: httpx.Request):
        if request.url.path == "/admin/revocations" and request.url.port == httpx.URL(
                simulation.settings.url_of("gateway-wko")).port:
            raise httpx.ConnectError("gateway-wko is down", request=request)
        return None

    async with simulation.client("signatures") as ca:
        serial = (await ca.post("/v1/certificates/person", json=PERSON)).json()["serial"]
        simulation.transport.interceptors.append(wko_down)
        try:
            answer = await ca.post(f"/v1/certificates/{serial}/revoke", json={"reason": "keyCompromise"})
        finally:
            simulation.transport.interceptors.remove(wko_down)
    assert answer.status_code == 200 and answer.json()["status"] == "revoked", answer.text
    pushed = answer.json()["gateways"]
    assert [m["gateway"] for m in pushed["not_reached"]] == ["gateway-wko"]
    assert "down" in pushed["not_reached"][0]["problem"]
    assert "gateway-wko" not in pushed["notified"] and "gateway" in pushed["notified"]


async def test_the_gateways_forget_endpoint_needs_the_admin_token(simulation):
    for role, code in ((None, 401), ("auditor", 403), ("admin", 200)):
        async with simulation.client("gateway", role=role) as gateway:
            answer = await gateway.post("/admin/revocations", json={"serial": "1a2b"})
        assert answer.status_code == code, (role, answer.text)
    async with simulation.client("gateway") as gateway:
        bad = await gateway.post("/admin/revocations", json={"serial": "not hex"})
    assert bad.status_code == 422 and bad.json()["fields"][0]["field"] == "serial"


async def test_systems_enrol_with_the_admin_token_and_not_without(simulation, tmp_path):
    """The run's systems started (this fixture): their first enrolment carried the admin token.
    Without it, a first enrolment is refused with a one-line reason."""
    from signatures.client import CertificationAuthorityUnavailable, enrol_system

    roots = simulation.runtime("gateway").trusted_roots
    now = await simulation.runtime("gateway").now()
    url = simulation.settings.url_of("signatures")
    async with httpx.AsyncClient(transport=simulation.transport) as http:
        try:
            await enrol_system(http, url, "portal", key_file=tmp_path / "portal.p12", roots=roots, at=now, wait=1)
        except CertificationAuthorityUnavailable as exc:
            assert "HTTP 401" in str(exc) and "\n" not in str(exc)
        else:
            raise AssertionError("an anonymous first enrolment was certified")
        assert not (tmp_path / "portal.p12").exists()
        token = simulation.credentials.admin_token
        first = await enrol_system(http, url, "portal", key_file=tmp_path / "portal.p12", roots=roots, at=now,
                                   ca="rsa", wait=1, admin_token=token)
        # a renewal (another key type) is signed with the stored key: no token needed
        renewed = await enrol_system(http, url, "portal", key_file=tmp_path / "portal.p12", roots=roots, at=now,
                                     ca="gost", wait=1)
    assert renewed.certificate != first.certificate
