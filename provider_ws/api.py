"""The provider workstation's own endpoints: what its staff see and do.

Who may call them (docs/security.md): what names an applicant -- cases, queue lists, those waiting
at the chancellery, offers -- is read by the auditor or the administrator (:data:`AUDIT`); what a
staff member does to a case or a queue -- a staff procedure, a paper application taken or handed
over, a visitor queued or called, a dwelling registered, offers made, an offer's answer recorded --
is the tester's hand in the staff's place, and the administrator's (:data:`ADMIN`). The housing
fund's dwellings name nobody and are anyone's to read."""

from __future__ import annotations

import json
from typing import Any, Literal

from fastapi import APIRouter, Body, Query
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlmodel import select

from provider_ws.allocation import AllocationError, HousingAllocation, queue_reglament
from provider_ws import reception
from provider_ws.models import CaseRecord, QueueEntry
from provider_ws.service import ProviderWorkstation, StaffError, delivery_registers, provided_reglaments, stored_case
from simulation.calendar import to_local
from simulation.clock import from_us
from runtime import Runtime
from simulation.access import ADMIN, AUDIT

router = APIRouter(prefix="/api", tags=["workstation"], dependencies=[AUDIT])
"""Cases and queue lists: every one names applicants."""


def _case(case: CaseRecord) -> dict[str, Any]:
    return {
        "registrationNumber": case.registration_number,
        "applicationId": case.application_id,
        "reglament": case.reglament,
        "channel": case.channel,
        "applicantIin": case.applicant_iin,
        "queueList": case.queue_list,
        "registeredAt": to_local(from_us(case.registered_us)).isoformat(),
        "state": case.state,
        "decision": case.decision,
        "refusalGround": json.loads(case.refusal_ground) if case.refusal_ground else None,
        "result": json.loads(case.result_document) if case.result_document else None,
    }


@router.get("/cases", summary="Registered applications")
async def cases(runtime: Runtime) -> list[dict[str, Any]]:
    async with runtime.db.session() as session:
        rows = (await session.exec(select(CaseRecord).order_by(CaseRecord.registered_us))).all()
    return [_case(c) for c in rows]


@router.get("/cases/{application_id}", summary="One application")
async def case(application_id: str, runtime: Runtime):
    row = await stored_case(runtime, application_id)
    if row is None:
        return JSONResponse({"error": "not_found", "message": f"no application {application_id}"}, 404)
    return _case(row)


@router.get("/cases/{application_id}/delivery-registers",
            summary="The delivery registers a courier brought with the application, signed by both sides")
async def registers_of(application_id: str, runtime: Runtime):
    if await stored_case(runtime, application_id) is None:
        return JSONResponse({"error": "not_found", "message": f"no application {application_id}"}, 404)
    return await delivery_registers(runtime, application_id)


REGLAMENT_OF_LIST = (
    "the reglament whose list it is (each provider organisation keeps its own lists); may be left out "
    "when only one reglament served here keeps a list of that code"
)


@router.get("/queue/{queue_list}", summary="One queue list of one reglament in order")
async def queue(queue_list: str, runtime: Runtime,
                reglament: str | None = Query(default=None, description=REGLAMENT_OF_LIST)):
    try:
        reglament_id = queue_reglament(queue_list, reglament).id
    except AllocationError as exc:
        return JSONResponse(exc.body(), status_code=exc.status)
    async with runtime.db.session() as session:
        rows = (
            await session.exec(
                select(QueueEntry)
                .where(QueueEntry.reglament == reglament_id, QueueEntry.queue_list == queue_list)
                .order_by(QueueEntry.sequence_number)
            )
        ).all()
    return [
        {"reglament": e.reglament, "sequenceNumber": e.sequence_number, "applicationId": e.application_id,
         "filedAt": to_local(from_us(e.filed_us)).isoformat()}
        for e in rows
    ]



# ---- manual mode: people perform the staff procedures ------------------------------------------


class StaffAction(BaseModel):
    """What a staff member does in manual mode (every field optional but where it says)."""

    executor: str | None = Field(default=None, description="assigning the case: the head names the responsible executor")
    decision: Literal["approve", "refuse"] | None = Field(
        default=None, description="the executor's check: the decision; left out, the rules decide"
    )
    ground: dict[str, str] | None = Field(default=None, description='refuse: {"kk": …, "ru": …, "en": …}')


class PaperApplication(BaseModel):
    """An application the chancellery takes on paper."""

    reglament: str = Field(description="the reglament whose channel begins at the provider's chancellery")
    applicant: dict[str, str] = Field(description='{"iin": "…"}')
    attachments: list[dict[str, Any]] = Field(description='the documents presented: [{"code": "…"}, …]')
    form: dict[str, Any] = Field(default={}, description="the request's fields, if the reglament has any")


class Visitor(BaseModel):
    """An applicant who comes to the chancellery in person."""

    reglament: str = Field(description="the reglament they come for")
    applicant: dict[str, str] = Field(description='{"iin": "…"}')


def chancellery_router(workstation: ProviderWorkstation) -> APIRouter:
    """The chancellery's desk: an application taken on paper, its case and the result collected."""
    desk = APIRouter(prefix="/api/chancellery", tags=["workstation: chancellery"])

    def refused(exc: StaffError) -> JSONResponse:
        return JSONResponse({"error": "chancellery", "message": exc.message}, status_code=exc.status)

    @desk.post("/applications", dependencies=[ADMIN], status_code=201,
               summary="Take an application on paper: documents checked, registered, the reglament's walk started")
    async def take(application: PaperApplication):
        try:
            return await workstation.take_paper_application(application.model_dump())
        except StaffError as exc:
            return refused(exc)

    @desk.get("/applications/{application_id}", dependencies=[AUDIT],
              summary="An application taken here: its state and the signed result with its signature checked")
    async def view(application_id: str):
        try:
            return await workstation.chancellery_view(application_id)
        except StaffError as exc:
            return refused(exc)

    @desk.post("/applications/{application_id}/collect", dependencies=[ADMIN], summary="The applicant collects the result kept here")
    async def collect(application_id: str):
        try:
            return await workstation.hand_over(application_id)
        except StaffError as exc:
            return refused(exc)

    def unqueued(exc: reception.ReceptionError) -> JSONResponse:
        return JSONResponse({"error": "chancellery_queue", "message": exc.message}, status_code=exc.status)

    @desk.post("/queue", dependencies=[ADMIN], status_code=201,
               summary="An applicant comes to the chancellery and waits their turn (out of turn when the reglament "
                       "says so for statuses they hold on record): their place")
    async def join(visitor: Visitor):
        try:
            return await reception.join(workstation, visitor.model_dump())
        except reception.ReceptionError as exc:
            return unqueued(exc)

    @desk.get("/queue", dependencies=[AUDIT], summary="Those waiting at the chancellery for a reglament, in the order they will be called")
    async def line(reglament: str):
        try:
            return await reception.waiting(workstation, reglament)
        except reception.ReceptionError as exc:
            return unqueued(exc)

    @desk.post("/queue/call", dependencies=[ADMIN], summary="The clerk calls the next applicant: out of turn first, else the first who came")
    async def call(reglament: str):
        try:
            return await reception.call_next(workstation, reglament)
        except reception.ReceptionError as exc:
            return unqueued(exc)

    return desk


def staff_router(workstation: ProviderWorkstation) -> APIRouter:
    """The manual mode's endpoints: a person does the staff procedure the case waits for."""
    staff_routes = APIRouter(prefix="/api", tags=["workstation: manual mode"])

    def refused(exc: StaffError) -> JSONResponse:
        return JSONResponse({"error": "staff_step", "message": exc.message}, status_code=exc.status)

    @staff_routes.post("/cases/{application_id}/steps/{number}", dependencies=[ADMIN],
                       summary="Perform staff procedure N of the reglament's section 2 now (the one the case waits for)")
    async def perform(application_id: str, number: int, action: StaffAction | None = None):
        try:
            return await workstation.perform_manually(
                application_id, number, action.model_dump(exclude_none=True) if action else None)
        except StaffError as exc:
            return refused(exc)

    @staff_routes.get("/cases/{application_id}/next", dependencies=[AUDIT], summary="The staff procedure a case waits for")
    async def next_step(application_id: str):
        try:
            return await workstation.case_view(application_id)
        except StaffError as exc:
            return refused(exc)

    return staff_routes

# ---- the decision to provide housing (provider_ws.allocation) --------------------------------


def allocation_router(head: Any) -> APIRouter:
    """The housing department's dwellings, offers and queue places.

    ``head``: the provider workstation (its NCALayer holds the head's SIGN key) or a
    ``sign(document) -> signature`` coroutine function; see :func:`provider_ws.allocation.head_signer`.
    Build it in the app's ``routers(runtime)``, where the workstation is made.
    """
    desk: dict[str, HousingAllocation] = {}
    example_reglament = next((r.id for r in provided_reglaments()), "")
    allocation_routes = APIRouter(prefix="/api", tags=["workstation: housing allocation"])

    def allocation_desk(runtime) -> HousingAllocation:
        if "desk" not in desk:
            desk["desk"] = HousingAllocation(runtime, head)
        return desk["desk"]

    if getattr(head, "runtime", None) is not None:  # the workstation: its timers know the answer deadline now
        allocation_desk(head.runtime)

    async def answer(work) -> Any:
        try:
            return await work
        except AllocationError as exc:
            return JSONResponse(exc.body(), status_code=exc.status)

    @allocation_routes.post("/dwellings", dependencies=[ADMIN], status_code=201,
                            summary="Register a dwelling for a queue list; it is offered at once to the first applicant waiting")
    async def register_dwelling(runtime: Runtime, body: dict[str, Any] = Body(
            examples=[{"address": "Алматы қ., Абай даңғылы 10, 5-пәтер", "rooms": 2, "areaM2": 54.3,
                       "fund": "state", "queueList": "socially-vulnerable", "reglament": example_reglament}])):
        return await answer(allocation_desk(runtime).register_dwelling(body))

    @allocation_routes.get("/dwellings", summary="Registered dwellings (state: available, offered, allocated)")
    async def dwellings(runtime: Runtime, state: str | None = None):
        return await answer(allocation_desk(runtime).dwellings(state))

    @allocation_routes.post("/allocations/run", dependencies=[ADMIN], summary="Offer every available dwelling to the next applicant of its list")
    async def allocate_all(runtime: Runtime):
        return await answer(allocation_desk(runtime).allocate_all())

    @allocation_routes.get("/allocations", dependencies=[AUDIT], summary="Offers made (state: offered, accepted, declined, expired)")
    async def allocations(runtime: Runtime, state: str | None = None):
        return await answer(allocation_desk(runtime).allocations(state))

    @allocation_routes.post("/allocations/{allocation_id}/accept", dependencies=[ADMIN], summary="The applicant accepts the offered dwelling")
    async def accept(allocation_id: int, runtime: Runtime):
        return await answer(allocation_desk(runtime).accept(allocation_id))

    @allocation_routes.post("/allocations/{allocation_id}/decline", dependencies=[ADMIN],
                            summary="The applicant declines: keeps the place; the dwelling goes to the next in line")
    async def decline(allocation_id: int, runtime: Runtime):
        return await answer(allocation_desk(runtime).decline(allocation_id))

    @allocation_routes.get("/queues/{queue_list}", dependencies=[AUDIT],
                           summary="A queue list of one reglament with each applicant's status and current place")
    async def queue_places(queue_list: str, runtime: Runtime,
                           reglament: str | None = Query(default=None, description=REGLAMENT_OF_LIST)):
        return await answer(allocation_desk(runtime).queue(queue_list, reglament))

    return allocation_routes
