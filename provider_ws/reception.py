"""The chancellery's live queue: applicants who come to the provider's office in person wait their
turn, and the clerk calls them one by one, in the order they came -- except those a reglament has
served out of turn (``decision.out_of_turn_statuses``: seed 002, item 11.1, the Great Patriotic
War's disabled veterans and participants), who are called before everyone waiting.

Whether an applicant is served out of turn is read from the statuses on record
(``GCVP_IncomesAndStatus``, asked through the reglament's regional gateway with the visitor's
consent), as the clerk reads the veteran's certificate: the simulator's own way of seeing it. The
applicant called then hands the package to the chancellery (``POST /api/chancellery/applications``).
"""

from __future__ import annotations

import json
import uuid
from typing import TYPE_CHECKING, Any

from sqlalchemy import BigInteger, Column, bindparam, insert, select, update
from sqlmodel import Field

from gateway_protocol.errors import GatewayFault
from provider_ws.decision import STATUS_CODES, held_statuses
from provider_ws.models import ProviderModel
from reglaments import ReglamentError, get_reglament
from simulation.calendar import to_local
from simulation.clock import from_us, to_us
from simulation.identifiers import IdentifierError, validate_iin

if TYPE_CHECKING:
    from provider_ws.service import ProviderWorkstation


class ChancelleryVisitor(ProviderModel, table=True):
    """One applicant waiting at the chancellery, or called."""

    __tablename__ = "chancellery_visitor"
    id: int | None = Field(default=None, primary_key=True)
    reglament: str = Field(index=True)
    applicant_iin: str = Field(max_length=12)
    arrived_us: int = Field(sa_column=Column(BigInteger, nullable=False))
    out_of_turn: bool = False
    statuses: str = Field(default="[]", description="the statuses on record that put them out of turn (JSON)")
    called_us: int | None = Field(default=None, sa_column=Column(BigInteger))


_VISITORS = ChancelleryVisitor.__table__
_WAITING = select(_VISITORS).where(_VISITORS.c.reglament == bindparam("of_reglament"), _VISITORS.c.called_us.is_(None))
_ADD_VISITOR = insert(_VISITORS).returning(_VISITORS.c.id)
_CALL = update(_VISITORS).where(_VISITORS.c.id == bindparam("at_id")).values(
    called_us=bindparam("new_called_us")).returning(*_VISITORS.columns)


class ReceptionError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message


def _reglament(reglament_id: str) -> Any:
    try:
        reglament = get_reglament(reglament_id)
    except ReglamentError as exc:
        raise ReceptionError(404, str(exc)) from None
    if reglament.provider.system != "provider_ws" or reglament.channel_starting_at("provider_ws") is None:
        raise ReceptionError(422, f"reglament {reglament.id} takes no application at the provider's chancellery")
    return reglament


def out_of_turn_statuses(reglament: Any) -> list[str]:
    """The statuses whose holders the reglament's chancellery serves out of turn."""
    return list((reglament.decision or {}).get("out_of_turn_statuses") or [])


def _order(visitor: ChancelleryVisitor) -> tuple[bool, int, int]:
    return (not visitor.out_of_turn, visitor.arrived_us, visitor.id or 0)


def _view(visitor: ChancelleryVisitor, place: int | None) -> dict[str, Any]:
    statuses = json.loads(visitor.statuses)
    return {
        "number": visitor.id, "reglament": visitor.reglament, "applicantIin": visitor.applicant_iin,
        "arrivedAt": to_local(from_us(visitor.arrived_us)).isoformat(),
        "outOfTurn": visitor.out_of_turn,
        "why": {"statuses": statuses,
                "kk": "кезектен тыс қызмет көрсетіледі: " + ", ".join(STATUS_KK.get(s, s) for s in statuses)}
        if visitor.out_of_turn else None,
        "place": place,
        "calledAt": to_local(from_us(visitor.called_us)).isoformat() if visitor.called_us else None,
    }


STATUS_KK = {"war-participant": "Ұлы Отан соғысының қатысушысы", "war-disabled": "Ұлы Отан соғысының мүгедегі"}


async def _waiting(ws: ProviderWorkstation, reglament_id: str) -> list[ChancelleryVisitor]:
    rows = await ws.runtime.db.run(lambda connection: connection.execute(
        _WAITING, {"of_reglament": reglament_id}).mappings().all(), write=False)
    return sorted((ChancelleryVisitor(**row) for row in rows), key=_order)


async def join(ws: ProviderWorkstation, body: dict[str, Any]) -> dict[str, Any]:
    """An applicant comes to the chancellery: placed in the waiting line (before everyone not out of
    turn, when their statuses on record say so); their place in the line."""
    reglament = _reglament(str(body.get("reglament")))
    try:
        iin = validate_iin(str((body.get("applicant") or {}).get("iin", "")), "applicant.iin")
    except IdentifierError as exc:
        raise ReceptionError(422, str(exc)) from None
    wanted = out_of_turn_statuses(reglament)
    unknown = [s for s in wanted if s not in STATUS_CODES]
    if unknown:
        raise ReceptionError(422, f"reglament {reglament.id}: unknown out_of_turn_statuses {unknown}")
    now = await ws.runtime.now()
    held: list[str] = []
    if wanted:
        try:
            reply = await ws.gateway_of(reglament).send(
                "GCVP_IncomesAndStatus", {"iin": iin, "consentRef": f"chancellery-queue:{uuid.uuid4()}"})
            answer = reply.responseData.data or {}
        except GatewayFault:
            answer = {}  # nothing on record: served in turn
        held = sorted(set(wanted) & held_statuses(answer.get("statuses") or [], to_local(now).date()))
    visitor = ChancelleryVisitor(reglament=reglament.id, applicant_iin=iin, arrived_us=to_us(now),
                                 out_of_turn=bool(held), statuses=json.dumps(held))
    values = {column: getattr(visitor, column) for column in _VISITORS.columns.keys() if column != "id"}
    visitor.id = await ws.runtime.db.run(lambda connection: connection.execute(_ADD_VISITOR, values).scalar_one())
    line = await _waiting(ws, reglament.id)
    return _view(visitor, next(i for i, v in enumerate(line, 1) if v.id == visitor.id))


async def waiting(ws: ProviderWorkstation, reglament_id: str) -> list[dict[str, Any]]:
    """Those waiting, in the order the clerk will call them."""
    reglament = _reglament(reglament_id)
    return [_view(v, i) for i, v in enumerate(await _waiting(ws, reglament.id), 1)]


async def call_next(ws: ProviderWorkstation, reglament_id: str) -> dict[str, Any]:
    """The clerk calls the next applicant: the first out of turn, else the first who came."""
    reglament = _reglament(reglament_id)
    line = await _waiting(ws, reglament.id)
    if not line:
        raise ReceptionError(409, f"nobody waits at the chancellery for {reglament.id}")
    params = {"at_id": line[0].id, "new_called_us": to_us(await ws.runtime.now())}
    called = await ws.runtime.db.run(lambda connection: connection.execute(_CALL, params).mappings().one())
    return _view(ChancelleryVisitor(**called), None)
