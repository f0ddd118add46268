"""The State Corporation's electronic queue booked on the portal, and the contact centre 1414.

Seed 004, item 11: the service is given in the order of the electronic queue, which the applicant
may book ("брондау") on the portal. The portal sends ``GK_EQueueBooking`` through ЭҮШ: a slot of
:data:`SLOT_MINUTES` at the front office, within its working hours of the reglament (its
``offices``), in the future, not booked already; the answer is a queue ticket (``Б-NNN``) that the
front office takes like any ticket of ``POST /api/tickets`` -- from the booked applicant.

Item 16: the unified contact centre 1414 tells an application's status by its number
(``GET /api/contact-centre/applications/{number}``): from the front office's own records when the
State Corporation took the application, else by asking through ЭҮШ the information system whose
numbers start so (``contact_centre`` of this package's staff.yaml) -- never from another system's
tables.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from importlib.resources import files
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, bindparam, func, insert, or_, select
from sqlalchemy.exc import IntegrityError

from corporation_ws.models import FrontApplication, Ticket
from gateway_protocol.errors import ErrorCode, GatewayFault
from gateway_protocol.provider import Incoming, ProviderError
from reglaments import ReglamentError, get_reglament
from simulation import yamltext
from simulation.calendar import to_local
from simulation.clock import from_us, to_us
from simulation.identifiers import IdentifierError, validate_iin

if TYPE_CHECKING:
    from corporation_ws.service import FrontOffice

SYSTEM = "corporation_ws"
SLOT_MINUTES = 15
"""A booked slot's length (the simulator's own: the 15 minutes the seed gives the acceptance)."""

# The booking's and the contact centre's statements, built once.
_TICKETS = Ticket.__table__
_APPLICATIONS = FrontApplication.__table__
_SLOT_TAKEN = select(_TICKETS.c.number).where(_TICKETS.c.reglament == bindparam("of_reglament"),
                                              _TICKETS.c.booked_us == bindparam("at_us"))
_BOOKED = select(func.count()).select_from(_TICKETS).where(_TICKETS.c.booked_us.is_not(None))
_ADD_TICKET = insert(_TICKETS)
_BY_NUMBER = select(_APPLICATIONS).where(or_(_APPLICATIONS.c.registration_number == bindparam("number"),
                                             _APPLICATIONS.c.id == bindparam("number")))


def _invalid(field: str, en: str, kk: str, ru: str) -> ProviderError:
    return ProviderError(ErrorCode.PROVIDER_REQUEST_INVALID, f"{field}: {en}",
                         data={"field": field, "message_kk": kk, "message_ru": ru})


async def book(office: FrontOffice, request: Incoming) -> dict[str, Any]:
    """``GK_EQueueBooking``: ``reglament``, the applicant's ``iin`` and the slot ``at`` (ISO 8601
    with its offset): the ticket, or a refusal naming the field and the rule."""
    data = request.data if isinstance(request.data, dict) else {}
    try:
        reglament = get_reglament(str(data.get("reglament")))
    except ReglamentError as exc:
        raise _invalid("reglament", str(exc), "мұндай қызмет жоқ", "такой услуги нет") from None
    if not any(c.first.system == SYSTEM for c in reglament.channels.values()):
        raise _invalid("reglament", f"{reglament.id} is not taken at the State Corporation",
                       "бұл қызмет Мемлекеттік корпорацияда көрсетілмейді", "эта услуга не оказывается в Госкорпорации")
    try:
        iin = validate_iin(str(data.get("iin", "")), "iin")
    except IdentifierError as exc:
        raise _invalid("iin", str(exc), exc.message_kk, exc.message_ru) from None
    try:
        at = datetime.fromisoformat(str(data.get("at")))
    except ValueError:
        at = None
    if at is None or at.tzinfo is None:
        raise _invalid("at", "a date and time with its offset, e.g. 2026-11-03T10:15:00+05:00",
                       "уақыт белдеуімен күні мен уақыты қажет", "нужны дата и время с часовым поясом")
    if at.second or at.microsecond or at.minute % SLOT_MINUTES:
        raise _invalid("at", f"slots begin every {SLOT_MINUTES} minutes", f"уақыт {SLOT_MINUTES} минуттан басталады",
                       f"слоты начинаются каждые {SLOT_MINUTES} минут")
    now = await office.runtime.now()
    if at <= now:
        raise _invalid("at", "the slot has passed", "бұл уақыт өтіп кетті", "это время прошло")
    hours = reglament.schedule_of(SYSTEM)
    if not (hours.is_open(at) and hours.is_open(at + timedelta(minutes=SLOT_MINUTES - 1))):
        raise _invalid("at", "the front office does not work then", "Мемлекеттік корпорация бұл уақытта жұмыс істемейді",
                       "Госкорпорация в это время не работает")

    def take(connection: Connection) -> Ticket:  # the slot checked and booked in one transaction
        if connection.execute(_SLOT_TAKEN, {"of_reglament": reglament.id, "at_us": to_us(at)}).first() is not None:
            raise ProviderError(ErrorCode.PROVIDER_REFUSED, f"at: the slot {to_local(at):%Y-%m-%d %H:%M} is booked",
                                data={"field": "at", "message_kk": "бұл уақыт брондалған", "message_ru": "это время занято"})
        count = connection.execute(_BOOKED).scalar_one()
        ticket = Ticket(number=f"Б-{count + 1:03d}", reglament=reglament.id, issued_us=to_us(now),
                        booked_us=to_us(at), booked_iin=iin)
        connection.execute(_ADD_TICKET, ticket.model_dump())
        return ticket

    for attempt in range(100):
        try:
            ticket = await office.runtime.db.run(take)
            break
        except IntegrityError:  # booked at the same moment: the later one takes the next number
            if attempt == 99:
                raise
    local = to_local(at)
    return {"ticket": ticket.number, "reglament": reglament.id, "iin": iin, "at": local.isoformat(),
            "text": {"kk": f"Электрондық кезек брондалды: {local:%Y-%m-%d %H:%M}, талон {ticket.number}",
                     "ru": f"Электронная очередь забронирована: {local:%Y-%m-%d %H:%M}, талон {ticket.number}",
                     "en": f"The electronic queue is booked: {local:%Y-%m-%d %H:%M}, ticket {ticket.number}"}}


def booking_problem(ticket: Ticket, applicant_iin: str) -> str | None:
    """Why a booked ticket is not this applicant's (None when it is, or not booked)."""
    if ticket.booked_iin and ticket.booked_iin != applicant_iin:
        return "the ticket was booked by another applicant"
    return None


# ---- the contact centre 1414 ------------------------------------------------------------------


def _systems() -> list[dict[str, str]]:
    staff = yamltext.safe_load((files(__package__) / "staff.yaml").read_text(encoding="utf-8"))
    return list((staff.get("contact_centre") or {}).get("systems") or [])


async def application_status(office: FrontOffice, number: str) -> dict[str, Any] | None:
    """An application's status by its number, as 1414 tells it; None when nobody knows it."""
    own = await office.runtime.db.run(lambda connection: connection.execute(_BY_NUMBER, {"number": number}).first(),
                                      write=False)
    if own is not None:
        receipts = [r for r in json.loads(own.receipts) if r.get("type") == "acceptance-receipt"]
        return {"number": number, "source": SYSTEM, "reglament": own.reglament, "status": own.status,
                "registrationNumber": own.registration_number,
                "resultDue": receipts[-1].get("resultDue") if receipts else None,
                "takenAt": to_local(from_us(own.created_us)).isoformat()}
    for system in _systems():
        if not number.startswith(str(system["prefix"])):
            continue
        try:
            reply = await office.runtime.gateway().send(str(system["service_id"]), {"registrationNumber": number},
                                                         route_id=system.get("route_id"))
        except GatewayFault as fault:
            if fault.code == ErrorCode.PROVIDER_NOT_FOUND:
                return None
            raise
        return {"number": number, "source": system["service_id"], **reply.responseData.data}
    return None
