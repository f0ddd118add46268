"""The "Е-собес" app: ``ESOBES_HousingAidApplication`` behind the Almaty regional gateway."""

from __future__ import annotations

import httpx
from fastapi import FastAPI

from e_sobes.api import build_routers
from e_sobes.models import ESobesModel
from e_sobes.service import ESobes
from runtime import system_app
from simulation.settings import Settings


def create_app(
    settings: Settings | None = None, transport: httpx.AsyncBaseTransport | None = None
) -> FastAPI:
    def routers(runtime):
        return build_routers(runtime, ESobes(runtime))

    return system_app(
        "e_sobes",
        tables=[ESobesModel.metadata],
        routers=routers,
        settings=settings,
        transport=transport,
    )
