"""The provider workstation app (ЭҮӨШ АЖО)."""

from __future__ import annotations

from typing import Any, Literal

import httpx
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from gateway_protocol.provider import provider_router
from provider_ws.api import router as workstation_router
from provider_ws.models import ProviderModel
from provider_ws.service import REGIONAL_GATEWAY, ProviderWorkstation, StaffError
from runtime import system_app
from simulation.settings import Settings


class StaffAction(BaseModel):
    """What a staff member does in manual mode (every field optional but where it says)."""

    executor: str | None = Field(default=None, description="step 2: the head names the responsible executor")
    decision: Literal["approve", "refuse"] | None = Field(
        default=None, description="step 3: the executor's decision; left out, the rules decide (3-шарт)"
    )
    ground: dict[str, str] | None = Field(default=None, description='step 3, refuse: {"kk": …, "ru": …, "en": …}')


def staff_router(workstation: ProviderWorkstation) -> APIRouter:
    router = APIRouter(prefix="/api", tags=["workstation: manual mode"])

    @router.post("/cases/{application_id}/steps/{number}",
                 summary="Perform staff procedure N of section 2 now (1 register, 2 assign, 3 check and decide, 4 sign, 5 dispatch)")
    async def perform(application_id: str, number: int, action: StaffAction | None = None) -> dict[str, Any]:
        return await workstation.perform_manually(application_id, number, action.model_dump(exclude_none=True) if action else None)

    @router.get("/cases/{application_id}/next", summary="The staff step a case waits for")
    async def next_step(application_id: str) -> dict[str, Any]:
        return await workstation._case_view(application_id)

    return router


def create_app(
    settings: Settings | None = None, transport: httpx.AsyncBaseTransport | None = None
) -> FastAPI:
    holder: dict[str, ProviderWorkstation] = {}

    def routers(runtime):
        workstation = holder["ws"] = ProviderWorkstation(runtime)
        return [
            provider_router(
                lambda: runtime,
                {"HousingQueueRegistration": workstation.register},
                accept_from={REGIONAL_GATEWAY},
            ),
            workstation_router,
            staff_router(workstation),
        ]

    async def on_start(runtime) -> None:
        await holder["ws"].start()

    app = system_app(
        "provider_ws",
        tables=[ProviderModel.metadata],
        routers=routers,
        settings=settings,
        transport=transport,
        on_start=on_start,
    )

    @app.exception_handler(StaffError)
    async def staff_error(_: Request, exc: StaffError) -> JSONResponse:
        return JSONResponse({"error": "staff_step", "message": exc.message}, status_code=exc.status)

    return app
