"""The "Е-собес" app: ``ESOBES_HousingAidApplication`` behind the Almaty regional gateway."""

from __future__ import annotations

import httpx
from fastapi import FastAPI

from e_sobes.api import registrations_router
from e_sobes.models import ESobesModel
from e_sobes.service import SERVICE_ID, ESobes
from gateway_protocol.provider import provider_router
from runtime import system_app
from simulation.settings import Settings

REGIONAL_GATEWAY = "gateway-almaty"


def create_app(
    settings: Settings | None = None, transport: httpx.AsyncBaseTransport | None = None
) -> FastAPI:
    def routers(runtime):
        system = ESobes(runtime)
        return [
            provider_router(lambda: runtime, {SERVICE_ID: system.receive}, accept_from={REGIONAL_GATEWAY}),
            registrations_router(system),
        ]

    return system_app(
        "e_sobes",
        tables=[ESobesModel.metadata],
        routers=routers,
        settings=settings,
        transport=transport,
    )
