"""The registries' routes: every registry under its serviceIds (only from the gateway), and what a
tester reads about personal data -- who accessed whose, and the population loaded: the auditor's
or the administrator's (:data:`AUDIT`)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query
from sqlmodel import select

from gateway_protocol.provider import provider_router
from registries.models import AccessRecord, PopulationMeta
from registries.service import Registries
from runtime import Runtime, SystemRuntime
from simulation.access import AUDIT
from simulation.calendar import to_local
from simulation.clock import from_us

audit = APIRouter(prefix="/api", tags=["personal data"], dependencies=[AUDIT])


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
        {"registry": r.registry_name, "serviceId": r.service_id, "requester": r.requester, "hop": r.hop, "purpose": r.purpose,
         "consentRef": r.consent_ref, "correlationId": r.correlation_id, "iin": r.subject_iin,
         "at": to_local(from_us(r.at_us)).isoformat(), "outcome": r.outcome}
        for r in rows
    ]


@audit.get("/population", summary="The synthetic population loaded")
async def population(runtime: Runtime) -> dict[str, Any]:
    async with runtime.db.session() as session:
        meta = await session.get(PopulationMeta, 1)
    return {"seed": meta.seed, "size": meta.size, "persons": meta.persons} if meta else {"size": 0}


def build_routers(runtime: SystemRuntime, registries: Registries) -> list[APIRouter]:
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
                "CONSENT_Record": registries.record_consent,
            },
            accept_from={"gateway"},
        ),
        audit,
    ]
