"""The State Corporation operator workstation app (ЫАЖ АЖО); its routes: :mod:`corporation_ws.api`."""

from __future__ import annotations

import httpx
from fastapi import FastAPI

from corporation_ws.api import add_error_handlers, build_routers
from corporation_ws.models import CorporationModel
from corporation_ws.service import FrontOffice
from runtime import system_app
from simulation.settings import Settings


def create_app(
    settings: Settings | None = None, transport: httpx.AsyncBaseTransport | None = None
) -> FastAPI:
    holder: dict[str, FrontOffice] = {}

    def routers(runtime):
        office = holder["office"] = FrontOffice(runtime)
        return build_routers(runtime, office)

    async def on_start(runtime) -> None:
        await holder["office"].start()

    app = system_app("corporation_ws", tables=[CorporationModel.metadata], routers=routers, settings=settings,
                     transport=transport, on_start=on_start)
    add_error_handlers(app)
    return app
