"""The gateway apps: ``create_central_app`` (ЭҮШ) and ``create_regional_app`` (ЭҮӨШ)."""

from __future__ import annotations

from typing import Literal

import httpx
from fastapi import FastAPI

from gateway.api import build_router
from gateway.config import load_config
from gateway.models import GatewayModel
from gateway.service import GatewayService
from simulation.runtime import system_app
from simulation.settings import Settings


def _create(
    name: str,
    role: Literal["central", "regional"],
    settings: Settings | None,
    transport: httpx.AsyncBaseTransport | None,
) -> FastAPI:
    config = load_config()

    def routers(runtime):
        return [build_router(GatewayService(runtime, config, role))]

    return system_app(
        name,
        tables=[GatewayModel.metadata],
        routers=routers,
        settings=settings,
        transport=transport,
        description=__doc__ or "",
    )


def create_central_app(
    settings: Settings | None = None, transport: httpx.AsyncBaseTransport | None = None
) -> FastAPI:
    """ЭҮШ, the central e-government gateway."""
    return _create("gateway", "central", settings, transport)


def create_regional_app(
    settings: Settings | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
    name: str = "gateway-almaty",
) -> FastAPI:
    """ЭҮӨШ, the regional gateway of one region (Almaty city by default)."""
    return _create(name, "regional", settings, transport)
