"""The keys information systems sign with: ECDSA P-256 from the GOST CA's stand-in by default,
RSA-2048 from the RSA CA with EGOV_SIM_SYSTEM_KEY_CA=rsa; the CA certifies no other key type."""

from __future__ import annotations

import base64
import json

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import NameOID

from egov_sim.inprocess import Simulation
from signatures.client import enrol_system
from signatures.jws import sign_detached
from signatures.service import GOST_CA_NAME, ISSUING_CA_NAME
from simulation.settings import Settings

CONTENT = {"probe": "жүйе"}


def issuer_cn(cert: x509.Certificate) -> str:
    return cert.issuer.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value  # type: ignore[return-value]


def jws_alg(token: str) -> str:
    header = token.split(".")[0]
    return json.loads(base64.urlsafe_b64decode(header + "=" * (-len(header) % 4)))["alg"]


def signing_runtimes(simulation: Simulation):
    for name in simulation.systems:
        runtime = simulation.runtime(name)
        if runtime._identity is not None:
            yield name, runtime


async def test_systems_sign_with_gost_stand_in_keys_by_default(simulation):
    assert simulation.settings.system_key_ca == "gost"
    gateway = simulation.runtime("gateway")
    now = await gateway.now()
    names = []
    for name, runtime in signing_runtimes(simulation):
        names.append(name)
        identity = runtime.identity
        assert isinstance(identity.key, ec.EllipticCurvePrivateKey), name
        assert identity.key.curve.name == "secp256r1"
        assert issuer_cn(identity.certificate) == GOST_CA_NAME
        assert identity.chain[1].subject == identity.certificate.issuer
        token = sign_detached(CONTENT, identity.key, identity.chain)
        assert jws_alg(token) == "ES256"
        verdict = await gateway.validator.jws(token, CONTENT, at=now)
        assert verdict.valid, (name, verdict)
        assert verdict.revocation["status"] == "good"
    assert {"gateway", "portal"} <= set(names)


async def test_a_revoked_gost_system_certificate_shows_in_ocsp_and_the_gost_crl(simulation):
    portal = simulation.runtime("portal")
    gateway = simulation.runtime("gateway")
    serial = portal.identity.certificate.serial_number
    async with simulation.client("signatures") as ca:
        reply = await ca.post(f"/v1/certificates/{serial:x}/revoke", json={"reason": "keyCompromise"})
        assert reply.json()["issuer"] == GOST_CA_NAME
        gost_crl = x509.load_der_x509_crl((await ca.get("/v1/crl/gost.crl")).content)
        rsa_crl = x509.load_der_x509_crl((await ca.get("/v1/crl/rsa.crl")).content)
    assert serial in {entry.serial_number for entry in gost_crl}
    assert serial not in {entry.serial_number for entry in rsa_crl}
    assert gost_crl.is_signature_valid(portal.identity.chain[1].public_key())  # type: ignore[arg-type]
    token = sign_detached(CONTENT, portal.identity.key, portal.identity.chain)
    verdict = await gateway.validator.jws(token, CONTENT, at=await gateway.now())
    assert verdict.code == "REVOKED" and "keyCompromise" in verdict.message


async def test_systems_sign_with_rsa_keys_when_set(settings, monkeypatch):
    monkeypatch.setenv("EGOV_SIM_SYSTEM_KEY_CA", "rsa")
    rsa_settings = Settings(data_dir=settings.data_dir, population_size=settings.population_size)
    assert rsa_settings.system_key_ca == "rsa"
    async with Simulation(rsa_settings) as simulation:
        gateway = simulation.runtime("gateway")
        now = await gateway.now()
        for name, runtime in signing_runtimes(simulation):
            identity = runtime.identity
            assert isinstance(identity.key, rsa.RSAPrivateKey), name
            assert identity.key.key_size == 2048
            assert issuer_cn(identity.certificate) == ISSUING_CA_NAME
            token = sign_detached(CONTENT, identity.key, identity.chain)
            assert jws_alg(token) == "RS256"
            verdict = await gateway.validator.jws(token, CONTENT, at=now)
            assert verdict.valid, (name, verdict)


async def test_a_stored_key_of_the_other_type_is_enrolled_anew(simulation, tmp_path):
    signatures_url = simulation.settings.url_of("signatures")
    roots = simulation.runtime("gateway").trusted_roots
    now = await simulation.runtime("gateway").now()
    key_file = tmp_path / "keys" / "portal.p12"
    async with httpx.AsyncClient(transport=simulation.transport) as http:

        async def enrol(ca):
            # a first enrolment needs the run's admin token; a renewal is signed with the stored key
            token = None if key_file.exists() else simulation.credentials.admin_token
            return await enrol_system(http, signatures_url, "portal", key_file=key_file, roots=roots, at=now, ca=ca,
                                      admin_token=token)

        first = await enrol("rsa")
        assert isinstance(first.key, rsa.RSAPrivateKey)
        assert (await enrol("rsa")).certificate == first.certificate  # reused
        switched = await enrol("gost")
        assert isinstance(switched.key, ec.EllipticCurvePrivateKey)
        assert issuer_cn(switched.certificate) == GOST_CA_NAME
        assert (await enrol("gost")).certificate == switched.certificate  # reused
        assert isinstance((await enrol("rsa")).key, rsa.RSAPrivateKey)


def csr_pem(key, algorithm=None) -> str:
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "portal")]))
        .sign(key, algorithm)
    )
    return csr.public_bytes(serialization.Encoding.PEM).decode()


@pytest.mark.parametrize(
    ("key", "algorithm", "named"),
    [
        (ed25519.Ed25519PrivateKey.generate(), None, "Ed25519"),
        (ec.generate_private_key(ec.SECP384R1()), hashes.SHA384(), "EC secp384r1"),
    ],
    ids=["ed25519", "p384"],
)
async def test_the_ca_refuses_a_system_key_of_another_type(simulation, key, algorithm, named):
    async with simulation.client("signatures") as ca:
        reply = await ca.post(
            "/v1/certificates/system", json={"system": "portal", "csr_pem": csr_pem(key, algorithm)}
        )
    assert reply.status_code == 422, reply.text
    body = reply.json()
    assert body["fields"][0]["field"] == "csr_pem"
    assert named in body["message"] and "ECDSA P-256" in body["message"] and "RSA" in body["message"]


async def test_the_ca_certifies_a_system_key_by_the_ca_of_its_type(simulation):
    async with simulation.client("signatures") as ca:
        for key, expected in ((ec.generate_private_key(ec.SECP256R1()), GOST_CA_NAME),
                              (rsa.generate_private_key(65537, 2048), ISSUING_CA_NAME)):
            reply = await ca.post(
                "/v1/certificates/system", json={"system": "portal", "csr_pem": csr_pem(key, hashes.SHA256())}
            )
            assert reply.status_code == 200, reply.text
            cert, issuer = x509.load_pem_x509_certificates(reply.json()["chain_pem"].encode())
            assert issuer_cn(cert) == expected and issuer.subject == cert.issuer
            cert.verify_directly_issued_by(issuer)
