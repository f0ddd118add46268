"""The certification authority app (НУЦ): trust anchors, certificates, revocation status."""

from __future__ import annotations

import httpx
from fastapi import FastAPI

from signatures.api import build_router
from signatures.models import SignaturesModel
from signatures.service import CertificationAuthority
from simulation.runtime import system_app
from simulation.settings import Settings


def create_app(
    settings: Settings | None = None, transport: httpx.AsyncBaseTransport | None = None
) -> FastAPI:
    holder: dict[str, CertificationAuthority] = {}

    def routers(runtime):
        holder["ca"] = CertificationAuthority(runtime)
        return [build_router(holder["ca"])]

    async def on_start(runtime) -> None:
        await holder["ca"].start(seed_people=runtime.settings.seed_people)

    return system_app(
        "signatures",
        tables=[SignaturesModel.metadata],
        routers=routers,
        settings=settings,
        transport=transport,
        signs=False,
        on_start=on_start,
    )
