"""The State Corporation operator workstation app.

Its part of the reglaments' State Corporation channel (section 4, item 9) grows with the
corporation-channel work; today it takes the providers' results for the front office.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
from fastapi import APIRouter, FastAPI
from sqlmodel import select

from corporation_ws.models import CorporationModel, ReceivedResult
from gateway_protocol.errors import ErrorCode
from gateway_protocol.provider import Incoming, ProviderError, provider_router
from simulation.calendar import to_local
from simulation.clock import from_us, to_us
from simulation.runtime import Runtime, system_app
from simulation.settings import Settings

router = APIRouter(prefix="/api", tags=["workstation"])


@router.get("/results", summary="Results waiting to be handed to applicants")
async def results(runtime: Runtime) -> list[dict[str, Any]]:
    async with runtime.db.session() as session:
        rows = (await session.exec(select(ReceivedResult).order_by(ReceivedResult.received_us))).all()
    return [
        {
            "applicationId": r.application_id,
            "reglament": r.reglament,
            "registrationNumber": r.registration_number,
            "decision": r.decision,
            "received": to_local(from_us(r.received_us)).isoformat(),
            "document": json.loads(r.document),
        }
        for r in rows
    ]


def create_app(
    settings: Settings | None = None, transport: httpx.AsyncBaseTransport | None = None
) -> FastAPI:
    def routers(runtime):
        async def take_result(request: Incoming) -> dict[str, Any]:
            data = request.data if isinstance(request.data, dict) else {}
            if not data.get("applicationId") or not isinstance(data.get("document"), dict):
                raise ProviderError(ErrorCode.PROVIDER_REQUEST_INVALID, "applicationId and document are required")
            async with runtime.db.session() as session:
                await session.merge(
                    ReceivedResult(
                        application_id=str(data["applicationId"]),
                        reglament=str(data.get("reglament", "")),
                        registration_number=data.get("registrationNumber"),
                        decision=data.get("decision"),
                        received_us=to_us(await runtime.now()),
                        document=json.dumps(data["document"], ensure_ascii=False),
                        signature=str(data.get("signature", "")),
                    )
                )
                await session.commit()
            return {"applicationId": data["applicationId"], "received": True}

        return [
            provider_router(lambda: runtime, {"GK_ResultDelivery": take_result}, accept_from={"gateway"}),
            router,
        ]

    return system_app(
        "corporation_ws",
        tables=[CorporationModel.metadata],
        routers=routers,
        settings=settings,
        transport=transport,
    )
