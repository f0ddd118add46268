"""The certification authority service over HTTP: issue, revoke, re-issue, CRLs, OCSP, seeding,
persistence, and clear refusals."""

from __future__ import annotations

import base64

from cryptography import x509
from cryptography.x509 import ocsp
from cryptography.x509.oid import ExtensionOID
from cryptography.hazmat.primitives import hashes, serialization

from egov_sim.inprocess import Simulation
from signatures.identity import Identity
from signatures.ncalayer import person_key_storage

ALIYA = {"iin": "900515401230", "surname": "НҰРЛАНОВА", "name": "ӘЛИЯ"}


async def test_people_are_seeded_with_auth_and_sign_key_storages(simulation, settings):
    for iin in ("900515401230", "851102304571", "750909303210", "820303400778"):
        sign = person_key_storage(settings.data_dir, iin, "sign")
        auth = person_key_storage(settings.data_dir, iin, "auth")
        assert sign is not None and sign.name.startswith("RSA256_")
        assert auth is not None and auth.name.startswith("AUTH_RSA256_")
        identity = Identity.load(sign)
        assert f"IIN{iin}" in identity.certificate.subject.rfc4514_string()


async def test_gost_stand_in_issues_ec_keys(simulation):
    async with simulation.client("signatures") as ca:
        body = (await ca.post("/v1/certificates/person", json={**ALIYA, "ca": "gost"})).json()
    identity = Identity.from_pkcs12(base64.b64decode(body["pkcs12"]), b"Qwerty12")
    assert identity.certificate.public_key().curve.name == "secp256r1"  # type: ignore[union-attr]
    assert "(GOST)" in identity.chain[1].subject.rfc4514_string()


async def test_certificates_name_their_crl_and_ocsp(simulation, settings):
    async with simulation.client("signatures") as ca:
        body = (await ca.post("/v1/certificates/person", json=ALIYA)).json()
    cert = x509.load_pem_x509_certificate(body["certificate_pem"].encode())
    base = settings.url_of("signatures")
    points = cert.extensions.get_extension_for_oid(ExtensionOID.CRL_DISTRIBUTION_POINTS).value
    assert points[0].full_name[0].value == f"{base}/v1/crl/rsa.crl"
    aia = cert.extensions.get_extension_for_oid(ExtensionOID.AUTHORITY_INFORMATION_ACCESS).value
    assert aia[0].access_location.value == f"{base}/v1/ocsp"


async def test_revoke_reissue_and_the_crls(simulation):
    async with simulation.client("signatures") as ca:
        first = (await ca.post("/v1/certificates/person", json=ALIYA)).json()
        full_before = x509.load_der_x509_crl((await ca.get("/v1/crl/rsa.crl")).content)
        again = (await ca.post(f"/v1/certificates/{first['serial']}/reissue", json={"password": "Жаңа-2026"})).json()
        assert again["serial"] != first["serial"]
        Identity.from_pkcs12(base64.b64decode(again["pkcs12"]), "Жаңа-2026".encode())
        status = (await ca.get(f"/v1/certificates/{first['serial']}/status")).json()
        assert status["status"] == "revoked" and status["reason"] == "superseded"
        assert status["supersededBy"] == again["serial"]

        delta = x509.load_der_x509_crl((await ca.get("/v1/crl/rsa-delta.crl")).content)
        assert delta.extensions.get_extension_for_class(x509.DeltaCRLIndicator).value.crl_number == (
            full_before.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number
        )
        assert [e.serial_number for e in delta] == [int(first["serial"], 16)]
        full = x509.load_der_x509_crl((await ca.get("/v1/crl/rsa.crl")).content)
        assert int(first["serial"], 16) in {e.serial_number for e in full}
        assert full.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number > (
            delta.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number
        )
        # After a new full list the delta starts empty again.
        assert list(x509.load_der_x509_crl((await ca.get("/v1/crl/rsa-delta.crl")).content)) == []
        pem = await ca.get("/v1/crl/gost.pem")
        assert pem.text.startswith("-----BEGIN X509 CRL-----")


async def test_ocsp_over_http(simulation):
    async with simulation.client("signatures") as ca:
        body = (await ca.post("/v1/certificates/person", json=ALIYA)).json()
        cert = x509.load_pem_x509_certificate(body["certificate_pem"].encode())
        issuer = x509.load_pem_x509_certificates(body["chain_pem"].encode())[1]
        request = ocsp.OCSPRequestBuilder().add_certificate(cert, issuer, hashes.SHA1()).build()
        der = request.public_bytes(serialization.Encoding.DER)
        answer = ocsp.load_der_ocsp_response(
            (await ca.post("/v1/ocsp", content=der, headers={"Content-Type": "application/ocsp-request"})).content
        )
        assert answer.certificate_status == ocsp.OCSPCertStatus.GOOD
        await ca.post(f"/v1/certificates/{body['serial']}/revoke", json={"reason": "affiliationChanged"})
        by_get = await ca.get("/v1/ocsp/" + base64.b64encode(der).decode())
        answer = ocsp.load_der_ocsp_response(by_get.content)
        assert answer.certificate_status == ocsp.OCSPCertStatus.REVOKED
        assert answer.revocation_reason == x509.ReasonFlags.affiliation_changed
        garbage = ocsp.load_der_ocsp_response((await ca.post("/v1/ocsp", content=b"nonsense")).content)
        assert garbage.response_status == ocsp.OCSPResponseStatus.MALFORMED_REQUEST


async def test_refusals_name_the_field(simulation):
    async with simulation.client("signatures") as ca:
        bad_iin = await ca.post("/v1/certificates/person", json={**ALIYA, "iin": "900515401231"})
        assert bad_iin.status_code == 422 and bad_iin.json()["fields"][0]["field"] == "iin"
        assert bad_iin.json()["message_kk"].startswith("ЖСН")
        bad_bin = await ca.post("/v1/certificates/person", json={**ALIYA, "organisation": "X", "bin": "150640011810"})
        assert bad_bin.status_code == 422 and bad_bin.json()["fields"][0]["field"] == "bin"
        serial = (await ca.post("/v1/certificates/person", json=ALIYA)).json()["serial"]
        reason = await ca.post(f"/v1/certificates/{serial}/revoke", json={"reason": "because"})
        assert reason.status_code == 422 and reason.json()["fields"][0]["field"] == "reason"
        assert (await ca.post("/v1/certificates/abc123/revoke", json={})).status_code == 404
        assert (await ca.get("/v1/crl/rsa.txt")).status_code == 404
        csr = await ca.post("/v1/certificates/system", json={"system": "portal", "csr_pem": "not a csr"})
        assert csr.status_code == 422 and csr.json()["fields"][0]["field"] == "csr_pem"


async def test_the_ca_survives_a_restart(settings):
    async with Simulation(settings) as first:
        async with first.client("signatures") as ca:
            root = (await ca.get("/v1/ca/root")).text
            serial = (await ca.post("/v1/certificates/person", json=ALIYA)).json()["serial"]
            await ca.post(f"/v1/certificates/{serial}/revoke", json={"reason": "keyCompromise"})
    async with Simulation(settings) as second:
        async with second.client("signatures") as ca:
            assert (await ca.get("/v1/ca/root")).text == root
            status = (await ca.get(f"/v1/certificates/{serial}/status")).json()
            assert status["status"] == "revoked" and status["reason"] == "keyCompromise"
