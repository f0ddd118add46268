"""The certification authority app (НУЦ): trust anchors, certificates, revocation status, and the
time-stamping authority (RFC 3161, ``POST /tsa``)."""

from __future__ import annotations

import httpx
from fastapi import FastAPI

from signatures.api import build_router
from signatures.models import SignaturesModel
from signatures.ncalayer_api import build_router as build_ncalayer_router
from signatures.service import CertificationAuthority
from signatures.timestamping import TimeStampingAuthority
from signatures.tsa_api import build_router as build_tsa_router
from runtime import system_app
from simulation.settings import Settings


def create_app(
    settings: Settings | None = None, transport: httpx.AsyncBaseTransport | None = None
) -> FastAPI:
    holder: dict[str, CertificationAuthority] = {}
    tsa: dict[str, TimeStampingAuthority] = {}

    def routers(runtime):
        holder["ca"] = CertificationAuthority(runtime)
        tsa["tsa"] = TimeStampingAuthority(runtime)
        # /ncalayer stands for the NCALayer on a citizen's computer, not for the CA (see its module)
        return [build_router(holder["ca"]), build_tsa_router(tsa["tsa"]), build_ncalayer_router(runtime)]

    async def on_start(runtime) -> None:
        await holder["ca"].start(seed_people=runtime.settings.seed_people)
        await tsa["tsa"].start()  # certified by the CA's RSA issuing CA, so after it

    return system_app(
        "signatures",
        tables=[SignaturesModel.metadata],
        routers=routers,
        settings=settings,
        transport=transport,
        signs=False,
        on_start=on_start,
    )
