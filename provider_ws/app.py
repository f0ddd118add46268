"""The provider workstation app (ЭҮӨШ АЖО)."""

from __future__ import annotations

import httpx
from fastapi import FastAPI

from gateway_protocol.provider import provider_router
from provider_ws.api import router as workstation_router
from provider_ws.models import ProviderModel
from provider_ws.service import REGIONAL_GATEWAY, ProviderWorkstation
from simulation.runtime import system_app
from simulation.settings import Settings


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
        ]

    async def on_start(runtime) -> None:
        await holder["ws"].start()

    return system_app(
        "provider_ws",
        tables=[ProviderModel.metadata],
        routers=routers,
        settings=settings,
        transport=transport,
        on_start=on_start,
    )
