"""The registries app: six state registries, each under its serviceIds, behind ЭҮШ."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import httpx
from fastapi import APIRouter, FastAPI, Query
from sqlmodel import select

from gateway_protocol.provider import provider_router
from registries.loader import DEFAULT_FIXTURES, load_fixtures, load_population
from registries.models import AccessRecord, PopulationMeta, RegistriesModel
from registries.service import Registries
from simulation.calendar import to_local
from simulation.clock import from_us
from runtime import Runtime, SystemRuntime, system_app
from simulation.tasks import stop_task
from simulation.settings import Settings

log = logging.getLogger(__name__)
audit = APIRouter(prefix="/api", tags=["personal data"])


@audit.get("/access-log", summary="Who accessed whose personal data, why and when")
async def access_log(
    runtime: Runtime, iin: str | None = Query(default=None, description="the person whose data"),
    limit: int = Query(default=100, ge=1, le=10_000),
) -> list[dict[str, Any]]:
    query = select(AccessRecord).order_by(AccessRecord.id.desc())  # type: ignore[union-attr]
    if iin:
        query = query.where(AccessRecord.subject_iin == iin)
    async with runtime.db.session() as session:
        rows = (await session.exec(query.limit(limit))).all()
    return [
        {"registry": r.registry_name, "serviceId": r.service_id, "requester": r.requester, "purpose": r.purpose,
         "consentRef": r.consent_ref, "correlationId": r.correlation_id, "iin": r.subject_iin,
         "at": to_local(from_us(r.at_us)).isoformat(), "outcome": r.outcome}
        for r in rows
    ]


@audit.get("/population", summary="The synthetic population loaded")
async def population(runtime: Runtime) -> dict[str, Any]:
    async with runtime.db.session() as session:
        meta = await session.get(PopulationMeta, 1)
    return {"seed": meta.seed, "size": meta.size, "persons": meta.persons} if meta else {"size": 0}


async def fill(runtime: SystemRuntime, registries: Registries) -> None:
    """Load the population and the fixtures; requests that come meanwhile wait for it."""
    settings = runtime.settings
    try:
        await load_population(runtime.db, settings.population_seed, settings.population_size)
        await load_fixtures(runtime.db, [DEFAULT_FIXTURES, *settings.registry_fixtures])
    except Exception as exc:  # answered to every request, instead of hanging them
        log.exception("the registries could not be loaded")
        registries.load_error = f"{type(exc).__name__}: {exc}"
    finally:
        registries.loaded.set()


def create_app(
    settings: Settings | None = None, transport: httpx.AsyncBaseTransport | None = None
) -> FastAPI:
    holder: dict[str, Registries] = {}

    def routers(runtime):
        registries = holder["registries"] = Registries(runtime)
        return [
            provider_router(
                lambda: runtime,
                {
                    "GBDFL_UniversalServiceSync": registries.person,
                    "ENIS_PowerOfAttorneyCheck": registries.power_of_attorney,
                    "AR_AddressRegistrationHistory": registries.addresses,
                    "GBDRN_RealEstateRights": registries.real_estate,
                    "GCVP_IncomesAndStatus": registries.incomes,
                    "KZHF_CommunalTenancy": registries.tenancy,
                },
                accept_from={"gateway"},
            ),
            audit,
        ]

    async def start_filling(runtime: SystemRuntime) -> None:
        # A large population takes a while: the registries answer /health at once and hold
        # look-ups until the data is in (tests and demos load a small one in a moment).
        registries = holder["registries"]
        registries.filling = asyncio.create_task(fill(runtime, registries), name="registries: loading")

    async def stop_filling(runtime: SystemRuntime) -> None:
        task = holder["registries"].filling
        if task is not None and not task.done():
            await stop_task(task)

    return system_app(
        "registries",
        tables=[RegistriesModel.metadata],
        routers=routers,
        settings=settings,
        transport=transport,
        on_start=start_filling,
        on_stop=stop_filling,
    )
