"""The State Corporation front office at the operator's workstation (ЫАЖ АЖО).

The operator logs in with the AUTH key (through the workstation's NCALayer), the applicant takes
an electronic queue ticket, and the operator enters what the applicant brought. From there the
reglament engine walks the channel of the reglament that starts at the front office, with the
operations of :mod:`corporation_ws.operations`: the package checked against the Standard, the
request form, the queries to ЖТ МДҚ and БНАЖ, the scanning and the operator's ЭЦҚ, the request
sent through ЭҮШ to the provider -- in whatever order the definition gives them. When the
provider's result comes back (``GK_ResultDelivery``) the engine takes the walk up again and the
result is handed to the applicant. This module keeps the workstation's records and answers the
operator; it names no step.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime
from importlib.resources import files
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, bindparam, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from corporation_ws.equeue import booking_problem
from corporation_ws.models import FrontApplication, FrontNotice, OperatorSession, Ticket
from corporation_ws.operations import DELIVERY_FAULT, OPERATIONS
from corporation_ws.schemas import FrontRequest, Representative
from corporation_ws.texts import ACCEPTED, HANDED
from gateway_protocol.errors import ErrorCode, GatewayFault
from gateway_protocol.provider import Incoming, ProviderError
from reglaments import Channel, Reglament, ReglamentError, get_reglament
from signatures.client import obtain_person_identity, renewed_key_storage
from signatures.jws import canonical_json
from signatures.ncalayer import BASICS, SIGN_EKU, NCALayer, person_key_storage
from simulation import yamltext
from simulation.calendar import to_local
from simulation.clock import from_us, to_us
from simulation.definition import Document
from simulation.engine import Engine, EngineError
from runtime import SystemRuntime
from runtime.notices import keep_notice, notices_of

SYSTEM = "corporation_ws"
STAFF = files(__package__) / "staff.yaml"
"""The front office's organisation and its operator (this package's ``staff.yaml``)."""

# The statements of the front office's hot paths, built once: every application takes a ticket,
# is taken, read by each of its steps and noted several times, and an ORM statement built at each
# call costs several times a prebuilt one (docs/performance.md, "Whole applications").
_APPLICATIONS = FrontApplication.__table__
_SESSIONS = OperatorSession.__table__
_TICKETS = Ticket.__table__
_AT_APPLICATION = _APPLICATIONS.c.id == bindparam("at_id")
_APPLICATION = select(_APPLICATIONS).where(_AT_APPLICATION)
_STATUS_OF = select(_APPLICATIONS.c.status).where(_AT_APPLICATION)
_NOTED = select(_APPLICATIONS.c.status, _APPLICATIONS.c.registration_number, _APPLICATIONS.c.handed_us,
                _APPLICATIONS.c.receipts).where(_AT_APPLICATION)
_ADD_APPLICATION = insert(_APPLICATIONS)
_CHANGE_APPLICATION = update(_APPLICATIONS).where(_AT_APPLICATION)  # SET: the columns given at execution
_STORE_REQUEST = update(_APPLICATIONS).where(_AT_APPLICATION).values(
    request_document=bindparam("new_document"), request_signature=bindparam("new_signature"))
_SESSION = select(_SESSIONS).where(_SESSIONS.c.id == bindparam("at_id"))
_ADD_SESSION = insert(_SESSIONS)
_TICKET = select(_TICKETS).where(_TICKETS.c.number == bindparam("at_number"))
_TICKETS_ISSUED = select(func.count()).select_from(_TICKETS)
_ADD_TICKET = insert(_TICKETS)
_USE_TICKET = update(_TICKETS).where(_TICKETS.c.number == bindparam("at_number")).values(
    used_by=bindparam("by_application"))
_APPLICATION_COLUMNS = tuple(column.name for column in _APPLICATIONS.columns)
_TICKET_COLUMNS = tuple(column.name for column in _TICKETS.columns)


def front_channel(reglament: Reglament, requested: str | None = None) -> Channel:
    """The channel of ``reglament`` taken at the front office: ``requested`` when given, else the
    first channel whose first step is the front office's. ReglamentError when there is none."""
    if requested is not None:
        channel = reglament.channel(requested)
        if channel.first.system != SYSTEM:
            raise ReglamentError(f"channel {channel.name!r} of {reglament.id} starts at {channel.first.label}, "
                                 f"a step of {channel.first.system}, not at the State Corporation's front office")
        return channel
    for channel in reglament.channels.values():
        if channel.first.system == SYSTEM:
            return channel
    raise ReglamentError(f"reglament {reglament.id!r} has no channel that starts at the State Corporation's "
                         f"front office (its channels: {', '.join(reglament.channels)})")


@dataclass
class Taken:
    """An application as taken at the front office: its record, what the operator entered, and
    the operator who took it."""

    application: FrontApplication
    request: FrontRequest
    operator: OperatorSession


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
        self._engine: Engine | None = None

    async def start(self) -> None:
        """The operator's key storages, on the workstation's NCALayer; the front office's engine."""
        self._engine = self.runtime.engine(OPERATIONS, self)
        staff = yamltext.safe_load(STAFF.read_text(encoding="utf-8"))
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
                    admin_token=self.runtime.credentials.admin_token,  # issuing a key needs the run's admin
                )
            layer.choose(storage)

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            raise RuntimeError("the front office has not started")
        return self._engine

    # ---- the operator logs in ----------------------------------------------------------------

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
        values = {"id": session.id, "iin": session.iin, "name": session.name, "created_us": session.created_us}
        await self.runtime.db.run(lambda connection: connection.execute(_ADD_SESSION, values))
        return {"session": session.id, "operator": session.name, "iin": session.iin}

    async def session_of(self, token: str | None) -> OperatorSession:
        if token:
            found = await self.runtime.db.run(
                lambda connection: connection.execute(_SESSION, {"at_id": token}).mappings().first(), write=False)
            if found:
                return OperatorSession(**found)
        raise FrontOfficeError(401, "not_logged_in", {"kk": "Оператор ЫАЖ АЖО-ға кірмеген",
                                                      "ru": "Оператор не авторизован в АРМ ИИС",
                                                      "en": "The operator is not logged in"})

    async def ticket(self, reglament_id: str) -> dict[str, Any]:
        front_channel(get_reglament(reglament_id))
        def issue(connection: Connection, issued_us: int) -> Ticket:
            count = connection.execute(_TICKETS_ISSUED).scalar_one()
            ticket = Ticket(number=f"Т-{count + 1:03d}", reglament=reglament_id, issued_us=issued_us)
            connection.execute(_ADD_TICKET, {column: getattr(ticket, column) for column in _TICKET_COLUMNS})
            return ticket

        for attempt in range(100):  # tickets taken at the same moment: the later one takes the next number
            issued_us = to_us(await self.runtime.now())
            try:
                ticket = await self.runtime.db.run(lambda connection: issue(connection, issued_us))
                break
            except IntegrityError:
                if attempt == 99:
                    raise
        return {"ticket": ticket.number, "issuedAt": to_local(from_us(ticket.issued_us)).isoformat()}

    # ---- an application: taken here, then walked by the engine ------------------------------

    async def apply(self, session: OperatorSession, request: FrontRequest) -> dict[str, Any]:
        reglament = get_reglament(request.reglament)
        try:
            channel = front_channel(reglament, request.channel)
        except ReglamentError as exc:
            if request.channel is None:
                raise
            raise FrontOfficeError(422, "invalid_request", {
                "kk": f"Бұл арна Мемлекеттік корпорацияда басталмайды: {request.channel}",
                "ru": f"Этот канал не начинается в Госкорпорации: {request.channel}",
                "en": str(exc)}, field="channel") from None
        self._check_entries(request, reglament)
        application_id, created_us = str(uuid.uuid4()), to_us(await self.runtime.now())

        def take(connection: Connection) -> FrontApplication:  # the ticket checked and used in one transaction
            ticket = connection.execute(_TICKET, {"at_number": request.ticket}).first()
            if ticket is not None and (problem := booking_problem(ticket, request.applicant_iin)):
                raise FrontOfficeError(422, "invalid_request", {"kk": "Талон басқа өтініш берушіге брондалған",
                                                                "ru": "Талон забронирован другим заявителем",
                                                                "en": f"The electronic queue ticket: {problem}"},
                                       field="ticket")
            if ticket is None or ticket.used_by:
                raise FrontOfficeError(422, "invalid_request", {"kk": "Электрондық кезек талоны жарамсыз",
                                                                "ru": "Талон электронной очереди недействителен",
                                                                "en": "The electronic queue ticket is not valid"},
                                       field="ticket")
            application = FrontApplication(
                id=application_id, reglament=reglament.id, ticket=ticket.number, session_id=session.id,
                applicant_iin=request.applicant_iin,
                representative_iin=request.representative.iin if request.representative else None,
                entry=request.model_dump_json(), status="in_front_office", created_us=created_us,
            )
            # as the ORM's flush did: the application inserted, then the ticket marked used
            connection.execute(_ADD_APPLICATION, {column: getattr(application, column)
                                                  for column in _APPLICATION_COLUMNS})
            connection.execute(_USE_TICKET, {"at_number": ticket.number, "by_application": application.id})
            return application

        application = await self.runtime.db.run(take)
        inputs: dict[str, Any] = {"taken": Taken(application, request, session)}
        await self.engine.start(reglament, channel.name, application_id=application.id, inputs=inputs)
        view = await self.view(application.id)
        if view["status"] == "not_delivered":
            raise FrontOfficeError(502, "not_delivered", {"kk": "Сұрауды қызмет берушіге жеткізу мүмкін болмады",
                                                          "ru": "Запрос не удалось доставить услугодателю",
                                                          "en": "The request could not be delivered to the provider"},
                                   application=application.id, gateway_error=inputs.get(DELIVERY_FAULT))
        return view

    @staticmethod
    def _check_entries(request: FrontRequest, reglament: Reglament) -> None:
        """What the workstation's form offers: the reglament's document codes and queue lists."""
        for index, code in enumerate(request.presented_documents):
            if problem := reglament.unknown_document(code):
                raise FrontOfficeError(422, "invalid_request", problem, field=f"presented_documents[{index}]")
        queue_list = request.form.get("queueList")
        if queue_list is not None and (problem := reglament.unknown_queue_list(str(queue_list))):
            raise FrontOfficeError(422, "invalid_request", problem, field="form.queueList")

    # ---- what the operations work with ------------------------------------------------------

    async def taken(self, application_id: str) -> Taken:
        """An application as taken here, read from the workstation's records."""
        def read(connection: Connection) -> tuple[FrontApplication, Any]:
            found = connection.execute(_APPLICATION, {"at_id": application_id}).mappings().first()
            if found is None:
                raise LookupError(f"no front-office application {application_id}")
            application = FrontApplication(**found)
            return application, connection.execute(_SESSION, {"at_id": application.session_id}).mappings().first()

        application, operator = await self.runtime.db.run(read, write=False)
        if operator is None:
            raise LookupError(f"application {application_id}: no operator session {application.session_id}")
        return Taken(application, FrontRequest.model_validate_json(application.entry), OperatorSession(**operator))

    @staticmethod
    def missing_documents(reglament: Reglament, request: FrontRequest) -> list[Document]:
        """The documents the Standard asks for on the request's queue list that were not presented."""
        presented = set(request.presented_documents)
        return [d for d in reglament.documents_for(request.form.get("queueList")) if d.code not in presented]

    async def note(self, application_id: str, at: datetime | None, *, status: str | None = None,
                   receipt: dict[str, Any] | None = None, registration: str | None = None,
                   handed: bool = False) -> None:
        """Write down what happened to an application at ``at`` (now if None): its status, a
        receipt for the applicant, the provider's registration number, the result handed over."""
        at = at or await self.runtime.now()
        stamp = to_local(at).isoformat()  # the receipt's time, set on the caller's dict once written

        def write(connection: Connection) -> None:  # read and changed in one transaction
            application = connection.execute(_NOTED, {"at_id": application_id}).first()
            if application is None:
                raise LookupError(f"no front-office application {application_id}")
            changed: dict[str, Any] = {}  # the columns whose values change, and only those (as a flush)
            if status and status != application.status:
                changed["status"] = status
            if registration and registration != application.registration_number:
                changed["registration_number"] = registration
            if handed and to_us(at) != application.handed_us:
                changed["handed_us"] = to_us(at)
            if receipt:
                changed["receipts"] = json.dumps([*json.loads(application.receipts), {**receipt, "at": stamp}],
                                                 ensure_ascii=False)
            if changed:
                connection.execute(_CHANGE_APPLICATION, {"at_id": application_id, **changed})

        await self.runtime.db.run(write)
        if receipt:
            receipt["at"] = stamp

    def _request_document(self, taken: Taken, reglament: Reglament, *, scanned: bool) -> dict[str, Any]:
        request, application = taken.request, taken.application
        representative: Representative | None = request.representative
        document: dict[str, Any] = {
            "reglament": reglament.id,
            "applicant": {"iin": request.applicant_iin},
            "representative": {"iin": representative.iin, "powerOfAttorney": representative.power_of_attorney}
            if representative else None,
            "form": request.form,
            "attachments": [
                {"code": code, "name": f"{code}.pdf",
                 "sha256": hashlib.sha256(f"scan {code} {application.id}".encode()).hexdigest()}
                for code in request.presented_documents
            ] if scanned else None,
            "frontOffice": {"ticket": application.ticket, "operator": taken.operator.iin},
        }
        return {k: v for k, v in document.items() if v is not None}

    async def _store_request(self, taken: Taken, document: dict[str, Any], signature: str | None) -> None:
        stored = json.dumps(document, ensure_ascii=False)
        values = {"at_id": taken.application.id, "new_document": stored, "new_signature": signature}

        def write(connection: Connection) -> None:
            assert connection.execute(_STORE_REQUEST, values).rowcount == 1

        await self.runtime.db.run(write)
        taken.application.request_document, taken.application.request_signature = stored, signature

    async def fill_in(self, taken: Taken, reglament: Reglament) -> dict[str, Any]:
        """The request form with the applicant's (and the representative's) data, not yet scanned
        nor signed; a request already signed stays as it is."""
        current = await self.taken(taken.application.id)
        if current.application.request_signature:
            return json.loads(current.application.request_document or "{}")
        document = self._request_document(taken, reglament, scanned=False)
        await self._store_request(taken, document, None)
        return document

    async def scan_and_sign(self, taken: Taken, reglament: Reglament) -> tuple[dict[str, Any], str]:
        """The presented documents scanned and attached to the form, signed with the operator's ЭЦҚ."""
        document = self._request_document(taken, reglament, scanned=True)
        signature = await self._operator_signs(document)
        await self._store_request(taken, document, signature)
        return document, signature

    async def signed_request(self, taken: Taken, reglament: Reglament) -> tuple[dict[str, Any], str, bool]:
        """The signed request as it stands; scanned and signed now when nothing was signed yet
        (the third value says so)."""
        current = await self.taken(taken.application.id)
        if current.application.request_document and current.application.request_signature:
            return json.loads(current.application.request_document), current.application.request_signature, False
        document, signature = await self.scan_and_sign(taken, reglament)
        return document, signature, True

    async def registry_problem(self, taken: Taken, reglament: Reglament) -> str | None:
        """Why ЖТ МДҚ or БНАЖ does not confirm the applicant (and the representative's power of
        attorney), in Kazakh for the trace; None when they do."""
        request, application_id = taken.request, taken.application.id
        gateway = self.runtime.gateway()
        people = [request.applicant_iin] + ([request.representative.iin] if request.representative else [])
        for iin in people:
            try:
                await gateway.send("GBDFL_UniversalServiceSync", {"iin": iin}, correlation_id=application_id)
            except GatewayFault as fault:
                if fault.code == ErrorCode.PROVIDER_NOT_FOUND:
                    return f"ЖТ МДҚ-да {iin} ЖСН-і бойынша деректер жоқ"
                return f"ЖТ МДҚ жауап бермеді ({fault.code})"
        if request.representative:
            try:
                reply = await gateway.send("ENIS_PowerOfAttorneyCheck", {
                    "number": request.representative.power_of_attorney, "principalIin": request.applicant_iin,
                    "attorneyIin": request.representative.iin, "serviceId": reglament.gateway.service_id,
                }, correlation_id=application_id)
            except GatewayFault as fault:
                return f"БНАЖ жауап бермеді ({fault.code})"
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

    async def send_request(self, reglament: Reglament, channel: str, application_id: str,
                           document: dict[str, Any], signature: str, carried: dict[str, Any] | None = None) -> None:
        """The signed request through ЭҮШ to the provider (with what travels with it, ``carried``:
        a courier's delivery register, printed papers); its registration number and due date go
        on the acceptance receipt. GatewayFault when it is not delivered."""
        reply = await self.runtime.gateway().send(
            reglament.gateway.service_id,
            {"applicationId": application_id, "reglament": reglament.id, "channel": channel,
             "document": document, "signature": signature, **(carried or {})},
            route_id=reglament.gateway.route_id, correlation_id=application_id,
        )
        registered = reply.responseData.data
        receipt = {"type": "acceptance-receipt", **ACCEPTED, "registrationNumber": registered["registrationNumber"],
                   "resultDue": registered["resultDue"], "ticket": document.get("frontOffice", {}).get("ticket")}
        handed_already = await self.runtime.db.run(
            lambda connection: connection.execute(_STATUS_OF, {"at_id": application_id}).scalar(),
            write=False) == "result"
        await self.note(application_id, None, status=None if handed_already else "in_progress", receipt=receipt,
                        registration=registered["registrationNumber"])

    # ---- the result reaches the front office and the applicant ------------------------------

    async def take_result(self, request: Incoming) -> dict[str, Any]:
        data = request.data if isinstance(request.data, dict) else {}
        application_id = str(data.get("applicationId", ""))
        if not isinstance(data.get("document"), dict) or not isinstance(data.get("signature"), str):
            raise ProviderError(ErrorCode.PROVIDER_REQUEST_INVALID, "document and signature are required")
        application = await self._application(application_id)
        if application is None:
            raise ProviderError(ErrorCode.PROVIDER_NOT_FOUND, f"no front-office application {application_id}")
        if (application.result_signature == data["signature"] and application.result_document
                and json.loads(application.result_document) == data["document"]):
            # the same result again: the provider tried again after an answer was lost on the way
            return {"applicationId": application_id, "received": True, "already": True}
        reglament = get_reglament(application.reglament)
        try:
            channel = reglament.channel(str(data["channel"])) if data.get("channel") else front_channel(reglament)
        except ReglamentError as exc:
            raise ProviderError(ErrorCode.PROVIDER_REQUEST_INVALID, str(exc)) from None
        position = await self.engine.position(application_id=application_id)
        if position is not None and not position.done and position.system != SYSTEM:
            raise ProviderError(ErrorCode.PROVIDER_REFUSED, f"application {application_id} takes no result now: "
                                                            f"its walk stands at a step of {position.system}")
        changed: dict[str, Any] = {"result_document": json.dumps(data["document"], ensure_ascii=False),
                                   "result_signature": data["signature"]}
        ended = position is not None and position.done
        if ended:
            # the channel ended at the provider's step (a refusal it sends on): the result is
            # the applicant's to collect, no step of the front office follows
            changed["status"] = "result"

        def write(connection: Connection) -> None:
            assert connection.execute(_CHANGE_APPLICATION, {"at_id": application_id, **changed}).rowcount == 1

        await self.runtime.db.run(write)
        if ended:
            return {"applicationId": application_id, "received": True}
        try:
            await self.engine.take_up(reglament, channel.name, application_id=application_id,
                                      inputs={"result": data})
        except EngineError as exc:
            raise ProviderError(ErrorCode.PROVIDER_REFUSED, str(exc)) from None
        return {"applicationId": application_id, "received": True}

    async def hand_over(self, application_id: str, at: datetime) -> str:
        """The provider's result handed to the applicant at ``at``: the receipt, and the result's
        Kazakh text for the trace. A definition may give the employee's handing out and the
        applicant's receiving as two steps: the result is handed over once, at the first."""
        application = await self._application(application_id)
        if application is None or not application.result_document:
            raise LookupError(f"application {application_id}: no result from the provider to hand over")
        document = json.loads(application.result_document)
        if application.handed_us is None:
            await self.note(application_id, at, status="result", receipt={"type": "result-handed", **HANDED},
                            handed=True)
        text = document.get("text")
        return text.get("kk", "") if isinstance(text, dict) else ""

    # ---- helpers ---------------------------------------------------------------------------

    async def _application(self, application_id: str) -> Any:
        """An application's row (its columns as attributes), None when there is none."""
        return await self.runtime.db.run(
            lambda connection: connection.execute(_APPLICATION, {"at_id": application_id}).first(), write=False)

    async def view(self, application_id: str) -> dict[str, Any]:
        application = await self._application(application_id)
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

    # ---- notices outside the reglament's steps (GK_NotificationDelivery) ------------------

    async def take_notice(self, request: Incoming) -> dict[str, Any]:
        """A provider's signed decision for an application, outside the reglament's numbered steps
        (e.g. the decision to provide housing): kept for the applicant with its signature."""
        return await keep_notice(self.runtime, request, applications=FrontApplication, notices=FrontNotice)

    async def notices_of(self, application_id: str) -> list[dict[str, Any]]:
        """An application's notices, oldest first, each with its signature's verdict now."""
        return await notices_of(self.runtime, FrontNotice, application_id)

    # ---- papers printed from the registries and the courier's delivery register -------------

    async def print_papers(self, taken: Taken, *, family: bool = True, address_reference: bool = True,
                           declared_field: str = "familyMembers") -> tuple[list[dict[str, Any]], list[str]]:
        """The operator obtains through ЭҮШ, and prints, the identity documents of the applicant
        and (``family``) of the family members living with them -- relatives on record in ЖТ МДҚ
        registered at the applicant's current address, and those the form declares under
        ``declared_field`` -- and (``address_reference``) the address reference from the address
        registry. The printed papers, and what could not be obtained (Kazakh, for the trace)."""
        request, application_id = taken.request, taken.application.id
        gateway = self.runtime.gateway()

        async def ask(service_id: str, iin: str) -> dict[str, Any] | None:
            try:
                reply = await gateway.send(service_id, {"iin": iin}, correlation_id=application_id)
            except GatewayFault as fault:
                if fault.code == ErrorCode.PROVIDER_NOT_FOUND:
                    return None
                raise
            return reply.responseData.data

        def printed(kind: str, iin: str, content: dict[str, Any]) -> dict[str, Any]:
            digest = hashlib.sha256(canonical_json({"kind": kind, "iin": iin, **content})).hexdigest()
            return {"kind": kind, "iin": iin, **content, "sha256": digest}

        papers: list[dict[str, Any]] = []
        missing: list[str] = []
        applicant = ((await ask("GBDFL_UniversalServiceSync", request.applicant_iin)) or {}).get("person")
        addresses = await ask("AR_AddressRegistrationHistory", request.applicant_iin) if (family or address_reference) else None
        members: dict[str, str] = {}
        if family:
            here = {r.get("iin") for r in (addresses or {}).get("registeredPersons") or [] if isinstance(r, dict)}
            for relation in (applicant or {}).get("familyRelations") or []:
                iin = relation.get("iin") if isinstance(relation, dict) else None
                if iin and iin != request.applicant_iin and iin in here:
                    members.setdefault(iin, "relative")
            for listed in request.form.get(declared_field) or []:
                iin = listed.get("iin") if isinstance(listed, dict) else listed
                if isinstance(iin, str) and iin and iin != request.applicant_iin:
                    members.setdefault(iin, "declared")
        people = [(request.applicant_iin, "applicant", applicant)]
        for iin, why in members.items():
            person = ((await ask("GBDFL_UniversalServiceSync", iin)) or {}).get("person")
            people.append((iin, why, person))
        for iin, role, person in people:
            if person is None:
                missing.append(f"{iin} ЖСН-і ЖТ МДҚ-да жоқ")
                continue
            documents = [d for d in person.get("documents") or [] if isinstance(d, dict)]
            papers.append(printed("identity-document", iin, {
                "role": role,
                "fullName": " ".join(p for p in (person.get("surname"), person.get("name"), person.get("patronymic")) if p),
                "documents": [{"type": d.get("type"), "number": d.get("number"), "beginDate": d.get("beginDate"),
                               "endDate": d.get("endDate"), "status": d.get("status")} for d in documents],
            }))
        if address_reference:
            if addresses is None:
                missing.append("мекенжай анықтамасы алынбады")
            else:
                papers.append(printed("address-reference", request.applicant_iin, {
                    "currentAddress": addresses.get("currentAddress"),
                    "registeredPersons": addresses.get("registeredPersons") or [],
                }))
        return papers, missing

    async def delivery_register(self, taken: Taken, reglament: Reglament, run: datetime, courier: str,
                                document: dict[str, Any], papers: list[dict[str, Any]]) -> dict[str, Any]:
        """The delivery register (реестр) the courier carries to the provider with the application
        and its papers, signed for the State Corporation with the operator's ЭЦҚ; kept with the
        application's receipts. Each application travels with its own sheet of the run's register."""
        local = to_local(run)
        sheet = hashlib.sha256(taken.application.id.encode()).hexdigest()[:6].upper()
        register = {
            "type": "delivery-register",
            "number": f"GK-{reglament.gateway.route_id.upper()}-{local:%Y%m%d-%H%M}-{sheet}",
            "date": local.date().isoformat(),
            "run": local.isoformat(),
            "courier": courier,
            "reglament": reglament.id,
            "from": {"name": self.operator["organisation"], "bin": self.operator["bin"]},
            "to": {"name": reglament.provider.organisation.name, "bin": reglament.provider.organisation.bin},
            "applications": [{
                "applicationId": taken.application.id,
                "ticket": taken.application.ticket,
                "applicantIin": taken.request.applicant_iin,
                "application": {"sha256": hashlib.sha256(canonical_json(document)).hexdigest(),
                                "attachments": [a.get("code") for a in document.get("attachments") or []]},
                "papers": [{"kind": p["kind"], "iin": p["iin"], "sha256": p["sha256"]} for p in papers],
            }],
        }
        signature = await self._operator_signs(register)
        carried = {"document": register, "signature": signature, "signedBy": self.operator["iin"]}
        await self.note(taken.application.id, run, receipt={"type": "delivery-register", "kk": "Жеткізу тізілімі",
                                                             "ru": "Реестр доставки", "en": "Delivery register",
                                                             **carried})
        return carried
