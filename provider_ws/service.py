"""The provider workstation's service: it registers what the gateways bring and works each case
as its reglament's definition says, for every reglament whose provider it is.

Which reglaments those are, their serviceIds, regional gateways, registration prefixes,
organisations and heads all come from the definitions (``provider.system: provider_ws``). The
reglament engine walks the steps and times the staff procedures; the operations
(:mod:`provider_ws.operations`) call the methods below.
"""

from __future__ import annotations

import base64
import hashlib
import json
import uuid
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, bindparam, delete, func, insert, update
from sqlalchemy import select as core_select
from sqlalchemy.exc import IntegrityError

from gateway_protocol.client import GatewayClient
from gateway_protocol.errors import ErrorCode
from gateway_protocol.provider import Incoming, ProviderError
from provider_ws.decision import CaseFacts, approved_result, check_grounds, gateway_ask
import provider_ws.certificate  # noqa: F401 -- registers its rule set
from provider_ws.models import CaseRecord, DeliveryRegister, QueueEntry
from provider_ws.operations import OPERATIONS, RECEIPT_KEY
import provider_ws.privatization  # noqa: F401 -- registers its rule set
from reglaments import Reglament, ReglamentError, all_reglaments, get_reglament
from signatures.certificates import Role
from signatures.client import obtain_person_identity, renewed_key_storage
from signatures.jws import canonical_json
from signatures.ncalayer import BASICS, SIGN_EKU, NCALayer, person_key_storage
from simulation.calendar import term_end, to_local
from simulation.clock import from_us, to_us
from simulation.definition import Channel, Step, StepKind
from simulation.engine import EngineError, Position
from simulation.identifiers import IdentifierError, validate_iin
from simulation.topology import regional_gateway
from runtime import SystemRuntime

SYSTEM = "provider_ws"

# The statements of a case's hot paths, built once: every application's case is registered,
# read at every step, updated several times, and an ORM statement built at each call costs
# several times a prebuilt one (docs/performance.md, "Whole applications").
_CASES = CaseRecord.__table__
_CASE_COLUMNS = tuple(column.name for column in _CASES.columns)
_CASE = core_select(_CASES).where(_CASES.c.application_id == bindparam("of_application"))
_ADD_CASE = insert(_CASES)
_REMOVE_CASE = delete(_CASES).where(_CASES.c.registration_number == bindparam("at_registration"))
_UPDATE_CASE = update(_CASES).where(_CASES.c.application_id == bindparam("at_application")).returning(
    *_CASES.columns)
"""A case's UPDATE, returning the row: its SET names the columns given at execution (SQLAlchemy
compiles it once for each set of them)."""
_QUEUE = QueueEntry.__table__
_ENTRY_OF = core_select(_QUEUE).where(_QUEUE.c.application_id == bindparam("of_application"))
_QUEUE_COLUMNS = tuple(_QUEUE.columns.keys())
_LAST_PLACE = core_select(func.max(_QUEUE.c.sequence_number)).where(
    _QUEUE.c.reglament == bindparam("of_reglament"), _QUEUE.c.queue_list == bindparam("of_list"))
_ADD_ENTRY = insert(_QUEUE)
_QUEUED_EARLIER = (
    core_select(_QUEUE, _CASES)
    .join(_CASES, _CASES.c.application_id == _QUEUE.c.application_id)
    .where(_CASES.c.applicant_iin == bindparam("of_iin"), _QUEUE.c.reglament == bindparam("of_reglament"),
           _QUEUE.c.queue_list == bindparam("of_list"), _QUEUE.c.application_id != bindparam("other_than"))
    .limit(1)
)
"""An applicant's place on a list taken by another application of theirs: the entry's columns,
then its case's."""
_REGISTERS = DeliveryRegister.__table__
_ADD_REGISTER = insert(_REGISTERS)
_UNRECEIVED_REGISTER = (
    core_select(_REGISTERS)
    .where(_REGISTERS.c.application_id == bindparam("of_application"), _REGISTERS.c.receipt.is_(None))
    .order_by(_REGISTERS.c.id).limit(1)
)
_REGISTERS_OF = core_select(_REGISTERS).where(_REGISTERS.c.application_id == bindparam("of_application")).order_by(
    _REGISTERS.c.id)
_RECEIVE_REGISTER = update(_REGISTERS).where(_REGISTERS.c.id == bindparam("at_id")).values(
    verdict=bindparam("new_verdict"), receipt=bindparam("new_receipt"),
    receipt_signature=bindparam("new_receipt_signature"))


class StaffError(Exception):
    """A staff action that cannot be done: HTTP status and why."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def provided_reglaments() -> list[Reglament]:
    """The reglaments whose provider this workstation is (``provider.system`` of the definition)."""
    return [r for r in all_reglaments().values() if r.provider.system == SYSTEM]


def already_queued_ground(reglament, entry: QueueEntry, earlier: CaseRecord) -> dict[str, str]:
    """Why a second application for the same list is refused: it names the registration that
    already holds the applicant's place."""
    queue = reglament.queue_list(entry.queue_list)
    names = {lang: getattr(queue, lang) if queue else entry.queue_list for lang in ("kk", "ru", "en")}
    since = to_local(from_us(entry.filed_us)).date().isoformat()
    number, place = earlier.registration_number, entry.sequence_number
    return {
        "code": "already-queued",
        "kk": f"өтініш беруші «{names['kk']}» тізімінде {since} бастап есепте тұр: "
              f"кезектің реттік нөмірі – {place}, тіркеу нөмірі {number}",
        "ru": f"заявитель уже состоит на учёте в списке «{names['ru']}» с {since}: "
              f"порядковый номер очереди – {place}, регистрационный номер {number}",
        "en": f"the applicant already stands on the list \"{names['en']}\" since {since}: "
              f"sequence number {place}, registration number {number}",
    }


async def rules_ground(gateway: GatewayClient, reglament: Reglament, case: CaseRecord, at: datetime) -> dict[str, str] | None:
    """The first ground for refusal the reglament's rule set finds (``reglament.decision``), or None."""
    if reglament.decision is None:
        raise RuntimeError(f"reglament {reglament.id} names no rule set (`decision`) for the provider's check")
    params = dict(reglament.decision)
    rules = str(params.pop("rules", ""))
    ground, _ = await check_grounds(
        rules, params, ask=gateway_ask(gateway, case.application_id), reglament=reglament,
        application_id=case.application_id, iin=case.applicant_iin, document=json.loads(case.request_document), at=at,
    )
    return ground.as_dict() if ground else None


def staff_ground(ground: Any) -> dict[str, str]:
    """An executor's own ground for refusal, as the manual API takes it ({"kk": …, "ru": …, "en": …})."""
    if not isinstance(ground, dict) or not ground.get("kk"):
        raise StaffError(422, "a refusal needs its ground: {\"kk\": …, \"ru\": …, \"en\": …}")
    return {"code": str(ground.get("code", "executor")), "kk": ground["kk"],
            "ru": ground.get("ru", ground["kk"]), "en": ground.get("en", ground["kk"])}


@dataclass
class Head:
    """The head of one provider organisation at their computer: NCALayer with the SIGN key chosen."""

    ncalayer: NCALayer
    storage: Path | None
    """The seeded key storage (renewed when it expires), or None for a key the CA issued at start."""


class ProviderWorkstation:
    def __init__(self, runtime: SystemRuntime) -> None:
        self.runtime = runtime
        self.manual = runtime.settings.provider_mode == "manual"
        manual = self.manual
        self.engine = runtime.engine(
            OPERATIONS, self,
            works_by_hand=lambda step: manual and step.kind is StepKind.action and step.system == SYSTEM,
        )
        self._heads: dict[str, Head] = {}
        """By the head's ЖСН."""

    @staticmethod
    def service_ids() -> set[str]:
        """The serviceIds of every reglament this workstation provides."""
        return {r.gateway.service_id for r in provided_reglaments()}

    def gateway_of(self, reglament: Reglament) -> GatewayClient:
        """A client sending through the reglament's regional gateway."""
        return self.runtime.gateway(regional_gateway(reglament.gateway.route_id))

    async def deliver(self, reglament: Reglament, service_id: str, data: dict[str, Any]) -> None:
        """A result or a notice of the case ``data["applicationId"]`` through the reglament's
        regional gateway, tried again in virtual time while the way is down (:mod:`runtime.outbox`)."""
        await self.runtime.deliver(service_id, data, correlation_id=data.get("applicationId"),
                                   via=regional_gateway(reglament.gateway.route_id))

    # ---- the heads who sign -------------------------------------------------------------------

    async def start(self) -> None:
        """Each provider organisation's head takes their SIGN key: a seeded key storage, else one
        the certification authority issues now."""
        data_dir = self.runtime.settings.data_dir
        for reglament in provided_reglaments():
            head, organisation = reglament.provider.head, reglament.provider.organisation
            if head.iin in self._heads:
                continue
            ncalayer = NCALayer(self.runtime.now)
            seeded = person_key_storage(data_dir, head.iin, "sign")
            if seeded is not None:
                ncalayer.choose(seeded)
                self._heads[head.iin] = Head(ncalayer, seeded)
                continue
            identity = await obtain_person_identity(
                self.runtime.http,
                self.runtime.url_of("signatures"),
                {
                    **head.model_dump(),
                    "organisation": organisation.name,
                    "bin": organisation.bin,
                    "roles": [Role.FIRST_HEAD.value],
                    "usage": "sign",
                },
                key_file=data_dir.expanduser().resolve() / "keys" / f"{SYSTEM}-head-{head.iin}.p12",
                roots=self.runtime.trusted_roots,
                at=await self.runtime.now(),
                admin_token=self.runtime.credentials.admin_token,  # issuing a key needs the run's admin
            )
            ncalayer.choose(identity)
            self._heads[head.iin] = Head(ncalayer, None)

    async def sign(self, document: dict[str, Any]) -> str:
        """The head of the document's reglament (``document["reglament"]``) signs it in NCALayer
        with their SIGN key: detached CMS, base64. An expired seeded key is renewed first."""
        reglament = get_reglament(str(document.get("reglament")))
        head = self._heads.get(reglament.provider.head.iin)
        if head is None:
            raise RuntimeError(f"{SYSTEM} holds no key of the head of {reglament.provider.organisation.name}")
        if head.storage is not None:
            renewed = await renewed_key_storage(
                self.runtime.http, self.runtime.url_of("signatures"), head.storage, await self.runtime.now()
            )
            if renewed != head.storage:
                head.storage = renewed
                head.ncalayer.choose(renewed)
        answer = await head.ncalayer.handle({
            "module": BASICS,
            "method": "sign",
            "args": {
                "format": "cms",
                "data": base64.b64encode(canonical_json(document)).decode(),
                "signingParams": {"decode": True, "encapsulate": False},
                "signerParams": {"extKeyUsageOids": [SIGN_EKU], "bin": reglament.provider.organisation.bin},
                "locale": "kk",
            },
        })
        if not answer.get("status"):
            raise RuntimeError(f"the head could not sign: {answer.get('code')}: {answer.get('message')}")
        return answer["body"]["result"][0]

    # ---- a request arrives -------------------------------------------------------------------

    async def register(self, request: Incoming) -> dict[str, Any]:
        """A request relayed by a regional gateway: registered, and its reglament's walk taken up."""
        data = request.data if isinstance(request.data, dict) else {}
        try:
            reglament = get_reglament(str(data.get("reglament")))
            channel = reglament.channel(str(data.get("channel")))
        except ReglamentError as exc:
            raise ProviderError(ErrorCode.PROVIDER_REQUEST_INVALID, str(exc)) from None
        if reglament.provider.system != SYSTEM or reglament.gateway.service_id != request.info.serviceId:
            raise ProviderError(
                ErrorCode.PROVIDER_REQUEST_INVALID,
                f"reglament {reglament.id} is not served by {SYSTEM} under {request.info.serviceId}",
            )
        if not channel.result_service:
            raise ProviderError(
                ErrorCode.PROVIDER_REQUEST_INVALID,
                f"channel {channel.name} of {reglament.id} names no result_service to send the result to",
            )
        document, signature = data.get("document"), data.get("signature")
        application_id = data.get("applicationId")
        if not isinstance(document, dict) or not isinstance(signature, str) or not application_id:
            raise ProviderError(
                ErrorCode.PROVIDER_REQUEST_INVALID,
                "applicationId, document and signature are required",
            )
        try:
            iin = validate_iin(str((document.get("applicant") or {}).get("iin", "")), "document.applicant.iin")
        except IdentifierError as exc:
            raise ProviderError(ErrorCode.PROVIDER_REQUEST_INVALID, str(exc), data={"field": exc.field}) from None
        now = await self.runtime.now()
        registration = f"{reglament.provider.registration_prefix}-{to_local(now):%Y%m%d}-{uuid.uuid4().hex[:8].upper()}"
        case = CaseRecord(
            registration_number=registration,
            application_id=str(application_id),
            reglament=reglament.id,
            channel=channel.name,
            reply_service=channel.result_service,
            applicant_iin=iin,
            queue_list=(document.get("form") or {}).get("queueList"),
            request_document=json.dumps(document, ensure_ascii=False),
            request_signature=signature,
            registered_us=to_us(now),
        )
        values = {column: getattr(case, column) for column in _CASE_COLUMNS}
        try:
            await self.runtime.db.run(lambda connection: connection.execute(_ADD_CASE, values))
        except IntegrityError:
            raise ProviderError(
                ErrorCode.PROVIDER_REFUSED, f"application {application_id} is already registered"
            ) from None
        carried = data.get("deliveryRegister")
        if isinstance(carried, dict) and isinstance(carried.get("document"), dict) \
                and isinstance(carried.get("signature"), str):  # a courier brought it: kept until registered
            register = dict(
                application_id=case.application_id, number=str(carried["document"].get("number", "")),
                document=json.dumps(carried["document"], ensure_ascii=False), signature=carried["signature"],
                arrived_us=to_us(now))
            await self.runtime.db.run(lambda connection: connection.execute(_ADD_REGISTER, register))
        try:
            await self.engine.take_up(reglament, channel.name, application_id=case.application_id, at=now)
        except EngineError as exc:
            await self.runtime.db.run(
                lambda connection: connection.execute(_REMOVE_CASE, {"at_registration": registration}))
            raise ProviderError(ErrorCode.PROVIDER_REFUSED, str(exc)) from None
        due = term_end(reglament.term, now)
        return {
            "registrationNumber": registration,
            "registeredAt": to_local(now).isoformat(),
            "resultDue": to_local(due).isoformat(),
        }

    # ---- manual mode: people do the staff procedures ----------------------------------------

    async def perform_manually(self, application_id: str, number: int, inputs: dict[str, Any] | None) -> dict[str, Any]:
        """A person performs staff procedure ``number`` now (manual mode)."""
        if not self.manual:
            raise StaffError(409, "the provider works in auto mode: its staff steps run by themselves")
        case = await self.case(application_id)
        reglament = get_reglament(case.reglament)
        position = await self.engine.position(application_id=application_id)
        waiting = self._waiting_for_staff(reglament, position)
        if waiting is None or waiting.procedure != number:
            following = self._next_procedure(reglament, position)
            raise StaffError(409, f"step {number} cannot be done now: the next step is "
                                  + (f"{following.procedure} ({reglament.actors[following.actor].kk})"  # type: ignore[index]
                                     if following else "none, the case is done"))
        try:
            await self.engine.resume(application_id=application_id, event="staff", inputs=dict(inputs or {}))
        except EngineError as exc:  # moved on meanwhile (another person, a timer)
            raise StaffError(409, str(exc)) from None
        return await self.case_view(application_id)

    @staticmethod
    def _waiting_for_staff(reglament: Reglament, position: Position | None) -> Step | None:
        """The staff procedure (its action step) the walk waits for a person to do, or None."""
        if position is None or position.state != "waiting" or position.event != "staff" or position.system != SYSTEM:
            return None
        channel = reglament.channel(position.channel)
        step = channel.step(position.step_key)
        timed = channel.step(step.during or step.key)
        return timed if timed.procedure is not None else None

    @staticmethod
    def _next_procedure(reglament: Reglament, position: Position | None) -> Step | None:
        """The next staff procedure of this workstation from the position, or None (the case is
        past them, or no longer here)."""
        if position is None or position.done or position.system != SYSTEM:
            return None
        channel = reglament.channel(position.channel)
        step, seen = channel.step(position.step_key), set()
        while step.system == SYSTEM and step.key not in seen:
            seen.add(step.key)
            timed = channel.step(step.during) if step.during else step
            if timed.procedure is not None:
                return timed
            following = step.next or step.then
            if following is None:
                return None
            step = channel.step(following)
        return None

    @staticmethod
    def _procedures_done(channel: Channel, position: Position | None, following: Step | None) -> int:
        if following is not None:
            return (following.procedure or 1) - 1
        if position is None:
            return 0
        done = 0
        for step in channel.steps:
            if step.key == position.step_key:
                break
            if step.procedure is not None:
                done = max(done, step.procedure)
        return done

    async def case_view(self, application_id: str) -> dict[str, Any]:
        case = await self.case(application_id)
        reglament = get_reglament(case.reglament)
        position = await self.engine.position(application_id=application_id)
        following = self._next_procedure(reglament, position)
        procedure = reglament.staff_step(following.procedure) if following and following.procedure else None
        return {
            "applicationId": case.application_id,
            "registrationNumber": case.registration_number,
            "state": case.state,
            "stepsDone": self._procedures_done(reglament.channel(case.channel), position, following),
            "decision": case.decision,
            "refusalGround": json.loads(case.refusal_ground) if case.refusal_ground else None,
            "nextStep": {"number": procedure.number, "actor": procedure.actor,
                         "actor_kk": reglament.actors[procedure.actor].kk,
                         "text_kk": procedure.text_kk, "duration": procedure.duration.english()}
            if procedure else None,
        }

    # ---- the cases -----------------------------------------------------------------------------

    async def case(self, application_id: str | None) -> CaseRecord:
        found = await stored_case(self.runtime, application_id)
        if found is None:
            raise StaffError(404, f"no case {application_id}")
        return found

    async def update_case(self, application_id: str | None, **fields: Any) -> CaseRecord:
        """Set ``fields`` of the case: one UPDATE of those columns, the row as it is now returned."""
        params = {"at_application": application_id, **fields}
        stored = await self.runtime.db.run(
            lambda connection: connection.execute(_UPDATE_CASE, params).mappings().one_or_none())
        if stored is None:
            raise StaffError(404, f"no case {application_id}")
        return CaseRecord(**stored)

    # ---- the provider's check ------------------------------------------------------------------

    async def decide(self, reglament: Reglament, application_id: str | None, at: datetime,
                     inputs: dict[str, Any]) -> dict[str, str] | None:
        """The provider's decision on a case: by the reglament's rules, or -- in manual mode -- as
        the executor says (``inputs``: ``{"decision": "approve"|"refuse", "ground": {...}}``).
        Stores it; an approval places the applicant in the queue. The ground for refusal, or None."""
        case = await self.case(application_id)
        choice = inputs.get("decision") if self.manual else None
        if choice == "approve":
            if duplicate := await self.already_queued(case):
                raise StaffError(409, duplicate["en"])
            ground = None
        elif choice == "refuse":
            ground = staff_ground(inputs.get("ground"))
        elif choice is None:
            ground = await self.already_queued(case) or await rules_ground(self.gateway_of(reglament), reglament, case, at)
        else:
            raise StaffError(422, f"decision must be approve or refuse, not {choice!r}")
        await self.settle(case, ground)
        return ground

    async def settle(self, case: CaseRecord, ground: dict[str, str] | None) -> None:
        """Store the decision: approved (and queued) without a ground, refused with it."""
        if ground is None and case.queue_list:
            await self.enqueue(case)
        await self.update_case(
            case.application_id, decision="approved" if ground is None else "refused",
            refusal_ground=json.dumps(ground, ensure_ascii=False) if ground else None, state="decided",
        )

    async def already_queued(self, case: CaseRecord) -> dict[str, str] | None:
        """The refusal ground when the applicant already stands on the list the application asks
        for (another application of theirs was placed there): a citizen is queued once a list of
        the reglament's provider; the same list code of another reglament is another list."""
        if not case.queue_list:
            return None
        params = {"of_iin": case.applicant_iin, "of_reglament": case.reglament, "of_list": case.queue_list,
                  "other_than": case.application_id}
        found = await self.runtime.db.run(
            lambda connection: connection.execute(_QUEUED_EARLIER, params).first(), write=False)
        if found is None:
            return None
        entry = QueueEntry(**dict(zip(_QUEUE_COLUMNS, found[:len(_QUEUE_COLUMNS)], strict=True)))
        earlier = CaseRecord(**dict(zip(_CASE_COLUMNS, found[len(_QUEUE_COLUMNS):], strict=True)))
        return already_queued_ground(get_reglament(case.reglament), entry, earlier)

    async def enqueue(self, case: CaseRecord) -> int:
        """Give the applicant the next sequence number of the list of the case's reglament, race-free."""
        def place(connection: Connection) -> int:
            existing = connection.execute(_ENTRY_OF, {"of_application": case.application_id}).mappings().first()
            if existing is not None:
                return existing["sequence_number"]
            current = connection.execute(
                _LAST_PLACE, {"of_reglament": case.reglament, "of_list": case.queue_list}).scalar_one()
            number = (current or 0) + 1
            connection.execute(_ADD_ENTRY, {
                "reglament": case.reglament, "queue_list": case.queue_list, "sequence_number": number,
                "application_id": case.application_id, "filed_us": case.registered_us,
            })
            return number

        for _ in range(50):
            try:
                return await self.runtime.db.run(place)
            except IntegrityError:  # another application took the number: try again
                pass
        raise RuntimeError(f"could not place {case.application_id} in the queue")

    # ---- the result: signed by the head, sent back ---------------------------------------------

    async def result_document(self, case: CaseRecord, reglament: Reglament, at: datetime,
                              stage: int | None = None, notes: dict[str, Any] | None = None) -> dict[str, Any]:
        """The result: what the reglament's rule set writes for an approval (a certificate, a
        decision, a contract; of ``stage`` for a service in stages), the notification with the
        place in the queue, or the reasoned refusal."""
        found = await self.runtime.db.run(lambda connection: connection.execute(
            _ENTRY_OF, {"of_application": case.application_id}).mappings().first(), write=False)
        entry = QueueEntry(**found) if found is not None else None
        document: dict[str, Any] = {
            "type": "notification" if case.decision == "approved" else "refusal",
            "reglament": reglament.id,
            "applicationId": case.application_id,
            "registrationNumber": case.registration_number,
            "applicant": {"iin": case.applicant_iin},
            "provider": {"name": reglament.provider.name.kk, "bin": reglament.provider.organisation.bin},
            "date": to_local(at).isoformat(),
            "decision": case.decision,
        }
        written = None
        if case.decision == "approved" and reglament.decision is not None:
            params = dict(reglament.decision)
            rules = str(params.pop("rules", ""))
            facts = CaseFacts(case.application_id, case.registration_number, case.applicant_iin,
                              json.loads(case.request_document), stage, dict(notes or {}))
            written = await approved_result(rules, params, ask=gateway_ask(self.gateway_of(reglament), case.application_id),
                                            reglament=reglament, case=facts, at=at)
        if written is not None:
            document.update(written)
            if stage is not None:
                document["stage"] = stage
        elif case.decision == "approved" and entry is not None:
            queue = reglament.queue_list(entry.queue_list)
            names = {lang: getattr(queue, lang) if queue else entry.queue_list for lang in ("kk", "ru", "en")}
            document["queue"] = {
                "list": entry.queue_list,
                "listName": names,
                "sequenceNumber": entry.sequence_number,
                "filedAt": to_local(from_us(entry.filed_us)).isoformat(),
            }
            document["text"] = {
                "kk": f"Сіз тұрғын үйге мұқтаж азамат ретінде есепке қойылдыңыз: «{names['kk']}» тізімі, "
                f"кезектің реттік нөмірі – {entry.sequence_number}.",
                "ru": f"Вы поставлены на учёт нуждающихся в жилище: список «{names['ru']}», "
                f"порядковый номер очереди – {entry.sequence_number}.",
                "en": f"You are registered as needing housing: list \"{names['en']}\", "
                f"sequence number in the queue {entry.sequence_number}.",
            }
        elif case.decision == "approved":
            document["text"] = {
                "kk": "Сіз тұрғын үйге мұқтаж азамат ретінде есепке қойылдыңыз.",
                "ru": "Вы поставлены на учёт нуждающихся в жилище.",
                "en": "You are registered as needing housing.",
            }
        else:
            ground = json.loads(case.refusal_ground or "{}")
            document["ground"] = ground
            document["text"] = {
                "kk": f"Мемлекеттік қызметті көрсетуден бас тартылды: {ground.get('kk', '')}.",
                "ru": f"В оказании государственной услуги отказано: {ground.get('ru', '')}.",
                "en": f"The state service is refused: {ground.get('en', '')}.",
            }
        return document

    async def sign_result(self, application_id: str | None, reglament: Reglament, at: datetime,
                          stage: int | None = None, notes: dict[str, Any] | None = None) -> CaseRecord:
        """The head of the reglament's provider signs the case's result (of ``stage``); ``notes``:
        what the staff's operations recorded on the case (the result's writer may cite them)."""
        case = await self.case(application_id)
        document = await self.result_document(case, reglament, at, stage, notes)
        signature = await self.sign(document)
        return await self.update_case(
            application_id, result_document=json.dumps(document, ensure_ascii=False),
            result_signature=signature, state="signed",
        )

    async def dispatch(self, application_id: str | None, reglament: Reglament) -> None:
        """The signed result through the reglament's regional gateway to the channel's
        ``result_service`` (the cabinet's, the front office's), tried again in virtual time while
        the way is down (:mod:`runtime.outbox`)."""
        case = await self.case(application_id)
        if not case.result_document or not case.result_signature:
            raise RuntimeError(f"{application_id}: the result is not signed yet")
        if not case.reply_service:  # taken on paper at the chancellery: the applicant collects it there
            await self.update_case(application_id, state="awaiting-collection")
            return
        await self.update_case(application_id, state="dispatched")
        await self.deliver(
            reglament,
            case.reply_service,
            {
                "applicationId": case.application_id,
                "reglament": reglament.id,
                "channel": case.channel,
                "registrationNumber": case.registration_number,
                "decision": case.decision,
                "document": json.loads(case.result_document),
                "signature": case.result_signature,
            },
        )

    # ---- the chancellery: an application on paper, the result collected there -----------------

    async def take_paper_application(self, body: dict[str, Any]) -> dict[str, Any]:
        """The chancellery takes an application on paper (``reglament``, ``applicant.iin``, the
        ``attachments`` presented, the ``form``): the documents checked against the Standard's
        list, the case registered, and the walk of the reglament's channel that begins at this
        workstation started. StaffError (404 unknown reglament, 422 what is wrong) otherwise."""
        try:
            reglament = get_reglament(str(body.get("reglament")))
        except ReglamentError as exc:
            raise StaffError(404, str(exc)) from None
        if reglament.provider.system != SYSTEM:
            raise StaffError(422, f"reglament {reglament.id} is not provided at {SYSTEM}")
        channel = reglament.channel_starting_at(SYSTEM)
        if channel is None:
            raise StaffError(422, f"reglament {reglament.id} takes no application at the provider's chancellery "
                                  f"(its channels: {', '.join(reglament.channels)})")
        try:
            iin = validate_iin(str((body.get("applicant") or {}).get("iin", "")), "applicant.iin")
        except IdentifierError as exc:
            raise StaffError(422, str(exc)) from None
        attachments = body.get("attachments") or []
        if not isinstance(attachments, list) or not all(isinstance(a, dict) for a in attachments):
            raise StaffError(422, "attachments: a list of {\"code\": …} (the documents presented)")
        presented = {str(a.get("code")) for a in attachments}
        unknown = [c for c in presented if reglament.unknown_document(c)]
        if unknown:
            raise StaffError(422, "; ".join(reglament.unknown_document(c)["en"] for c in sorted(unknown)))
        form = body.get("form") or {}
        if not isinstance(form, dict):
            raise StaffError(422, "form: a mapping of the request's fields")
        queue_list = form.get("queueList")  # income papers only on a list with the income test
        if reglament.queue_lists and (not isinstance(queue_list, str) or reglament.unknown_queue_list(queue_list)):
            raise StaffError(422, "form.queueList: " + (reglament.unknown_queue_list(str(queue_list)) or {})["en"])
        missing = [d for d in reglament.documents_for(queue_list) if d.code not in presented]
        if missing:
            raise StaffError(422, "documents the Standard asks for are missing: " + ", ".join(
                f"{d.code} ({d.en})" for d in missing))
        now = await self.runtime.now()
        application_id = str(uuid.uuid4())
        registration = f"{reglament.provider.registration_prefix}-{to_local(now):%Y%m%d}-{uuid.uuid4().hex[:8].upper()}"
        document = {"reglament": reglament.id, "channel": channel, "applicant": {"iin": iin},
                    "attachments": [{"code": c} for c in sorted(presented)], "form": form, "onPaper": True}
        case = CaseRecord(
            registration_number=registration, application_id=application_id, reglament=reglament.id, channel=channel,
            reply_service="", applicant_iin=iin, queue_list=form.get("queueList"),
            request_document=json.dumps(document, ensure_ascii=False), request_signature="",
            registered_us=to_us(now),
        )
        values = {column: getattr(case, column) for column in _CASE_COLUMNS}
        await self.runtime.db.run(lambda connection: connection.execute(_ADD_CASE, values))
        position = await self.engine.start(reglament, channel, application_id=application_id, at=now)
        return {"applicationId": application_id, "registrationNumber": registration, "channel": channel,
                "registeredAt": to_local(now).isoformat(), "resultDue": to_local(term_end(reglament.term, now)).isoformat(),
                "receipt": position.memory.get(RECEIPT_KEY)}

    async def chancellery_view(self, application_id: str) -> dict[str, Any]:
        """A case as the chancellery sees it: its state and, once signed, the result with the
        head's signature checked now."""
        case = await self.case(application_id)
        result = None
        if case.result_document and case.result_signature:
            document = json.loads(case.result_document)
            checked = await self.runtime.validator.cms(base64.b64decode(case.result_signature), canonical_json(document),
                                                       at=await self.runtime.now(), usage="sign")
            result = {"document": document, "signature": case.result_signature, "verdict": checked.verdict.to_dict()}
        position = await self.engine.position(application_id=application_id)
        return {"applicationId": case.application_id, "registrationNumber": case.registration_number,
                "reglament": case.reglament, "channel": case.channel, "state": case.state, "decision": case.decision,
                "refusalGround": json.loads(case.refusal_ground) if case.refusal_ground else None, "result": result,
                "receipt": position.memory.get(RECEIPT_KEY) if position else None}

    async def hand_over(self, application_id: str) -> dict[str, Any]:
        """The applicant collects the result kept at the chancellery (409 before it is ready)."""
        case = await self.case(application_id)
        if case.state not in ("awaiting-collection", "collected"):
            raise StaffError(409, f"the result of {application_id} is not at the chancellery yet (state {case.state})")
        await self.update_case(application_id, state="collected")
        return await self.chancellery_view(application_id)


    # ---- a courier's delivery register (what the State Corporation's courier brings) ----------

    async def receive_delivery_register(self, application_id: str | None, reglament: Reglament, at: datetime,
                                        receiver: str) -> dict[str, Any]:
        """The chancellery registers the delivery register a courier brought with the application:
        the sender's signature checked, the receipt (who received it, when, the case's registration
        number) signed for the provider -- the workstation holds the organisation's key, the head's --
        and kept with the register. Its view, both signatures checked."""
        case = await self.case(application_id)
        found = await self.runtime.db.run(lambda connection: connection.execute(
            _UNRECEIVED_REGISTER, {"of_application": case.application_id}).mappings().first(), write=False)
        if found is None:
            raise StaffError(409, f"{case.application_id}: no delivery register came with the request to register")
        row = DeliveryRegister(**found)
        register = json.loads(row.document)
        checked = await self.runtime.validator.cms(base64.b64decode(row.signature), canonical_json(register),
                                                   at=at, usage="sign")
        receipt = {
            "type": "delivery-register-receipt",
            "reglament": reglament.id,
            "register": row.number,
            "registerSha256": hashlib.sha256(canonical_json(register)).hexdigest(),
            "applicationId": case.application_id,
            "registrationNumber": case.registration_number,
            "arrivedAt": to_local(from_us(row.arrived_us)).isoformat(),
            "receivedAt": to_local(at).isoformat(),
            "receivedBy": receiver,
            "provider": {"name": reglament.provider.organisation.name, "bin": reglament.provider.organisation.bin},
            "senderSignature": checked.verdict.code,
        }
        receipt_signature = await self.sign(receipt)
        params = {"at_id": row.id, "new_verdict": checked.verdict.code,
                  "new_receipt": json.dumps(receipt, ensure_ascii=False), "new_receipt_signature": receipt_signature}

        def receive(connection: Connection) -> None:
            assert connection.execute(_RECEIVE_REGISTER, params).rowcount == 1

        await self.runtime.db.run(receive)
        views = await delivery_registers(self.runtime, case.application_id)
        return next(v for v in views if v["number"] == row.number and v["receipt"] is not None)


async def stored_case(runtime: SystemRuntime, application_id: str | None) -> CaseRecord | None:
    """The case of the application, or None."""
    found = await runtime.db.run(lambda connection: connection.execute(
        _CASE, {"of_application": application_id}).mappings().first(), write=False)
    return None if found is None else CaseRecord(**found)


async def delivery_registers(runtime: SystemRuntime, application_id: str) -> list[dict[str, Any]]:
    """The delivery registers received with an application, each with both signatures checked now."""
    found = await runtime.db.run(lambda connection: connection.execute(
        _REGISTERS_OF, {"of_application": application_id}).mappings().all(), write=False)
    rows = [DeliveryRegister(**row) for row in found]
    now = await runtime.now()
    views = []
    for row in rows:
        register = json.loads(row.document)
        sender = await runtime.validator.cms(base64.b64decode(row.signature), canonical_json(register),
                                             at=now, usage="sign")
        view: dict[str, Any] = {"number": row.number, "document": register, "signature": row.signature,
                                "verdict": sender.verdict.to_dict(),
                                "arrivedAt": to_local(from_us(row.arrived_us)).isoformat(),
                                "receipt": None, "receiptSignature": None, "receiptVerdict": None}
        if row.receipt and row.receipt_signature:
            receipt = json.loads(row.receipt)
            receiver = await runtime.validator.cms(base64.b64decode(row.receipt_signature), canonical_json(receipt),
                                                   at=now, usage="sign")
            view.update(receipt=receipt, receiptSignature=row.receipt_signature,
                        receiptVerdict=receiver.verdict.to_dict())
        views.append(view)
    return views
