"""The certification authority's HTTP endpoints."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field

from signatures.certificates import Role, Subject, cert_to_pem, chain_to_pem, subject_info
from signatures.identity import KEY_STORAGE_PASSWORD
from signatures.service import CertificateRequestError, CertificationAuthority, b64
from simulation.identifiers import IdentifierError, validate_bin, validate_iin

PEM = "application/x-pem-file"


class SystemCertificateRequest(BaseModel):
    system: str
    csr_pem: str


class PersonCertificateRequest(BaseModel):
    iin: str
    surname: str = Field(min_length=1)
    name: str = Field(min_length=1)
    patronymic: str | None = None
    organisation: str | None = None
    bin: str | None = None
    roles: list[Role] = Field(default_factory=list)
    usage: Literal["sign", "auth"] = "sign"
    password: str | None = Field(default=None, description="Key storage password (Qwerty12)")


class RevocationRequest(BaseModel):
    reason: str = "unspecified"


def _refusal(field: str, message: str, message_kk: str = "", message_ru: str = "") -> JSONResponse:
    return JSONResponse(
        {
            "error": "invalid_request",
            "message": message,
            "message_kk": message_kk or "Сұрау дұрыс емес",
            "message_ru": message_ru or "Запрос некорректен",
            "fields": [{"field": field, "problem": message}],
        },
        status_code=422,
    )


def build_router(ca: CertificationAuthority) -> APIRouter:
    router = APIRouter(prefix="/v1")

    @router.get("/ca/root", tags=["trust"], summary="The root certificate (PEM)")
    async def root() -> Response:
        return Response(cert_to_pem(ca.authority.root), media_type=PEM)

    @router.get("/ca/chain", tags=["trust"], summary="Issuing CA and root (PEM)")
    async def chain() -> Response:
        return Response(chain_to_pem(ca.authority.chain), media_type=PEM)

    @router.post("/certificates/system", tags=["certificates"], summary="Certify an information system")
    async def certify_system(body: SystemCertificateRequest):
        try:
            cert = await ca.issue_system(body.system, body.csr_pem)
        except CertificateRequestError as exc:
            return _refusal(exc.field, exc.message)
        return {
            "serial": format(cert.serial_number, "x"),
            "certificate_pem": cert_to_pem(cert).decode(),
            "chain_pem": chain_to_pem((cert, ca.authority.issuing)).decode(),
        }

    @router.post("/certificates/person", tags=["certificates"], summary="Issue a person's key and certificate")
    async def certify_person(body: PersonCertificateRequest):
        try:
            iin = validate_iin(body.iin, "iin")
            if body.organisation or body.bin:
                if not (body.organisation and body.bin):
                    return _refusal("bin", "an employee certificate needs both organisation and bin")
                subject = Subject.employee(
                    iin=iin, surname=body.surname, name=body.name, patronymic=body.patronymic,
                    organisation=body.organisation, bin=validate_bin(body.bin, "bin"),
                    roles=body.roles or [Role.EMPLOYEE],
                )
            else:
                subject = Subject.individual(
                    iin=iin, surname=body.surname, name=body.name, patronymic=body.patronymic
                )
        except IdentifierError as exc:
            return _refusal(exc.field, str(exc), exc.message_kk, exc.message_ru)
        except ValueError as exc:
            return _refusal("body", str(exc))
        password = (body.password or KEY_STORAGE_PASSWORD.decode()).encode()
        cert, storage = await ca.issue_person(subject, body.usage, password)
        return {
            "serial": format(cert.serial_number, "x"),
            "subject": subject_info(cert) | {
                "not_before": cert.not_valid_before_utc.isoformat(),
                "not_after": cert.not_valid_after_utc.isoformat(),
            },
            "certificate_pem": cert_to_pem(cert).decode(),
            "chain_pem": chain_to_pem((cert, ca.authority.issuing)).decode(),
            "pkcs12": b64(storage),
            "password": password.decode(),
        }

    @router.post("/certificates/{serial}/revoke", tags=["revocation"], summary="Revoke a certificate")
    async def revoke(serial: str, body: RevocationRequest):
        record = await ca.revoke(serial, body.reason)
        if record is None:
            return JSONResponse(
                {"error": "not_found", "message": f"no certificate with serial {serial}"},
                status_code=404,
            )
        return await ca.status(serial)

    @router.get("/certificates/{serial}/status", tags=["revocation"], summary="good, revoked or unknown")
    async def status(serial: str):
        return await ca.status(serial)

    return router
