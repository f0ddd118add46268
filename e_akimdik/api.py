"""The "Е-әкімдік" routes: the service behind the West Kazakhstan gateway, and what testers read
of the registrations it has made."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query

from e_akimdik.service import SERVICE_ID, EAkimdik, registration_view
from gateway_protocol.provider import provider_router
from runtime import SystemRuntime
from runtime.registration import add_lookups, checked_iin_query
from simulation.access import AUDIT

REGIONAL_GATEWAY = "gateway-wko"


def registrations_router(system: EAkimdik) -> APIRouter:
    # every registration names its applicant: the auditor's or the administrator's to read
    router = APIRouter(prefix="/api/registrations", tags=["registrations"], dependencies=[AUDIT])

    @router.get("", summary="Registrations in the order of their numbers")
    async def registrations(
        year: int | None = Query(default=None, ge=1900, le=2100, description="only this year's"),
        applicant_iin: str | None = Query(default=None, alias="applicantIin", description="only this applicant's"),
        reglament: str | None = Query(default=None, description="only under this reglament"),
    ) -> list[dict[str, Any]]:
        rows = await system.registrar.all(
            year=year, applicant_iin=checked_iin_query(applicant_iin, "applicantIin"), reglament=reglament
        )
        return [registration_view(row) for row in rows]

    add_lookups(router, system.registrar, registration_view,
                by_application="The registration of one application", by_number="One registration by its number")
    return router


def build_routers(runtime: SystemRuntime, system: EAkimdik) -> list[APIRouter]:
    """``EAKIMDIK_DocumentRegistration`` from the region's gateway only, and what testers read."""
    return [
        provider_router(lambda: runtime, {SERVICE_ID: system.register}, accept_from={REGIONAL_GATEWAY}),
        registrations_router(system),
    ]
