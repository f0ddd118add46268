"""The "Е-әкімдік" app: ``EAKIMDIK_DocumentRegistration`` behind the West Kazakhstan gateway."""

from __future__ import annotations

import httpx
from fastapi import FastAPI

from e_akimdik.api import registrations_router
from e_akimdik.models import EAkimdikModel
from e_akimdik.service import SERVICE_ID, EAkimdik
from gateway_protocol.provider import provider_router
from runtime import system_app
from simulation.settings import Settings

REGIONAL_GATEWAY = "gateway-wko"


def create_app(
    settings: Settings | None = None, transport: httpx.AsyncBaseTransport | None = None
) -> FastAPI:
    def routers(runtime):
        system = EAkimdik(runtime)
        return [
            provider_router(lambda: runtime, {SERVICE_ID: system.register}, accept_from={REGIONAL_GATEWAY}),
            registrations_router(system),
        ]

    return system_app(
        "e_akimdik",
        tables=[EAkimdikModel.metadata],
        routers=routers,
        settings=settings,
        transport=transport,
    )
