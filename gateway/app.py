"""The gateway apps: ``create_central_app`` (ЭҮШ) and ``create_regional_app`` (ЭҮӨШ)."""

from __future__ import annotations

from typing import Literal

import httpx
from fastapi import FastAPI

from gateway.api import build_router
from gateway.config import ConfigStore
from gateway.messagelog import CheckpointPolicy, LogAnchor
from gateway.models import GatewayModel
from gateway.service import GatewayService
from gateway.soapchannel import build_soap_router
from runtime import system_app
from signatures import revocation_push
from simulation.settings import Settings, get_settings


def _create(
    name: str,
    role: Literal["central", "regional"],
    settings: Settings | None,
    transport: httpx.AsyncBaseTransport | None,
) -> FastAPI:
    own_process = settings is None  # uvicorn running the factory: system_app sets up the process's logging
    settings = settings or get_settings()
    store = ConfigStore(settings.data_dir.expanduser().resolve() / "gateway" / "participants.yaml")
    holder: dict[str, GatewayService] = {}

    def routers(runtime):
        gateway = holder["gateway"] = GatewayService(runtime, store, role)
        return [build_router(gateway), build_soap_router(gateway), revocation_push.build_router(runtime)]

    async def on_start(runtime) -> None:
        # the log's checkpoints: signed with the gateway's key, time-stamped by the PKI's TSA
        holder["gateway"].log.set_anchor(LogAnchor(
            gateway=runtime.name, identity=runtime.identity, http=runtime.http,
            tsa_url=runtime.url_of("signatures") + "/tsa", now=runtime.now,
            policy=CheckpointPolicy.of(runtime.settings),
        ))
        await holder["gateway"].start()

    async def on_stop(runtime) -> None:
        await holder["gateway"].stop()

    app = system_app(
        name,
        tables=[GatewayModel.metadata],
        routers=routers,
        settings=None if own_process else settings,
        transport=transport,
        on_start=on_start,
        on_stop=on_stop,
        description=__doc__ or "",
    )
    app.state.gateway = holder["gateway"]  # its message log, for the operator's tools and the tests
    return app


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


def _regional(name: str):
    def factory(settings: Settings | None = None, transport: httpx.AsyncBaseTransport | None = None) -> FastAPI:
        return create_regional_app(settings, transport, name)

    factory.__doc__ = f"The regional gateway {name}."
    return factory


# One factory a region, for `uvicorn --factory gateway.app:create_<region>_app`.
create_almaty_app = _regional("gateway-almaty")
create_pavlodar_app = _regional("gateway-pavlodar")
create_karaganda_app = _regional("gateway-karaganda")
create_wko_app = _regional("gateway-wko")
