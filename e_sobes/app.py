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
    holder: dict[str, ESobes] = {}

    def routers(runtime):
        holder["system"] = ESobes(runtime)
        return build_routers(runtime, holder["system"])

    async def on_start(runtime) -> None:
        await holder["system"].start()

    return system_app(
        "e_sobes",
        tables=[ESobesModel.metadata],
        routers=routers,
        on_start=on_start,
        settings=settings,
        transport=transport,
    )
