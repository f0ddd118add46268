"""The portal app (egov.kz)."""

from __future__ import annotations

import httpx
from fastapi import FastAPI

from gateway_protocol.provider import provider_router
from portal.api import build_router, install_error_handlers
from portal.models import PortalModel
from portal.service import Portal
from runtime import system_app
from simulation.settings import Settings


def create_app(
    settings: Settings | None = None, transport: httpx.AsyncBaseTransport | None = None
) -> FastAPI:
    def routers(runtime):
        portal = Portal(runtime)
        return [
            build_router(portal),
            provider_router(
                lambda: runtime,
                {"EPORTAL_CabinetDelivery": portal.deliver_result, "EPORTAL_CabinetNotification": portal.take_notice},
                accept_from={"gateway"},
            ),
        ]

    app = system_app(
        "portal",
        tables=[PortalModel.metadata],
        routers=routers,
        settings=settings,
        transport=transport,
    )
    install_error_handlers(app)
    return app
