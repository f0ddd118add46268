"""The registries app."""

from __future__ import annotations

import httpx
from fastapi import FastAPI

from gateway_protocol.provider import provider_router
from registries.models import RegistriesModel
from registries.service import Registries, load_fixtures
from simulation.runtime import system_app
from simulation.settings import Settings


def create_app(
    settings: Settings | None = None, transport: httpx.AsyncBaseTransport | None = None
) -> FastAPI:
    def routers(runtime):
        registries = Registries(runtime)
        return [
            provider_router(
                lambda: runtime,
                {
                    "GBDFL_UniversalServiceSync": registries.person,
                    "ENIS_PowerOfAttorneyCheck": registries.power_of_attorney,
                },
                accept_from={"gateway"},
            )
        ]

    return system_app(
        "registries",
        tables=[RegistriesModel.metadata],
        routers=routers,
        settings=settings,
        transport=transport,
        on_start=load_fixtures,
    )
