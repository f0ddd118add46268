"""The provider's work on one application, step by step as the reglament sets it."""

from __future__ import annotations

import base64
import json
import uuid
from importlib.resources import files
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import func
from sqlalchemy.exc import IntegrityError
from sqlmodel import select

from gateway_protocol.errors import ErrorCode
from gateway_protocol.provider import Incoming, ProviderError
from provider_ws.decision import DecisionRules
from provider_ws.models import CaseRecord, QueueEntry
from reglaments import ReglamentError, get_reglament
from signatures.certificates import Role
from signatures.client import obtain_person_identity, renewed_key_storage
from signatures.jws import canonical_json
from signatures.ncalayer import BASICS, SIGN_EKU, NCALayer, person_key_storage
from simulation.calendar import to_local
from simulation.clock import Timer, from_us, to_us
from simulation.identifiers import IdentifierError, validate_iin
from runtime import SystemRuntime

STAFF = yaml.safe_load((files(__package__) / "staff.yaml").read_text(encoding="utf-8"))
SYSTEM = "provider_ws"
REGIONAL_GATEWAY = "gateway-almaty"
REPLY_SERVICES = {"portal": "EPORTAL_CabinetDelivery", "corporation": "GK_ResultDelivery"}


class StaffError(Exception):
    """A staff action that cannot be done: HTTP status and why."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


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


class ProviderWorkstation:
    def __init__(self, runtime: SystemRuntime) -> None:
        self.runtime = runtime
        runtime.timers.on("staff-step", self._staff_step)
        self.ncalayer = NCALayer(runtime.now)
        self._head_storage: Path | None = None
        """The NCALayer on the head's computer, with the head's SIGN key storage chosen."""

    async def start(self) -> None:
        head = STAFF["head"]
        seeded = person_key_storage(self.runtime.settings.data_dir, head["iin"], "sign")
        if seeded is not None:
            self._head_storage = seeded
            self.ncalayer.choose(seeded)
            return
        identity = await obtain_person_identity(
            self.runtime.http,
            self.runtime.url_of("signatures"),
            {
                **head,
                "organisation": STAFF["organisation"]["name"],
                "bin": STAFF["organisation"]["bin"],
                "roles": [Role.FIRST_HEAD.value],
                "usage": "sign",
            },
            key_file=self.runtime.settings.data_dir.expanduser().resolve() / "keys" / "provider_ws-head.p12",
            roots=self.runtime.trusted_roots,
            at=await self.runtime.now(),
        )
        self.ncalayer.choose(identity)

    # ---- 6-процесс: registration of an incoming request ------------------------------------

    async def register(self, request: Incoming) -> dict[str, Any]:
        data = request.data if isinstance(request.data, dict) else {}
        try:
            reglament = get_reglament(str(data.get("reglament")))
            channel = reglament.channel(str(data.get("channel")))
        except ReglamentError as exc:
            raise ProviderError(ErrorCode.PROVIDER_REQUEST_INVALID, str(exc)) from None
        document, signature = data.get("document"), data.get("signature")
        application_id = data.get("applicationId")
        if not isinstance(document, dict) or not isinstance(signature, str) or not application_id:
            raise ProviderError(
                ErrorCode.PROVIDER_REQUEST_INVALID,
                "applicationId, document and signature are required",
            )
        try:
            iin = validate_iin(str(document.get("applicant", {}).get("iin", "")), "document.applicant.iin")
        except IdentifierError as exc:
            raise ProviderError(ErrorCode.PROVIDER_REQUEST_INVALID, str(exc), data={"field": exc.field}) from None
        now = await self.runtime.now()
        registration = f"ALM-{to_local(now):%Y%m%d}-{uuid.uuid4().hex[:8].upper()}"
        case = CaseRecord(
            registration_number=registration,
            application_id=str(application_id),
            reglament=reglament.id,
            channel=channel.name,
            reply_service=REPLY_SERVICES[channel.name],
            applicant_iin=iin,
            queue_list=(document.get("form") or {}).get("queueList"),
            request_document=json.dumps(document, ensure_ascii=False),
            request_signature=signature,
            registered_us=to_us(now),
        )
        async with self.runtime.db.session() as session:
            session.add(case)
            try:
                await session.commit()
            except IntegrityError:
                raise ProviderError(
                    ErrorCode.PROVIDER_REFUSED, f"application {application_id} is already registered"
                ) from None
        registering = next(step.key for step in channel.steps if step.system == SYSTEM)
        await self.runtime.tracer.record(
            reglament, channel.name, registering, system=SYSTEM,
            application_id=case.application_id, detail=f"тіркеу нөмірі {registration}",
        )
        if self.runtime.settings.provider_mode == "auto":
            await self._schedule(case, 1, now)
        due = reglament.term.add_to(now)
        return {
            "registrationNumber": registration,
            "registeredAt": to_local(now).isoformat(),
            "resultDue": to_local(due).isoformat(),
        }

    # ---- section 2: the staff procedures, one timer each ------------------------------------

    async def _schedule(self, case: CaseRecord, number: int, after) -> None:
        reglament = get_reglament(case.reglament)
        step = reglament.staff_step(number)
        await self.runtime.clock.schedule(
            SYSTEM,
            "staff-step",
            step.duration.add_to(after),
            {"registration": case.registration_number, "number": number},
            application_id=case.application_id,
        )

    async def _staff_step(self, timer: Timer) -> None:
        number = int(timer.payload["number"])
        case = await self._case(registration=timer.payload["registration"])
        reglament = get_reglament(case.reglament)
        await self._perform(case, number, timer.due)
        if number == 2:  # the executor starts with the check (3-шарт)
            await self._decide(case, timer.due)
        if number < len(reglament.staff_steps):
            await self._schedule(case, number + 1, timer.due)
        else:
            await self._dispatch(case)

    async def perform_manually(self, application_id: str, number: int, decision: dict[str, Any] | None) -> dict[str, Any]:
        """A person performs staff procedure ``number`` now (manual mode)."""
        if self.runtime.settings.provider_mode != "manual":
            raise StaffError(409, "the provider works in auto mode: its staff steps run by themselves")
        case = await self._case(application_id=application_id)
        reglament = get_reglament(case.reglament)
        expected = case.steps_done + 1
        if number != expected or number > len(reglament.staff_steps):
            staff = reglament.staff_step(expected) if expected <= len(reglament.staff_steps) else None
            raise StaffError(409, f"step {number} cannot be done now: the next step is "
                                  + (f"{expected} ({staff.actor_kk})" if staff else "none, the case is done"))
        now = await self.runtime.now()
        if number == 3:
            await self._decide(case, now, override=decision)
            case = await self._case(application_id=application_id)
        await self._perform(case, number, now, executor=(decision or {}).get("executor"))
        if number == len(reglament.staff_steps):
            await self._dispatch(case)
        return await self._case_view(application_id)

    async def _perform(self, case: CaseRecord, number: int, at, executor: str | None = None) -> None:
        """Staff procedure ``number`` of section 2, done at ``at``: its own work, and its trace."""
        reglament = get_reglament(case.reglament)
        staff = reglament.staff_step(number)
        detail = f"{staff.actor_kk}, {staff.duration.kazakh()}"
        if number == 2 and executor:
            detail += f": жауапты орындаушы – {executor}"
        if number == 3:
            prepared = "хабарлама" if case.decision == "approved" else "дәлелді бас тарту"
            detail += f": {prepared} дайындалды"
        if number == 4:
            await self._sign_result(case, at)
            detail += ": ЭЦҚ-мен қол қойылды"
        await self.runtime.tracer.record(
            reglament, case.channel, f"action-{number}", system=SYSTEM,
            application_id=case.application_id, at=at, detail=detail,
        )
        async with self.runtime.db.session() as session:
            stored = await session.get(CaseRecord, case.registration_number)
            assert stored is not None
            stored.steps_done = number
            if number == 2 and executor:
                stored.executor = executor
            session.add(stored)
            await session.commit()

    async def _case(self, *, registration: str | None = None, application_id: str | None = None) -> CaseRecord:
        async with self.runtime.db.session() as session:
            if registration is not None:
                case = await session.get(CaseRecord, registration)
            else:
                case = (await session.exec(select(CaseRecord).where(CaseRecord.application_id == application_id))).first()
        if case is None:
            raise StaffError(404, f"no case {registration or application_id}")
        return case

    async def _case_view(self, application_id: str) -> dict[str, Any]:
        case = await self._case(application_id=application_id)
        reglament = get_reglament(case.reglament)
        following = case.steps_done + 1
        staff = reglament.staff_step(following) if following <= len(reglament.staff_steps) else None
        return {
            "applicationId": case.application_id,
            "registrationNumber": case.registration_number,
            "state": case.state,
            "stepsDone": case.steps_done,
            "decision": case.decision,
            "refusalGround": json.loads(case.refusal_ground) if case.refusal_ground else None,
            "nextStep": {"number": staff.number, "actor": staff.actor, "actor_kk": staff.actor_kk,
                         "text_kk": staff.text_kk, "duration": staff.duration.english()} if staff else None,
        }

    # ---- 3-шарт: the provider's check --------------------------------------------------------

    async def _decide(self, case: CaseRecord, at, override: dict[str, Any] | None = None) -> None:
        """3-шарт: by the rules, or -- in manual mode -- as the executor decides."""
        reglament = get_reglament(case.reglament)
        channel = reglament.channel(case.channel)
        choice = (override or {}).get("decision")
        if choice == "approve":
            ground = None
        elif choice == "refuse":
            ground = (override or {}).get("ground") or {}
            if not isinstance(ground, dict) or not ground.get("kk"):
                raise StaffError(422, "a refusal needs its ground: {\"kk\": …, \"ru\": …, \"en\": …}")
            ground = {"code": ground.get("code", "executor"), "kk": ground["kk"],
                      "ru": ground.get("ru", ground["kk"]), "en": ground.get("en", ground["kk"])}
        elif choice is None:
            ground = await self._already_queued(case) or await self._refusal_ground(case, at)
        else:
            raise StaffError(422, f"decision must be approve or refuse, not {choice!r}")
        if choice == "approve" and (duplicate := await self._already_queued(case)):
            raise StaffError(409, duplicate["en"])
        approved = ground is None
        condition = next(s for s in channel.steps if s.key == "condition-3")
        await self.runtime.tracer.record(
            reglament, case.channel, condition.key, system=SYSTEM,
            application_id=case.application_id, at=at,
            outcome="true" if approved else "false",
            detail="негіздемелерге сәйкес" if approved else ground["kk"],
        )
        if approved:
            await self._enqueue(case)
        else:
            await self.runtime.tracer.record(
                reglament, case.channel, condition.else_, system=SYSTEM,  # type: ignore[arg-type]
                application_id=case.application_id, at=at, detail=ground["kk"],
            )
        async with self.runtime.db.session() as session:
            stored = await session.get(CaseRecord, case.registration_number)
            assert stored is not None
            stored.decision = "approved" if approved else "refused"
            stored.refusal_ground = json.dumps(ground, ensure_ascii=False) if ground else None
            stored.state = "decided"
            session.add(stored)
            await session.commit()

    async def _refusal_ground(self, case: CaseRecord, at) -> dict[str, str] | None:
        """The first ground for refusal (the Standard, item 10, and the housing law), or None."""
        rules = DecisionRules(self.runtime.gateway(REGIONAL_GATEWAY), get_reglament(case.reglament))
        ground, _ = await rules.check(
            case.application_id, case.applicant_iin, json.loads(case.request_document), case.queue_list, at
        )
        return ground.as_dict() if ground else None

    async def _already_queued(self, case: CaseRecord) -> dict[str, str] | None:
        """The refusal ground when the applicant already stands on the list the application asks
        for (another application of theirs was placed there): a citizen is queued once a list."""
        if not case.queue_list:
            return None
        async with self.runtime.db.session() as session:
            found = (
                await session.exec(
                    select(QueueEntry, CaseRecord)
                    .join(CaseRecord, CaseRecord.application_id == QueueEntry.application_id)
                    .where(CaseRecord.applicant_iin == case.applicant_iin,
                           QueueEntry.queue_list == case.queue_list,
                           QueueEntry.application_id != case.application_id)
                )
            ).first()
        if found is None:
            return None
        entry, earlier = found
        return already_queued_ground(get_reglament(case.reglament), entry, earlier)

    async def _enqueue(self, case: CaseRecord) -> int:
        """Give the applicant the next sequence number of the list, race-free."""
        for _ in range(50):
            async with self.runtime.db.session() as session:
                current = (
                    await session.exec(
                        select(func.max(QueueEntry.sequence_number)).where(
                            QueueEntry.queue_list == case.queue_list
                        )
                    )
                ).one()
                entry = QueueEntry(
                    queue_list=case.queue_list,  # type: ignore[arg-type]
                    sequence_number=(current or 0) + 1,
                    application_id=case.application_id,
                    filed_us=case.registered_us,
                )
                session.add(entry)
                try:
                    await session.commit()
                    return entry.sequence_number
                except IntegrityError:
                    await session.rollback()
        raise RuntimeError(f"could not place {case.application_id} in the queue")

    # ---- the result: signed by the head, sent back ------------------------------------------

    async def _sign_result(self, case: CaseRecord, at) -> None:
        reglament = get_reglament(case.reglament)
        async with self.runtime.db.session() as session:
            stored = await session.get(CaseRecord, case.registration_number)
            entry = (
                await session.exec(select(QueueEntry).where(QueueEntry.application_id == case.application_id))
            ).first()
        assert stored is not None
        document: dict[str, Any] = {
            "type": "notification" if stored.decision == "approved" else "refusal",
            "reglament": reglament.id,
            "applicationId": stored.application_id,
            "registrationNumber": stored.registration_number,
            "applicant": {"iin": stored.applicant_iin},
            "provider": {"name": reglament.provider.name.kk, "bin": STAFF["organisation"]["bin"]},
            "date": to_local(at).isoformat(),
            "decision": stored.decision,
        }
        if entry is not None:
            queue = reglament.queue_list(entry.queue_list)
            assert queue is not None
            document["queue"] = {
                "list": queue.code,
                "listName": {"kk": queue.kk, "ru": queue.ru, "en": queue.en},
                "sequenceNumber": entry.sequence_number,
                "filedAt": to_local(from_us(entry.filed_us)).isoformat(),
            }
            document["text"] = {
                "kk": f"Сіз тұрғын үйге мұқтаж азамат ретінде есепке қойылдыңыз: «{queue.kk}» тізімі, "
                f"кезектің реттік нөмірі – {entry.sequence_number}.",
                "ru": f"Вы поставлены на учёт нуждающихся в жилище: список «{queue.ru}», "
                f"порядковый номер очереди – {entry.sequence_number}.",
                "en": f"You are registered as needing housing: list \"{queue.en}\", "
                f"sequence number in the queue {entry.sequence_number}.",
            }
        else:
            ground = json.loads(stored.refusal_ground or "{}")
            document["ground"] = ground
            document["text"] = {
                "kk": f"Мемлекеттік қызметті көрсетуден бас тартылды: {ground.get('kk', '')}.",
                "ru": f"В оказании государственной услуги отказано: {ground.get('ru', '')}.",
                "en": f"The state service is refused: {ground.get('en', '')}.",
            }
        if self._head_storage is not None:  # the head renews an expired key before signing
            renewed = await renewed_key_storage(
                self.runtime.http, self.runtime.url_of("signatures"), self._head_storage, await self.runtime.now()
            )
            if renewed != self._head_storage:
                self._head_storage = renewed
                self.ncalayer.choose(renewed)
        answer = await self.ncalayer.handle({
            "module": BASICS,
            "method": "sign",
            "args": {
                "format": "cms",
                "data": base64.b64encode(canonical_json(document)).decode(),
                "signingParams": {"decode": True, "encapsulate": False},
                "signerParams": {"extKeyUsageOids": [SIGN_EKU], "bin": STAFF["organisation"]["bin"]},
                "locale": "kk",
            },
        })
        if not answer.get("status"):
            raise RuntimeError(f"the head could not sign: {answer.get('code')}: {answer.get('message')}")
        signature = answer["body"]["result"][0]
        async with self.runtime.db.session() as session:
            stored = await session.get(CaseRecord, case.registration_number)
            assert stored is not None
            stored.result_document = json.dumps(document, ensure_ascii=False)
            stored.result_signature = signature
            stored.state = "signed"
            session.add(stored)
            await session.commit()

    async def _dispatch(self, case: CaseRecord) -> None:
        async with self.runtime.db.session() as session:
            stored = await session.get(CaseRecord, case.registration_number)
        assert stored is not None and stored.result_document and stored.result_signature
        reglament = get_reglament(stored.reglament)
        await self.runtime.gateway(REGIONAL_GATEWAY).send(
            stored.reply_service,
            {
                "applicationId": stored.application_id,
                "reglament": reglament.id,
                "channel": stored.channel,
                "registrationNumber": stored.registration_number,
                "decision": stored.decision,
                "document": json.loads(stored.result_document),
                "signature": stored.result_signature,
            },
            correlation_id=stored.application_id,
        )
        async with self.runtime.db.session() as session:
            stored = await session.get(CaseRecord, case.registration_number)
            assert stored is not None
            stored.state = "dispatched"
            session.add(stored)
            await session.commit()
