"""The "Е-собес" routes: the service behind the Almaty gateway, and what testers read of the
housing-aid applications it has received."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query

from e_sobes.service import SERVICE_ID, STATUS_SERVICE_ID, ESobes, registration_view
from gateway_protocol.provider import provider_router
from runtime import SystemRuntime
from runtime.registration import add_lookups, checked_iin_query
from simulation.access import AUDIT

REGIONAL_GATEWAY = "gateway-almaty"


def registrations_router(system: ESobes) -> APIRouter:
    # every registration names its applicant: the auditor's or the administrator's to read
    router = APIRouter(prefix="/api/registrations", tags=["registrations"], dependencies=[AUDIT])

    @router.get("", summary="Applications received, in the order of their numbers")
    async def registrations(
        year: int | None = Query(default=None, ge=1900, le=2100, description="only this year's"),
        applicant_iin: str | None = Query(default=None, alias="applicantIin", description="only this applicant's"),
    ) -> list[dict[str, Any]]:
        rows = await system.registrar.all(year=year, applicant_iin=checked_iin_query(applicant_iin, "applicantIin"))
        return [registration_view(row) for row in rows]

    add_lookups(
        router, system.registrar, registration_view,
        by_application="One application, by its id",
        by_number="One application, by its Е-собес registration number",
    )
    return router


def build_routers(runtime: SystemRuntime, system: ESobes) -> list[APIRouter]:
    """``ESOBES_HousingAidApplication`` (a reglament's request too) and ``ESOBES_ApplicationStatus``
    from the region's gateway only, and what testers read."""
    return [
        provider_router(lambda: runtime, {SERVICE_ID: system.receive, STATUS_SERVICE_ID: system.status},
                        accept_from={REGIONAL_GATEWAY}),
        registrations_router(system),
    ]
