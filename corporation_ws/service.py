"""The State Corporation channel (section 4, item 9) at the operator's workstation.

1-процесс the operator logs in with the AUTH key (through the workstation's NCALayer); the
applicant takes an electronic queue ticket; 1-шарт the package against the Standard's item 9,
else 2-процесс a refusal receipt (Standard, appendix 3); 3-процесс the request form with the
applicant's and the representative's data; 4-процесс queries to ЖТ МДҚ and БНАЖ through ЭҮШ;
2-шарт the data exists and the power of attorney is valid, else 5-процесс "the data cannot be
obtained"; 6-процесс scanning and the operator's ЭЦҚ; 7-процесс sending through ЭҮШ to ЭҮӨШ;
then the provider (8-процесс, 3-шарт, 9-процесс) and 10-процесс the result handed to the applicant.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import uuid
from datetime import datetime
from importlib.resources import files
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, Field, field_validator
from sqlalchemy import func
from sqlalchemy.exc import IntegrityError
from sqlmodel import select

from corporation_ws.models import FrontApplication, FrontNotice, OperatorSession, Ticket
from corporation_ws.texts import ACCEPTED, HANDED, INCOMPLETE, NO_DATA
from gateway_protocol.errors import ErrorCode, GatewayFault
from gateway_protocol.provider import Incoming, ProviderError
from reglaments import Reglament, get_reglament
from signatures.client import obtain_person_identity, renewed_key_storage
from signatures.jws import canonical_json
from signatures.ncalayer import BASICS, SIGN_EKU, NCALayer, person_key_storage
from simulation.calendar import to_local
from simulation.clock import from_us, to_us
from simulation.identifiers import validate_iin
from runtime import SystemRuntime

SYSTEM = "corporation_ws"
CHANNEL = "corporation"
STAFF = files(__package__) / "staff.yaml"
"""The front office's organisation and its operator (this package's ``staff.yaml``)."""


class Representative(BaseModel):
    iin: str
    power_of_attorney: str = Field(min_length=1, description="the notarised power of attorney's number")

    @field_validator("iin")
    @classmethod
    def _iin(cls, value: str) -> str:
        return validate_iin(value, "representative.iin")


class FrontRequest(BaseModel):
    """What the operator enters for one applicant at the front office."""

    reglament: str
    ticket: str
    applicant_iin: str
    representative: Representative | None = None
    presented_documents: list[str] = Field(description="codes of the documents the applicant brought")
    form: dict[str, Any] = Field(default_factory=dict, description="e.g. {\"queueList\": \"socially-vulnerable\"}")

    @field_validator("applicant_iin")
    @classmethod
    def _iin(cls, value: str) -> str:
        return validate_iin(value, "applicant_iin")


class FrontOfficeError(Exception):
    def __init__(self, status: int, code: str, message: dict[str, str], **extra: Any) -> None:
        super().__init__(message["en"])
        self.status, self.code, self.message, self.extra = status, code, message, extra

    def body(self) -> dict[str, Any]:
        return {"error": self.code, "message": self.message["en"], "message_kk": self.message["kk"],
                "message_ru": self.message["ru"], **self.extra}


class FrontOffice:
    def __init__(self, runtime: SystemRuntime) -> None:
        self.runtime = runtime
        self.auth = NCALayer(runtime.now)
        self.sign = NCALayer(runtime.now)
        self.operator: dict[str, Any] = {}
        self._storages: dict[str, Path] = {}

    async def start(self) -> None:
        """The operator's key storages, on the workstation's NCALayer."""
        staff = yaml.safe_load(STAFF.read_text(encoding="utf-8"))
        self.operator = {**staff["operator"], "organisation": staff["organisation"]["name"],
                         "bin": staff["organisation"]["bin"]}
        for usage, layer in (("auth", self.auth), ("sign", self.sign)):
            storage = person_key_storage(self.runtime.settings.data_dir, self.operator["iin"], usage)
            if storage is not None:
                self._storages[usage] = storage
            else:
                storage = await obtain_person_identity(  # type: ignore[assignment]
                    self.runtime.http, self.runtime.url_of("signatures"),
                    {**{k: self.operator[k] for k in ("iin", "surname", "name", "patronymic", "organisation", "bin")},
                     "roles": ["employee"], "usage": usage},
                    key_file=self.runtime.settings.data_dir.expanduser().resolve() / "keys" / f"operator-{usage}.p12",
                    roots=self.runtime.trusted_roots, at=await self.runtime.now(),
                )
            layer.choose(storage)

    # ---- 1-процесс: the operator logs in ----------------------------------------------------

    async def _renew(self, usage: str, layer: NCALayer) -> None:
        """The operator renews an expired key storage before using it."""
        path = self._storages.get(usage)
        if path is None:
            return
        renewed = await renewed_key_storage(self.runtime.http, self.runtime.url_of("signatures"), path,
                                            await self.runtime.now())
        if renewed != path:
            self._storages[usage] = renewed
            layer.choose(renewed)

    async def login(self) -> dict[str, Any]:
        await self._renew("auth", self.auth)
        challenge = secrets.token_bytes(32)
        answer = await self.auth.handle({"module": BASICS, "method": "sign", "args": {
            "format": "cms", "data": base64.b64encode(challenge).decode(),
            "signingParams": {"decode": True, "encapsulate": False},
            "signerParams": {"extKeyUsageOids": ["1.3.6.1.5.5.7.3.2"]}, "locale": "kk"}})
        if not answer.get("status"):
            raise FrontOfficeError(401, "login_refused", {"kk": "ЫАЖ АЖО-да авторизациялау сәтсіз",
                                                          "ru": "Авторизация в АРМ ИИС не удалась",
                                                          "en": f"Log-in at the workstation failed: {answer.get('code')}"})
        checked = await self.runtime.validator.cms(
            base64.b64decode(answer["body"]["result"][0]), challenge, at=await self.runtime.now(), usage="auth"
        )
        if not checked.valid:
            raise FrontOfficeError(401, "login_refused", {"kk": checked.verdict.message_kk,
                                                          "ru": checked.verdict.message_ru, "en": checked.verdict.message})
        signer = checked.verdict.signer or {}
        session = OperatorSession(id=str(uuid.uuid4()), iin=signer.get("iin", ""),
                                  name=signer.get("common_name", ""), created_us=to_us(await self.runtime.now()))
        async with self.runtime.db.session() as db:
            db.add(session)
            await db.commit()
        return {"session": session.id, "operator": session.name, "iin": session.iin}

    async def session_of(self, token: str | None) -> OperatorSession:
        if token:
            async with self.runtime.db.session() as db:
                found = await db.get(OperatorSession, token)
            if found:
                return found
        raise FrontOfficeError(401, "not_logged_in", {"kk": "Оператор ЫАЖ АЖО-ға кірмеген",
                                                      "ru": "Оператор не авторизован в АРМ ИИС",
                                                      "en": "The operator is not logged in"})

    async def ticket(self, reglament_id: str) -> dict[str, Any]:
        get_reglament(reglament_id).channel(CHANNEL)
        for _ in range(100):  # tickets taken at the same moment: the later one takes the next number
            async with self.runtime.db.session() as db:
                count = (await db.exec(select(func.count()).select_from(Ticket))).one()
                ticket = Ticket(number=f"Т-{count + 1:03d}", reglament=reglament_id,
                                issued_us=to_us(await self.runtime.now()))
                db.add(ticket)
                try:
                    await db.commit()
                    break
                except IntegrityError:
                    await db.rollback()
        return {"ticket": ticket.number, "issuedAt": to_local(from_us(ticket.issued_us)).isoformat()}

    # ---- the application, 1-шарт to 7-процесс -----------------------------------------------

    async def apply(self, session: OperatorSession, request: FrontRequest) -> dict[str, Any]:
        reglament = get_reglament(request.reglament)
        reglament.channel(CHANNEL)
        self._check_entries(request, reglament)
        async with self.runtime.db.session() as db:
            ticket = await db.get(Ticket, request.ticket)
            if ticket is None or ticket.used_by:
                raise FrontOfficeError(422, "invalid_request", {"kk": "Электрондық кезек талоны жарамсыз",
                                                                "ru": "Талон электронной очереди недействителен",
                                                                "en": "The electronic queue ticket is not valid"},
                                       field="ticket")
            application = FrontApplication(
                id=str(uuid.uuid4()), reglament=reglament.id, ticket=ticket.number, session_id=session.id,
                applicant_iin=request.applicant_iin,
                representative_iin=request.representative.iin if request.representative else None,
                status="in_front_office", created_us=to_us(await self.runtime.now()),
            )
            ticket.used_by = application.id
            db.add_all([application, ticket])
            await db.commit()
        trace = self._tracer(reglament, application.id)
        await trace("process-1", detail=f"оператор {session.name}", at=from_us(session.created_us))
        missing = [d for d in reglament.required_documents if d.code not in set(request.presented_documents)]
        if missing:
            await trace("condition-1", outcome="false", detail="жетіспейді: " + ", ".join(d.kk for d in missing))
            receipt = {"type": "refusal-receipt", "form": "Стандарттың 3-қосымшасы", **INCOMPLETE,
                       "missing": [d.model_dump() for d in missing]}
            await trace("process-2", detail=INCOMPLETE["kk"])
            return await self._finish(application.id, "rejected", receipt)
        await trace("condition-1", outcome="true", detail="құжаттар топтамасы толық")
        representative = request.representative
        await trace("process-3", detail="өкіл " + representative.iin if representative else "өтініш беруші өзі")
        await trace("process-4", detail="ЖТ МДҚ" + (", БНАЖ" if representative else "") + " сұрауы ЭҮШ арқылы")
        problem = await self._registry_problem(application.id, request, reglament)
        if problem:
            await trace("condition-2", outcome="false", detail=problem)
            await trace("process-5", detail=NO_DATA["kk"])
            return await self._finish(application.id, "rejected", {"type": "no-data-notice", **NO_DATA, "detail": problem})
        await trace("condition-2", outcome="true", detail="деректер бар" + (", сенімхат жарамды" if representative else ""))
        document = {
            "reglament": reglament.id,
            "applicant": {"iin": request.applicant_iin},
            "representative": {"iin": representative.iin, "powerOfAttorney": representative.power_of_attorney}
            if representative else None,
            "form": request.form,
            "attachments": [
                {"code": code, "name": f"{code}.pdf", "sha256": hashlib.sha256(f"scan {code} {application.id}".encode()).hexdigest()}
                for code in request.presented_documents
            ],
            "frontOffice": {"ticket": request.ticket, "operator": session.iin},
        }
        document = {k: v for k, v in document.items() if v is not None}
        signature = await self._operator_signs(document)
        await trace("process-6", detail=f"{len(document['attachments'])} құжат сканерленді, оператордың ЭЦҚ-сы қойылды")
        async with self.runtime.db.session() as db:
            stored = await db.get(FrontApplication, application.id)
            assert stored is not None
            stored.request_document, stored.request_signature = json.dumps(document, ensure_ascii=False), signature
            db.add(stored)
            await db.commit()
        await trace("process-7", detail=f"ЭҮШ арқылы {reglament.gateway.service_id} → ЭҮӨШ АЖО")
        try:
            reply = await self.runtime.gateway().send(
                reglament.gateway.service_id,
                {"applicationId": application.id, "reglament": reglament.id, "channel": CHANNEL,
                 "document": document, "signature": signature},
                route_id=reglament.gateway.route_id, correlation_id=application.id,
            )
        except GatewayFault as fault:
            await self._finish(application.id, "not_delivered", None)
            raise FrontOfficeError(502, "not_delivered", {"kk": "Сұрауды қызмет берушіге жеткізу мүмкін болмады",
                                                          "ru": "Запрос не удалось доставить услугодателю",
                                                          "en": "The request could not be delivered to the provider"},
                                   application=application.id, gateway_error=fault.code) from None
        registered = reply.responseData.data
        receipt = {"type": "acceptance-receipt", **ACCEPTED, "registrationNumber": registered["registrationNumber"],
                   "resultDue": registered["resultDue"], "ticket": request.ticket}
        return await self._finish(application.id, "in_progress", receipt, registration=registered["registrationNumber"])

    @staticmethod
    def _check_entries(request: FrontRequest, reglament: Reglament) -> None:
        """What the workstation's form offers: the reglament's document codes and queue lists."""
        for index, code in enumerate(request.presented_documents):
            if problem := reglament.unknown_document(code):
                raise FrontOfficeError(422, "invalid_request", problem, field=f"presented_documents[{index}]")
        queue_list = request.form.get("queueList")
        if queue_list is not None and (problem := reglament.unknown_queue_list(str(queue_list))):
            raise FrontOfficeError(422, "invalid_request", problem, field="form.queueList")

    async def _registry_problem(self, application_id: str, request: FrontRequest, reglament: Reglament) -> str | None:
        gateway = self.runtime.gateway()
        people = [request.applicant_iin] + ([request.representative.iin] if request.representative else [])
        for iin in people:
            try:
                await gateway.send("GBDFL_UniversalServiceSync", {"iin": iin}, correlation_id=application_id)
            except GatewayFault as fault:
                if fault.code == ErrorCode.PROVIDER_NOT_FOUND:
                    return f"ЖТ МДҚ-да {iin} ЖСН-і бойынша деректер жоқ"
                raise
        if request.representative:
            reply = await gateway.send("ENIS_PowerOfAttorneyCheck", {
                "number": request.representative.power_of_attorney, "principalIin": request.applicant_iin,
                "attorneyIin": request.representative.iin, "serviceId": reglament.gateway.service_id,
            }, correlation_id=application_id)
            status = reply.responseData.data["status"]
            if status != "valid":
                return f"БНАЖ: сенімхат {request.representative.power_of_attorney} — {status}"
        return None

    async def _operator_signs(self, document: dict[str, Any]) -> str:
        await self._renew("sign", self.sign)
        answer = await self.sign.handle({"module": BASICS, "method": "sign", "args": {
            "format": "cms", "data": base64.b64encode(canonical_json(document)).decode(),
            "signingParams": {"decode": True, "encapsulate": False},
            "signerParams": {"extKeyUsageOids": [SIGN_EKU]}, "locale": "kk"}})
        if not answer.get("status"):
            raise RuntimeError(f"the operator could not sign: {answer.get('code')}")
        return answer["body"]["result"][0]

    # ---- 10-процесс: the result reaches the front office and the applicant -----------------

    async def take_result(self, request: Incoming) -> dict[str, Any]:
        data = request.data if isinstance(request.data, dict) else {}
        application_id = str(data.get("applicationId", ""))
        if not isinstance(data.get("document"), dict) or not isinstance(data.get("signature"), str):
            raise ProviderError(ErrorCode.PROVIDER_REQUEST_INVALID, "document and signature are required")
        async with self.runtime.db.session() as db:
            application = await db.get(FrontApplication, application_id)
            if application is None:
                raise ProviderError(ErrorCode.PROVIDER_NOT_FOUND, f"no front-office application {application_id}")
            application.result_document = json.dumps(data["document"], ensure_ascii=False)
            application.result_signature = data["signature"]
            db.add(application)
            await db.commit()
        reglament = get_reglament(application.reglament)
        await self.hand_over(application_id, reglament)
        return {"applicationId": application_id, "received": True}

    async def hand_over(self, application_id: str, reglament: Reglament) -> None:
        async with self.runtime.db.session() as db:
            application = await db.get(FrontApplication, application_id)
            assert application is not None and application.result_document
            document = json.loads(application.result_document)
            application.handed_us = to_us(await self.runtime.now())
            application.status = "result"
            receipts = json.loads(application.receipts)
            receipts.append({"type": "result-handed", **HANDED, "at": to_local(from_us(application.handed_us)).isoformat()})
            application.receipts = json.dumps(receipts, ensure_ascii=False)
            db.add(application)
            await db.commit()
        await self._tracer(reglament, application_id)("process-10", detail=document.get("text", {}).get("kk", ""))

    # ---- helpers ---------------------------------------------------------------------------

    async def _finish(self, application_id: str, status: str, receipt: dict[str, Any] | None,
                      registration: str | None = None) -> dict[str, Any]:
        async with self.runtime.db.session() as db:
            application = await db.get(FrontApplication, application_id)
            assert application is not None
            application.status = status
            if registration:
                application.registration_number = registration
            if receipt:
                receipt["at"] = to_local(await self.runtime.now()).isoformat()
                application.receipts = json.dumps([*json.loads(application.receipts), receipt], ensure_ascii=False)
            db.add(application)
            await db.commit()
        return await self.view(application_id)

    async def view(self, application_id: str) -> dict[str, Any]:
        async with self.runtime.db.session() as db:
            application = await db.get(FrontApplication, application_id)
        if application is None:
            raise FrontOfficeError(404, "not_found", {"kk": "Өтініш табылмады", "ru": "Заявление не найдено",
                                                      "en": "No such application"})
        result = None
        if application.result_document and application.result_signature:
            document = json.loads(application.result_document)
            checked = await self.runtime.validator.cms(
                base64.b64decode(application.result_signature), canonical_json(document),
                at=await self.runtime.now(), usage="sign",
            )
            result = {"document": document, "signature": application.result_signature,
                      "verdict": checked.verdict.to_dict()}
        return {
            "id": application.id, "reglament": application.reglament, "ticket": application.ticket,
            "applicantIin": application.applicant_iin, "representativeIin": application.representative_iin,
            "status": application.status, "registrationNumber": application.registration_number,
            "createdAt": to_local(from_us(application.created_us)).isoformat(),
            "receipts": json.loads(application.receipts), "result": result,
            "notices": await self.notices_of(application_id),
        }

    def _tracer(self, reglament: Reglament, application_id: str):
        async def trace(step: str, *, outcome: str = "done", detail: str = "", at: datetime | None = None) -> None:
            await self.runtime.tracer.record(reglament, CHANNEL, step, system=SYSTEM, outcome=outcome,
                                             detail=detail, application_id=application_id, at=at)

        return trace

    # ---- notices outside the reglament's steps (GK_NotificationDelivery) ------------------

    async def take_notice(self, request: Incoming) -> dict[str, Any]:
        """A provider's signed decision for a front-office application, outside the reglament's
        numbered steps (e.g. the decision to provide housing): kept for the applicant with its signature."""
        data = request.data if isinstance(request.data, dict) else {}
        application_id = str(data.get("applicationId", ""))
        document, signature = data.get("document"), data.get("signature")
        if not isinstance(document, dict) or not isinstance(signature, str):
            raise ProviderError(ErrorCode.PROVIDER_REQUEST_INVALID, "document and signature are required")
        async with self.runtime.db.session() as db:
            if await db.get(FrontApplication, application_id) is None:
                raise ProviderError(ErrorCode.PROVIDER_NOT_FOUND, f"no front-office application {application_id}")
            notice = FrontNotice(
                application_id=application_id, kind=str(data.get("kind") or document.get("type") or "notice"),
                document=json.dumps(document, ensure_ascii=False), signature=signature,
                received_us=to_us(await self.runtime.now()),
            )
            db.add(notice)
            await db.commit()
            await db.refresh(notice)
        return {"applicationId": application_id, "notice": notice.id, "received": True}

    async def notices_of(self, application_id: str) -> list[dict[str, Any]]:
        """An application's notices, oldest first, each with its signature's verdict now."""
        async with self.runtime.db.session() as db:
            notices = (await db.exec(
                select(FrontNotice).where(FrontNotice.application_id == application_id).order_by(FrontNotice.id)
            )).all()
        shown = []
        for notice in notices:
            document = json.loads(notice.document)
            checked = await self.runtime.validator.cms(
                base64.b64decode(notice.signature), canonical_json(document), at=await self.runtime.now(), usage="sign",
            )
            shown.append({"id": notice.id, "kind": notice.kind, "receivedAt": to_local(from_us(notice.received_us)).isoformat(),
                          "document": document, "signature": notice.signature, "verdict": checked.verdict.to_dict()})
        return shown
