"""The provider workstation app (ЭҮӨШ АЖО): makes the app; the routes are in :mod:`provider_ws.api`.

It takes the requests of every reglament whose provider it is (their serviceIds, from the
definitions) from any regional gateway.
"""

from __future__ import annotations

import httpx
from fastapi import FastAPI

from gateway_protocol.provider import provider_router
from provider_ws.api import allocation_router, chancellery_router, router as workstation_router, staff_router
from provider_ws.cabinet_receipts import CABINET_RECEIPT, take_receipt
from provider_ws.models import ProviderModel
from provider_ws.service import ProviderWorkstation
from runtime import system_app
from simulation.settings import Settings
from simulation.topology import REGIONAL_GATEWAYS


def create_app(
    settings: Settings | None = None, transport: httpx.AsyncBaseTransport | None = None
) -> FastAPI:
    holder: dict[str, ProviderWorkstation] = {}

    def routers(runtime):
        workstation = holder["ws"] = ProviderWorkstation(runtime)
        return [
            provider_router(
                lambda: runtime,
                {**{service_id: workstation.register for service_id in sorted(workstation.service_ids())},
                 CABINET_RECEIPT: lambda request: take_receipt(workstation, request)},
                accept_from=REGIONAL_GATEWAYS,
            ),
            workstation_router,
            staff_router(workstation),
            chancellery_router(workstation),
            allocation_router(workstation),
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
