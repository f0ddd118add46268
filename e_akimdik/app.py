"""The "Е-әкімдік" app: ``EAKIMDIK_DocumentRegistration`` behind the West Kazakhstan gateway."""

from __future__ import annotations

import httpx
from fastapi import FastAPI

from e_akimdik.api import build_routers
from e_akimdik.models import EAkimdikModel
from e_akimdik.service import EAkimdik
from runtime import system_app
from simulation.settings import Settings


def create_app(
    settings: Settings | None = None, transport: httpx.AsyncBaseTransport | None = None
) -> FastAPI:
    def routers(runtime):
        return build_routers(runtime, EAkimdik(runtime))

    return system_app(
        "e_akimdik",
        tables=[EAkimdikModel.metadata],
        routers=routers,
        settings=settings,
        transport=transport,
    )
