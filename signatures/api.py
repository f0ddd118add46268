"""The certification authority's HTTP endpoints: trust anchors, certificates, CRLs and OCSP."""

from __future__ import annotations

import base64
import binascii
import re
from datetime import datetime
from urllib.parse import unquote

from cryptography.hazmat.primitives import serialization
from fastapi import APIRouter, Request, Security
from fastapi.responses import JSONResponse, Response

from signatures.certificates import Role, Subject, cert_to_pem, chain_to_pem, subject_info
from signatures.identity import KEY_STORAGE_PASSWORD
from signatures.schemas import (
    PersonCertificateRequest,
    ReissueRequest,
    RevocationRequest,
    SystemCertificateRequest,
)
from signatures.proofs import REFUSALS, ProofRefused, csr_digest
from signatures.schemas import Proof
from signatures.service import CertificateRequestError, CertificationAuthority, b64
from signatures.faults import OcspSwitch
from signatures.faults import build_router as build_fault_router
from signatures.texts import INVALID_REQUEST, NEEDS_ADMIN_OR_PROOF, NO_CERTIFICATE, PROOF_REFUSED
from simulation.access import ADMIN, RUN_TOKEN, AccessDenied, credentials_of
from simulation.identifiers import IdentifierError, validate_bin, validate_iin

PEM = "application/x-pem-file"
CRL = "application/pkix-crl"
OCSP_RESPONSE = "application/ocsp-response"


def refusal(field: str, message: str, message_kk: str = "", message_ru: str = "", status: int = 422) -> JSONResponse:
    return JSONResponse(
        {
            "error": "invalid_request",
            "message": message,
            "message_kk": message_kk or INVALID_REQUEST["kk"],
            "message_ru": message_ru or INVALID_REQUEST["ru"],
            "fields": [{"field": field, "problem": message}],
        },
        status_code=status,
    )


def _not_found(serial: str) -> JSONResponse:
    return JSONResponse(
        {"error": "not_found", "message": f"no certificate with serial {serial}",
         "message_kk": NO_CERTIFICATE["kk"], "message_ru": NO_CERTIFICATE["ru"]},
        status_code=404,
    )




def _unauthenticated() -> JSONResponse:
    return JSONResponse(
        {
            "error": "unauthenticated",
            "message": NEEDS_ADMIN_OR_PROOF["en"],
            "message_kk": NEEDS_ADMIN_OR_PROOF["kk"],
            "message_ru": NEEDS_ADMIN_OR_PROOF["ru"],
            "roles": ["admin"],
            "alternative": "proof",
        },
        status_code=401,
    )


def _proof_refused(exc: ProofRefused) -> JSONResponse:
    en, kk, ru = REFUSALS[exc.rule]
    return JSONResponse(
        {
            "error": "proof_refused",
            "rule": exc.rule,
            "message": f"{PROOF_REFUSED['en']}: {exc}",
            "message_kk": f"{PROOF_REFUSED['kk']}: {kk}",
            "message_ru": f"{PROOF_REFUSED['ru']}: {ru}",
            "fields": [{"field": exc.field, "problem": str(exc)}],
        },
        status_code=401,
    )


async def authorise(
    ca: CertificationAuthority,
    request: Request,
    token: str | None,
    proof: Proof | None,
    action: str,
    binding: dict,
    *,
    serial: str | None = None,
    system: str | None = None,
) -> JSONResponse | str:
    """Who asks: ``"admin"`` (the run's admin token), ``"holder"`` (a proof of holding the key
    of the certificate acted on, checked and used up here), or the refusal to answer.

    No token and no proof: 401 naming both ways; the auditor's token without a proof: 403; a
    proof the CA does not accept: 401 naming the failed rule."""
    role = credentials_of(request).role_of(token)
    if role == "admin":
        return "admin"
    if proof is None:
        if role is not None:
            raise AccessDenied(403, ("admin",))
        return _unauthenticated()
    try:
        await ca.check_proof(proof, action, binding, serial=serial, system=system)
    except ProofRefused as exc:
        return _proof_refused(exc)
    return "holder"


def subject_of(body: PersonCertificateRequest) -> Subject:
    """The certificate subject a request describes; IdentifierError / ValueError name the field."""
    iin = validate_iin(body.iin, "iin")
    if body.organisation or body.bin:
        if not (body.organisation and body.bin):
            raise CertificateRequestError("bin", "an employee certificate needs both organisation and bin")
        return Subject.employee(
            iin=iin, surname=body.surname, name=body.name, patronymic=body.patronymic,
            organisation=body.organisation, bin=validate_bin(body.bin, "bin"),
            roles=body.roles or [Role.EMPLOYEE],
        )
    if body.roles:
        raise CertificateRequestError("roles", "roles need an organisation and its bin")
    return Subject.individual(iin=iin, surname=body.surname, name=body.name, patronymic=body.patronymic)


def issued(ca: CertificationAuthority, cert, storage: bytes, password: bytes, ca_role: str) -> dict:
    return {
        "serial": format(cert.serial_number, "x"),
        "subject": {
            k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in subject_info(cert).items()
        },
        "certificate_pem": cert_to_pem(cert).decode(),
        "chain_pem": chain_to_pem((cert, *ca.chain(ca_role))).decode(),
        "pkcs12": b64(storage),
        "password": password.decode(),
    }


def build_router(ca: CertificationAuthority) -> APIRouter:
    router = APIRouter(prefix="/v1")

    @router.get("/ca/root", tags=["trust"], summary="The root certificate (PEM)")
    async def root() -> Response:
        assert ca.root is not None
        return Response(cert_to_pem(ca.root), media_type=PEM)

    @router.get("/ca/chain", tags=["trust"], summary="Both issuing CAs and the root (PEM)")
    async def chain() -> Response:
        assert ca.root is not None
        certs = [i.certificate for i in ca.issuers.values()] + [ca.root]
        return Response(chain_to_pem(certs), media_type=PEM)

    @router.post("/certificates/system", tags=["certificates"],
                 summary="Certify an information system (CSR): admin token, or a renewal with proof of its current key")
    async def certify_system(
        body: SystemCertificateRequest, request: Request, token: str | None = Security(RUN_TOKEN)
    ):
        who = await authorise(ca, request, token, body.proof, "certify-system",
                              {"system": body.system, "csr_sha256": csr_digest(body.csr_pem)}, system=body.system)
        if isinstance(who, JSONResponse):
            return who
        try:
            cert = await ca.issue_system(body.system, body.csr_pem)
        except CertificateRequestError as exc:
            return refusal(exc.field, exc.message)
        if who == "holder" and body.proof is not None:
            # a renewal: the key that proved it is superseded, so only the newest key renews
            await ca.revoke(body.proof.serial, "superseded")
        return {
            "serial": format(cert.serial_number, "x"),
            "certificate_pem": cert_to_pem(cert).decode(),
            "chain_pem": chain_to_pem((cert, ca.issuer_of(cert).certificate)).decode(),
        }

    @router.post("/certificates/person", tags=["certificates"], summary="Issue a person's key storage (PKCS#12): admin",
                 dependencies=[ADMIN])
    async def certify_person(body: PersonCertificateRequest):
        try:
            subject = subject_of(body)
        except IdentifierError as exc:
            return refusal(exc.field, str(exc), exc.message_kk, exc.message_ru)
        except CertificateRequestError as exc:
            return refusal(exc.field, exc.message)
        except ValueError as exc:
            return refusal("body", str(exc))
        password = (body.password or KEY_STORAGE_PASSWORD.decode()).encode()
        cert, storage = await ca.issue_person(
            subject, body.usage, ca=body.ca, password=password, validity=body.validity
        )
        return issued(ca, cert, storage, password, body.ca)

    @router.get("/certificates/{serial}", tags=["certificates"], summary="A certificate (PEM)")
    async def certificate(serial: str):
        record = await ca.record(serial)
        if record is None:
            return _not_found(serial)
        return Response(record.certificate_pem, media_type=PEM)

    @router.post("/certificates/{serial}/revoke", tags=["revocation"],
                 summary="Revoke, with a reason and date: admin token, or proof of holding the certificate's key")
    async def revoke(
        serial: str, body: RevocationRequest, request: Request, token: str | None = Security(RUN_TOKEN)
    ):
        who = await authorise(ca, request, token, body.proof, "revoke", {"reason": body.reason}, serial=serial)
        if isinstance(who, JSONResponse):
            return who
        if who == "holder" and body.at is not None:
            return refusal("at", "only the administrator dates a revocation; a holder's takes effect now")
        try:
            record = await ca.revoke(serial, body.reason, body.at)
        except CertificateRequestError as exc:
            return refusal(exc.field, exc.message)
        if record is None:
            return _not_found(serial)
        answer = await ca.status(serial)
        if body.notify:
            answer["gateways"] = await ca.tell_gateways(record.serial_hex)
        return answer

    @router.post("/certificates/{serial}/reissue", tags=["certificates"],
                 summary="New key, same holder; the old one superseded: admin token, or proof of holding the old key")
    async def reissue(
        serial: str, request: Request, body: ReissueRequest | None = None,
        token: str | None = Security(RUN_TOKEN),
    ):
        who = await authorise(ca, request, token, body.proof if body else None, "reissue", {}, serial=serial)
        if isinstance(who, JSONResponse):
            return who
        password = ((body.password if body else None) or KEY_STORAGE_PASSWORD.decode()).encode()
        try:
            cert, storage = await ca.reissue(serial, password)
        except LookupError:
            return _not_found(serial)
        except CertificateRequestError as exc:
            return refusal(exc.field, exc.message)
        record = await ca.record(format(cert.serial_number, "x"))
        assert record is not None
        answer = issued(ca, cert, storage, password, record.ca)
        answer["gateways"] = await ca.tell_gateways(serial)
        return answer

    @router.get("/certificates/{serial}/status", tags=["revocation"], summary="good, revoked (when, why) or unknown")
    async def status(serial: str):
        return await ca.status(serial)

    @router.get("/crl/{name}", tags=["revocation"], summary="CRL: rsa.crl, gost.crl, rsa-delta.crl … (.pem for PEM)")
    async def crl(name: str):
        match = re.fullmatch(r"(rsa|gost)(-delta)?\.(crl|pem)", name)
        if match is None:
            return JSONResponse(
                {"error": "not_found",
                 "message": f"no CRL {name!r}: use rsa.crl, gost.crl, rsa-delta.crl or gost-delta.crl (.pem for PEM)"},
                status_code=404,
            )
        issued_crl = await ca.crl(match.group(1), delta=bool(match.group(2)))
        if match.group(3) == "pem":
            return Response(issued_crl.public_bytes(serialization.Encoding.PEM), media_type=PEM)
        return Response(issued_crl.public_bytes(serialization.Encoding.DER), media_type=CRL)

    switch = OcspSwitch()

    @router.post("/ocsp", tags=["revocation"], summary="OCSP responder (RFC 6960), POST")
    async def ocsp_post(request: Request) -> Response:
        if switch.down:
            return switch.refusal()
        return Response(await ca.ocsp(await request.body()), media_type=OCSP_RESPONSE)

    @router.get("/ocsp/{encoded:path}", tags=["revocation"], summary="OCSP responder (RFC 6960), GET")
    async def ocsp_get(encoded: str) -> Response:
        if switch.down:
            return switch.refusal()
        try:
            der = base64.b64decode(unquote(encoded), validate=True)
        except (binascii.Error, ValueError):
            der = b""
        return Response(await ca.ocsp(der), media_type=OCSP_RESPONSE)

    whole = APIRouter()  # the responder's fault switch sits outside /v1, with the other systems' faults
    whole.include_router(router)
    whole.include_router(build_fault_router(switch))
    return whole
