"""The provider workstation's own endpoints: what its staff see."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlmodel import select

from provider_ws.models import CaseRecord, QueueEntry
from simulation.calendar import to_local
from simulation.clock import from_us
from runtime import Runtime

router = APIRouter(prefix="/api", tags=["workstation"])


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
    async with runtime.db.session() as session:
        row = (
            await session.exec(select(CaseRecord).where(CaseRecord.application_id == application_id))
        ).first()
    if row is None:
        return JSONResponse({"error": "not_found", "message": f"no application {application_id}"}, 404)
    return _case(row)


@router.get("/queue/{queue_list}", summary="One queue list in order")
async def queue(queue_list: str, runtime: Runtime) -> list[dict[str, Any]]:
    async with runtime.db.session() as session:
        rows = (
            await session.exec(
                select(QueueEntry)
                .where(QueueEntry.queue_list == queue_list)
                .order_by(QueueEntry.sequence_number)
            )
        ).all()
    return [
        {"sequenceNumber": e.sequence_number, "applicationId": e.application_id,
         "filedAt": to_local(from_us(e.filed_us)).isoformat()}
        for e in rows
    ]
