"""The decision to provide housing: dwellings given to the applicants of the queue lists in order.

The housing department registers the dwellings it has to give (of the state housing fund, or
rented by the local executive body in the private fund), each for one queue list of a
housing-queue reglament. A dwelling is offered to the first applicant still waiting on that list
(Law "On housing relations" No. 94 of 16 April 1997, art. 74, item 1: in the order of the lists,
counted from the filing of the complete application), one offer per dwelling at a time. The offer
is a decision signed by the head with the SIGN key of the provider's results and sent through the
regional gateway to where the application came from: the citizen's personal cabinet on the portal
(``EPORTAL_CabinetNotification``) or the State Corporation's front office
(``GK_NotificationDelivery``).

The applicant answers within :data:`ANSWER_TERM`. Accepted: the applicant is housed and leaves
the list, everyone behind moves up. Declined, or no answer in time: the dwelling goes to the next
applicant waiting on the list, and the one who declined keeps their sequence number and place:
declining an offer is none of the grounds for removal from the register (art. 73, item 1, as far
as the texts available to the simulator show): this is the simulator's own rule, and the decision
says it (``ifDeclined``).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, delete, insert, select, update

from gateway_protocol.errors import GatewayFault
from provider_ws.models import Allocation, CaseRecord, Dwelling, QueueEntry, QueueOutcome
from provider_ws.service import provided_reglaments
from reglaments import Reglament, ReglamentError, get_reglament
from runtime import SystemRuntime
from simulation.calendar import Duration, to_local
from simulation.clock import Timer, from_us, to_us
from simulation.topology import regional_gateway

SYSTEM = "provider_ws"
"""Where a decision outside the reglament's numbered steps goes, by the application's channel."""
ANSWER_TERM = Duration.parse("5 working days")
"""How long the applicant has to answer an offer; no answer counts as a decline."""
TIMER_KIND = "housing-offer-answer"
ALLOCATION_IDS = range(1, 2**31)
"""The ids an offer can have: its table's key is a 32-bit INTEGER on PostgreSQL, which refuses
to compare with a larger number (an error, not "no such row"), so an id outside is no offer."""

FUNDS = {
    "state": {"kk": "мемлекеттік тұрғын үй қоры", "ru": "государственный жилищный фонд",
              "en": "the state housing fund"},
    "rented-private": {"kk": "жергілікті атқарушы орган жеке тұрғын үй қорынан жалдаған тұрғын үй",
                       "ru": "жилище, арендованное местным исполнительным органом в частном жилищном фонде",
                       "en": "a dwelling rented by the local executive body in the private housing fund"},
}
LEGAL_GROUND = {
    "law": "Law of the Republic of Kazakhstan No. 94 of 16 April 1997 \"On housing relations\"",
    "article": "74", "item": "1",
    "kk": "«Тұрғын үй қатынастары туралы» 1997 жылғы 16 сәуірдегі № 94 Қазақстан Республикасы Заңының "
          "74-бабының 1-тармағы: тұрғын үй толық құжаттармен өтініш берілген кезден бастап тізімдегі "
          "кезек тәртібімен беріледі",
    "ru": "пункт 1 статьи 74 Закона Республики Казахстан от 16 апреля 1997 года № 94 «О жилищных "
          "отношениях»: жилище предоставляется по очерёдности списка, считая с подачи заявления со всеми "
          "документами",
    "en": "Law of the Republic of Kazakhstan No. 94 of 16 April 1997 \"On housing relations\", article 74, "
          "item 1: housing is given in the order of the list, counted from the filing of the complete application",
}
DECLINE_RULE = {
    "code": "decline-keeps-place",
    "kk": "ұсыныстан бас тартқан немесе мерзімінде жауап бермеген өтініш беруші есептен шығарылмайды, "
          "кезектегі реттік нөмірі сақталады; тұрғын үй тізімдегі келесі өтініш берушіге ұсынылады",
    "ru": "заявитель, отказавшийся от предложения или не ответивший в срок, с учёта не снимается и "
          "сохраняет порядковый номер; жилище предлагается следующему заявителю списка",
    "en": "an applicant who declines the offer, or does not answer in time, stays on the register with "
          "their sequence number; the dwelling is offered to the next applicant of the list",
}

# The desk's statements, built once, run by Database.run.
_DWELLINGS = Dwelling.__table__
_ALLOCATIONS = Allocation.__table__
_QUEUE = QueueEntry.__table__
_CASES = CaseRecord.__table__
_OUTCOMES = QueueOutcome.__table__
_QUEUE_COLUMNS = tuple(_QUEUE.columns.keys())
_CASE_COLUMNS = tuple(_CASES.columns.keys())
_ADD_DWELLING = insert(_DWELLINGS).returning(_DWELLINGS.c.id)
_DWELLING = select(_DWELLINGS).where(_DWELLINGS.c.id == bindparam("of_id"))
_SET_DWELLING = update(_DWELLINGS).where(_DWELLINGS.c.id == bindparam("at_id")).values(state=bindparam("new_state"))
_AVAILABLE = select(_DWELLINGS.c.id).where(_DWELLINGS.c.state == "available").order_by(_DWELLINGS.c.id)
_LISTED = {
    table: (select(table).order_by(table.c.id),
            select(table).where(table.c.state == bindparam("of_state")).order_by(table.c.id))
    for table in (_DWELLINGS, _ALLOCATIONS)
}
"""Dwellings or offers in the order they came: all of them, or those of one state."""
_LIST = (
    select(_QUEUE, _OUTCOMES.c.outcome)
    .outerjoin(_OUTCOMES, _OUTCOMES.c.application_id == _QUEUE.c.application_id)
    .where(_QUEUE.c.reglament == bindparam("of_reglament"), _QUEUE.c.queue_list == bindparam("of_list"))
    .order_by(_QUEUE.c.sequence_number)
)
_OFFERED_AMONG = select(_ALLOCATIONS.c.application_id).where(
    _ALLOCATIONS.c.application_id.in_(bindparam("of_applications", expanding=True)),
    _ALLOCATIONS.c.state == "offered")
_STILL_WAITING = (
    select(_QUEUE, _CASES)
    .join(_CASES, _CASES.c.application_id == _QUEUE.c.application_id)
    .outerjoin(_OUTCOMES, _OUTCOMES.c.application_id == _QUEUE.c.application_id)
    .where(_QUEUE.c.reglament == bindparam("of_reglament"), _QUEUE.c.queue_list == bindparam("of_list"),
           _OUTCOMES.c.application_id.is_(None))
    .order_by(_QUEUE.c.sequence_number)
)
"""Those on a list with no outcome yet, in order: each entry's columns, then its case's."""
_BUSY = select(_ALLOCATIONS.c.application_id).where(
    (_ALLOCATIONS.c.state == "offered") | (_ALLOCATIONS.c.dwelling_id == bindparam("of_dwelling")))
_ADD_ALLOCATION = insert(_ALLOCATIONS).returning(_ALLOCATIONS.c.id)
_ALLOCATION = select(_ALLOCATIONS).where(_ALLOCATIONS.c.id == bindparam("of_id"))
_REMOVE_ALLOCATION = delete(_ALLOCATIONS).where(_ALLOCATIONS.c.id == bindparam("at_id"))
_SET_ALLOCATION = update(_ALLOCATIONS).where(_ALLOCATIONS.c.id == bindparam("at_id")).returning(*_ALLOCATIONS.columns)
"""An offer's UPDATE of the columns given at execution, returning the row."""
_ADD_OUTCOME = insert(_OUTCOMES)

Signer = Callable[[dict[str, Any]], Awaitable[str]]
"""The head signs a document: canonical JSON in, base64 detached CMS out."""


class AllocationError(Exception):
    """A request the housing department refuses: HTTP status, the field, the rule, and why (kk, ru, en)."""

    def __init__(self, status: int, code: str, message: dict[str, str], field: str | None = None,
                 choices: list[str] | None = None) -> None:
        super().__init__(message["en"])
        self.status, self.code, self.message, self.field, self.choices = status, code, message, field, choices

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"error": self.code, "message": self.message["en"], "message_kk": self.message["kk"],
                                "message_ru": self.message["ru"]}
        if self.field:
            body["field"] = self.field
        if self.choices is not None:
            body["choices"] = self.choices
        return body


def queue_reglament(queue_list: str, reglament: str | None = None) -> Reglament:
    """The reglament whose list ``queue_list`` is meant: each provider organisation keeps its own
    lists (Law "On housing relations", art. 74), so a list is named by its reglament and its code.

    ``reglament`` given: it must be one this workstation serves and keep the list. Left out: the
    one served reglament keeping a list of that code; refused (422, field ``reglament``, with the
    choices) when several do, 404 when none does."""
    served = provided_reglaments()
    if reglament:
        chosen = next((r for r in served if r.id == reglament), None)
        if chosen is None:
            ids = [r.id for r in served]
            raise AllocationError(422, "unknown_reglament", {
                "kk": f"Мұндай регламент бойынша кезек жүргізілмейді: {reglament} (барлары: {', '.join(ids)})",
                "ru": f"По такому регламенту очередь не ведётся: {reglament} (есть: {', '.join(ids)})",
                "en": f"No reglament {reglament!r} is served here (there are: {', '.join(ids)})"},
                field="reglament", choices=ids)
        if problem := chosen.unknown_queue_list(queue_list):
            raise AllocationError(404, "unknown_queue_list", problem, field="queueList")
        return chosen
    keeping = [r for r in served if r.queue_list(queue_list) is not None]
    if len(keeping) == 1:
        return keeping[0]
    if not keeping:
        known = sorted({q.code for r in served for q in r.queue_lists})
        raise AllocationError(404, "unknown_queue_list", {
            "kk": f"Мұндай кезек тізімі жоқ: {queue_list}", "ru": f"Такого списка очереди нет: {queue_list}",
            "en": f"No queue list {queue_list!r} (there are: {', '.join(known)})"}, field="queueList")
    ids = [r.id for r in keeping]
    raise AllocationError(422, "reglament_required", {
        "kk": f"«{queue_list}» тізімін бірнеше регламент жүргізеді, әрқайсысының өз тізімі бар: "
              f"reglament өрісінде біреуін көрсетіңіз ({', '.join(ids)})",
        "ru": f"Список «{queue_list}» ведут несколько регламентов, у каждого свой: "
              f"укажите один в поле reglament ({', '.join(ids)})",
        "en": f"The list {queue_list!r} is kept by several reglaments, each its own: name one in the "
              f"field reglament ({', '.join(ids)})"},
        field="reglament", choices=ids)


def notice_service(case: CaseRecord) -> str:
    """The serviceId that brings a notice to the system the applicant came to (the definition's)."""
    service = get_reglament(case.reglament).channel(case.channel).notice_service
    if service is None:
        raise AllocationError(409, "no_notice_service", {
            "kk": "Бұл арна бойынша хабарлама жеткізілмейді", "ru": "По этому каналу уведомления не доставляются",
            "en": f"The definition of {case.reglament} names no notice_service for channel {case.channel}"})
    return service


def head_signer(head: Any) -> Signer:
    """The head's signing: a ``sign(document)`` coroutine function, or the workstation's own
    ``sign`` method (the head of the document's reglament signs with their SIGN key)."""
    sign = getattr(head, "sign", None)
    if callable(sign):
        return sign
    if callable(head):
        return head
    raise TypeError(f"{head!r} cannot sign: give the workstation or a sign(document) coroutine function")


def _iso(us: int | None) -> str | None:
    return to_local(from_us(us)).isoformat() if us is not None else None


def dwelling_view(dwelling: Dwelling) -> dict[str, Any]:
    return {"id": dwelling.id, "address": dwelling.address, "rooms": dwelling.rooms, "areaM2": dwelling.area_m2,
            "fund": dwelling.fund, "fundName": FUNDS[dwelling.fund], "queueList": dwelling.queue_list,
            "reglament": dwelling.reglament, "registeredAt": _iso(dwelling.registered_us), "state": dwelling.state}


def allocation_view(allocation: Allocation) -> dict[str, Any]:
    return {"id": allocation.id, "dwellingId": allocation.dwelling_id, "applicationId": allocation.application_id,
            "queueList": allocation.queue_list, "sequenceNumber": allocation.sequence_number,
            "place": allocation.place, "state": allocation.state, "offeredAt": _iso(allocation.offered_us),
            "answerBy": _iso(allocation.answer_by_us), "answeredAt": _iso(allocation.answered_us),
            "deliveredTo": allocation.delivered_to, "document": json.loads(allocation.document),
            "signature": allocation.signature}


class HousingAllocation:
    """The housing department's allocation desk: built once per app, on the workstation's runtime."""

    def __init__(self, runtime: SystemRuntime, head: Any) -> None:
        self.runtime = runtime
        self.sign = head_signer(head)
        self._lock = asyncio.Lock()
        """One allocation at a time: two dwellings never pick the same applicant."""
        runtime.timers.on(TIMER_KIND, self._answer_due)

    # ---- dwellings ---------------------------------------------------------------------------

    async def register_dwelling(self, body: dict[str, Any]) -> dict[str, Any]:
        """Register a dwelling and offer it at once to the first applicant waiting on its list."""
        dwelling = self._checked_dwelling(body)
        dwelling.registered_us = to_us(await self.runtime.now())
        values = {column: getattr(dwelling, column) for column in _DWELLINGS.columns.keys() if column != "id"}
        dwelling.id = await self.runtime.db.run(
            lambda connection: connection.execute(_ADD_DWELLING, values).scalar_one())
        offer = await self.allocate(dwelling.id)  # type: ignore[arg-type]
        return {"dwelling": dwelling_view(await self._dwelling(dwelling.id)), "offer": offer}  # type: ignore[arg-type]

    def _checked_dwelling(self, body: dict[str, Any]) -> Dwelling:
        def refuse(field: str, en: str, kk: str, ru: str) -> AllocationError:
            return AllocationError(422, "invalid_dwelling", {"kk": kk, "ru": ru, "en": en}, field=field)

        address = body.get("address")
        if not isinstance(address, str) or not address.strip():
            raise refuse("address", "the dwelling's address is required", "тұрғын үйдің мекенжайы көрсетілмеген",
                         "не указан адрес жилища")
        rooms = body.get("rooms")
        if isinstance(rooms, bool) or not isinstance(rooms, int) or rooms < 1:
            raise refuse("rooms", "rooms must be a whole number of at least 1 (the law gives at least a "
                         "one-room flat)", "бөлме саны кемінде 1 бүтін сан болуы керек",
                         "число комнат должно быть целым, не меньше 1")
        area = body.get("areaM2")
        if isinstance(area, bool) or not isinstance(area, (int, float)) or area <= 0:
            raise refuse("areaM2", "areaM2 must be a positive number of square metres",
                         "алаңы (м²) оң сан болуы керек", "площадь (м²) должна быть положительным числом")
        fund = body.get("fund")
        if fund not in FUNDS:
            raise refuse("fund", f"fund must be one of {', '.join(FUNDS)}, not {fund!r}",
                         f"қор мыналардың бірі болуы керек: {', '.join(FUNDS)}",
                         f"фонд должен быть одним из: {', '.join(FUNDS)}")
        try:
            reglament = get_reglament(str(body.get("reglament")))
        except ReglamentError as exc:
            raise refuse("reglament", str(exc), f"мұндай регламент жоқ: {body.get('reglament')}",
                         f"такого регламента нет: {body.get('reglament')}") from None
        if not reglament.queue_lists:
            raise refuse("reglament", f"reglament {reglament.id!r} keeps no queue lists: it gives no housing",
                         f"«{reglament.id}» регламентінде кезек тізімдері жоқ",
                         f"в регламенте «{reglament.id}» нет списков очереди")
        queue_list = str(body.get("queueList"))
        if problem := reglament.unknown_queue_list(queue_list):
            raise AllocationError(422, "invalid_dwelling", problem, field="queueList")
        return Dwelling(address=address.strip(), rooms=rooms, area_m2=float(area), fund=fund,
                        queue_list=queue_list, reglament=reglament.id, registered_us=0)

    async def dwellings(self, state: str | None = None) -> list[dict[str, Any]]:
        return [dwelling_view(d) for d in await self._listed(Dwelling, state)]

    async def _listed(self, model: Any, state: str | None) -> list[Any]:
        """The rows of ``model`` (dwellings, offers) in the order they came, of one state if given."""
        every, of_state = _LISTED[model.__table__]
        rows = await self.runtime.db.run(lambda connection: (
            connection.execute(every) if state is None else connection.execute(of_state, {"of_state": state})
        ).mappings().all(), write=False)
        return [model(**row) for row in rows]

    async def _dwelling(self, dwelling_id: int) -> Dwelling:
        found = await self.runtime.db.run(
            lambda connection: connection.execute(_DWELLING, {"of_id": dwelling_id}).mappings().first(), write=False)
        if found is None:
            raise AllocationError(404, "not_found", {"kk": f"№ {dwelling_id} тұрғын үй тіркелмеген",
                                                     "ru": f"жилище № {dwelling_id} не зарегистрировано",
                                                     "en": f"no dwelling {dwelling_id}"})
        return Dwelling(**found)

    # ---- the queue ---------------------------------------------------------------------------

    async def queue(self, queue_list: str, reglament: str | None = None) -> list[dict[str, Any]]:
        """A list of one reglament (:func:`queue_reglament`) in order, with each applicant's status
        and the place of those still waiting."""
        reglament_id = queue_reglament(queue_list, reglament).id
        def read(connection: Connection) -> tuple[list[Any], set[str]]:
            rows = connection.execute(_LIST, {"of_reglament": reglament_id, "of_list": queue_list}).mappings().all()
            waiting = [entry["application_id"] for entry in rows if entry["outcome"] is None]
            offered = set(connection.execute(_OFFERED_AMONG, {"of_applications": waiting}).scalars().all()) \
                if waiting else set()
            return list(rows), offered

        rows, offered = await self.runtime.db.run(read, write=False)
        listing, place = [], 0
        for entry in rows:
            outcome = entry["outcome"]
            if outcome is None:
                place += 1
            listing.append({
                "reglament": entry["reglament"],
                "sequenceNumber": entry["sequence_number"], "applicationId": entry["application_id"],
                "filedAt": _iso(entry["filed_us"]),
                "status": outcome if outcome else ("offered" if entry["application_id"] in offered else "waiting"),
                "place": None if outcome else place,
            })
        return listing

    async def _next_in_line(self, dwelling: Dwelling) -> tuple[QueueEntry, CaseRecord, int] | None:
        """The first applicant of the dwelling's list still waiting, holding no open offer and not
        having declined this dwelling; with their place among all those waiting."""
        def read(connection: Connection) -> tuple[list[Any], set[str]]:
            rows = connection.execute(
                _STILL_WAITING, {"of_reglament": dwelling.reglament, "of_list": dwelling.queue_list}).all()
            return list(rows), set(connection.execute(_BUSY, {"of_dwelling": dwelling.id}).scalars().all())

        rows, busy = await self.runtime.db.run(read, write=False)
        width = len(_QUEUE_COLUMNS)
        for place, row in enumerate(rows, start=1):
            entry = QueueEntry(**dict(zip(_QUEUE_COLUMNS, row[:width], strict=True)))
            if entry.application_id not in busy:
                return entry, CaseRecord(**dict(zip(_CASE_COLUMNS, row[width:], strict=True))), place
        return None

    # ---- offers ------------------------------------------------------------------------------

    async def allocate_all(self) -> list[dict[str, Any]]:
        """Offer every available dwelling, oldest first, to whoever is next on its list."""
        ids = await self.runtime.db.run(lambda connection: connection.execute(_AVAILABLE).scalars().all(),
                                        write=False)
        offers = [await self.allocate(i) for i in ids]  # type: ignore[arg-type]
        return [o for o in offers if o is not None]

    async def allocate(self, dwelling_id: int) -> dict[str, Any] | None:
        """Offer an available dwelling to the next applicant of its list: the signed decision,
        delivered; None when nobody on the list is waiting for it."""
        async with self._lock:
            dwelling = await self._dwelling(dwelling_id)
            if dwelling.state != "available":
                return None
            found = await self._next_in_line(dwelling)
            if found is None:
                return None
            entry, case, place = found
            now = await self.runtime.now()
            due = ANSWER_TERM.add_to(now)
            allocation = Allocation(
                dwelling_id=dwelling_id, application_id=entry.application_id, queue_list=entry.queue_list,
                sequence_number=entry.sequence_number, place=place, offered_us=to_us(now),
                answer_by_us=to_us(due), document="{}", signature="",
                delivered_to=notice_service(case),
            )
            values = {column: getattr(allocation, column) for column in _ALLOCATIONS.columns.keys() if column != "id"}
            allocation.id = await self.runtime.db.run(
                lambda connection: connection.execute(_ADD_ALLOCATION, values).scalar_one())
            document = self._decision(allocation, dwelling, case, now, due)
            try:
                signature = await self.sign(document)
                await self.runtime.gateway(regional_gateway(get_reglament(case.reglament).gateway.route_id)).send(
                    allocation.delivered_to,
                    {"applicationId": case.application_id, "reglament": case.reglament, "channel": case.channel,
                     "registrationNumber": case.registration_number, "kind": document["type"],
                     "document": document, "signature": signature},
                    correlation_id=case.application_id,
                )
            except (GatewayFault, RuntimeError) as exc:
                await self.runtime.db.run(
                    lambda connection: connection.execute(_REMOVE_ALLOCATION, {"at_id": allocation.id}))
                raise AllocationError(502, "not_delivered", {
                    "kk": "Тұрғын үй беру туралы шешім өтініш берушіге жеткізілмеді",
                    "ru": "Решение о предоставлении жилища не доставлено заявителю",
                    "en": f"The decision could not be signed or delivered to {allocation.delivered_to}: {exc}"},
                ) from None
            signed = {"at_id": allocation.id, "document": json.dumps(document, ensure_ascii=False),
                      "signature": signature}

            def offer(connection: Connection) -> Any:
                row = connection.execute(_SET_ALLOCATION, signed).mappings().one()
                assert connection.execute(_SET_DWELLING, {"at_id": dwelling_id, "new_state": "offered"}).rowcount == 1
                return row

            stored = Allocation(**await self.runtime.db.run(offer))
            await self.runtime.clock.schedule(SYSTEM, TIMER_KIND, due, {"allocation": allocation.id},
                                              application_id=case.application_id)
            return allocation_view(stored)

    def _decision(self, allocation: Allocation, dwelling: Dwelling, case: CaseRecord,
                  now: datetime, due: datetime) -> dict[str, Any]:
        reglament = get_reglament(case.reglament)
        queue = reglament.queue_list(allocation.queue_list)
        assert queue is not None
        fund = FUNDS[dwelling.fund]
        answer_by = to_local(due).date().isoformat()
        number, place = allocation.sequence_number, allocation.place
        return {
            "type": "housing-decision",
            "decisionNumber": f"{reglament.provider.registration_prefix}-ТҮ-{allocation.id}",
            "allocationId": allocation.id,
            "reglament": reglament.id,
            "applicationId": case.application_id,
            "registrationNumber": case.registration_number,
            "applicant": {"iin": case.applicant_iin},
            "provider": {"name": reglament.provider.name.kk, "bin": reglament.provider.organisation.bin},
            "date": to_local(now).isoformat(),
            "dwelling": {"id": dwelling.id, "address": dwelling.address, "rooms": dwelling.rooms,
                         "areaM2": dwelling.area_m2, "fund": dwelling.fund, "fundName": fund},
            "queue": {"list": queue.code, "listName": {"kk": queue.kk, "ru": queue.ru, "en": queue.en},
                      "sequenceNumber": number, "place": place},
            "legalGround": LEGAL_GROUND,
            "answerBy": to_local(due).isoformat(),
            "ifDeclined": DECLINE_RULE,
            "text": {
                "kk": f"ЖСН {case.applicant_iin} өтініш берушіге «{queue.kk}» тізімі бойынша (реттік нөмірі – "
                      f"{number}) тұрғын үй беру туралы шешім: {dwelling.address}, {dwelling.rooms} бөлме, "
                      f"{dwelling.area_m2:g} м², {fund['kk']}. Негіздеме: {LEGAL_GROUND['kk']}. "
                      f"Келісіміңізді немесе бас тартуыңызды {answer_by} дейін хабарлаңыз.",
                "ru": f"Решение о предоставлении жилища заявителю ИИН {case.applicant_iin} по списку «{queue.ru}» "
                      f"(порядковый номер – {number}): {dwelling.address}, комнат: {dwelling.rooms}, "
                      f"{dwelling.area_m2:g} м², {fund['ru']}. Основание: {LEGAL_GROUND['ru']}. "
                      f"Сообщите о согласии или отказе до {answer_by}.",
                "en": f"Decision to provide housing to applicant IIN {case.applicant_iin} of the list "
                      f"\"{queue.en}\" (sequence number {number}): {dwelling.address}, {dwelling.rooms} room(s), "
                      f"{dwelling.area_m2:g} m², {fund['en']}. Ground: {LEGAL_GROUND['en']}. "
                      f"Answer (accept or decline) by {answer_by}.",
            },
        }

    # ---- the applicant's answer --------------------------------------------------------------

    async def accept(self, allocation_id: int) -> dict[str, Any]:
        """The applicant accepts: housed, off the list; the dwelling is theirs."""
        async with self._lock:
            allocation = await self._open(allocation_id)
            now_us = to_us(await self.runtime.now())
            answered = {"at_id": allocation.id, "state": "accepted", "answered_us": now_us}

            def house(connection: Connection) -> Any:
                row = connection.execute(_SET_ALLOCATION, answered).mappings().one()
                assert connection.execute(
                    _SET_DWELLING, {"at_id": row["dwelling_id"], "new_state": "allocated"}).rowcount == 1
                connection.execute(_ADD_OUTCOME, {"application_id": row["application_id"], "outcome": "housed",
                                                  "at_us": now_us, "allocation_id": row["id"]})
                return row

            stored = Allocation(**await self.runtime.db.run(house))
            return {"allocation": allocation_view(stored), "next": None}

    async def decline(self, allocation_id: int) -> dict[str, Any]:
        """The applicant declines: keeps their place; the dwelling goes to the next in line."""
        return await self._release(allocation_id, "declined")

    async def _answer_due(self, timer: Timer) -> None:
        """No answer by the deadline counts as a decline."""
        allocation = await self._stored(int(timer.payload["allocation"]))
        if allocation is not None and allocation.state == "offered":
            await self._release(allocation.id, "expired", deadline=True)  # type: ignore[arg-type]

    async def _stored(self, allocation_id: int) -> Allocation | None:
        found = await self.runtime.db.run(
            lambda connection: connection.execute(_ALLOCATION, {"of_id": allocation_id}).mappings().first(),
            write=False)
        return None if found is None else Allocation(**found)

    async def _release(self, allocation_id: int, state: str, deadline: bool = False) -> dict[str, Any]:
        async with self._lock:
            allocation = await self._open(allocation_id, deadline=deadline)
            answered = {"at_id": allocation.id, "state": state, "answered_us": to_us(await self.runtime.now())}

            def release(connection: Connection) -> Any:
                row = connection.execute(_SET_ALLOCATION, answered).mappings().one()
                assert connection.execute(
                    _SET_DWELLING, {"at_id": row["dwelling_id"], "new_state": "available"}).rowcount == 1
                return row

            stored = Allocation(**await self.runtime.db.run(release))
        following = await self.allocate(stored.dwelling_id)
        return {"allocation": allocation_view(stored), "next": following}

    async def _open(self, allocation_id: int, deadline: bool = False) -> Allocation:
        allocation = None
        if allocation_id in ALLOCATION_IDS:
            allocation = await self._stored(allocation_id)
        if allocation is None:
            raise AllocationError(404, "not_found", {"kk": f"№ {allocation_id} ұсыныс жоқ",
                                                     "ru": f"предложения № {allocation_id} нет",
                                                     "en": f"no allocation {allocation_id}"})
        if allocation.state != "offered":
            raise AllocationError(409, "already_answered", {
                "kk": f"Ұсынысқа жауап берілген: {allocation.state}",
                "ru": f"На предложение уже ответили: {allocation.state}",
                "en": f"The offer is no longer open: it was {allocation.state}"})
        if not deadline and to_us(await self.runtime.now()) > allocation.answer_by_us:
            answer_by = _iso(allocation.answer_by_us)
            raise AllocationError(409, "answer_too_late", {
                "kk": f"Жауап беру мерзімі өтіп кетті ({answer_by}): ұсыныс бас тартылған болып саналады",
                "ru": f"Срок ответа истёк ({answer_by}): предложение считается отклонённым",
                "en": f"The answer is too late: it was due by {answer_by} ({ANSWER_TERM.english()} from the "
                      "offer); no answer counts as a decline"})
        return allocation

    async def allocations(self, state: str | None = None) -> list[dict[str, Any]]:
        return [allocation_view(a) for a in await self._listed(Allocation, state)]
