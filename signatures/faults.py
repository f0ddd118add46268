"""The OCSP responder down, on an operator's word: ``PUT /admin/faults/ocsp`` makes ``/v1/ocsp``
answer 503 until ``DELETE /admin/faults/ocsp`` (or the system's restart: the switch is not kept).

What the validators then do is theirs (:mod:`signatures.revocation`): a fresh cached answer
carries them (``ocsp_freshness``); beyond it, under ``hard-fail`` the status is unknown and the
signature is refused (``REVOCATION_UNKNOWN``); under ``soft-fail`` the last answer, or none, is
accepted and said so."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from simulation.access import ADMIN, AUDIT

OCSP_DOWN = {
    "kk": "OCSP қызметі уақытша қолжетімсіз",
    "ru": "Служба OCSP временно недоступна",
    "en": "The OCSP responder is unavailable for now",
}


class OcspFault(BaseModel):
    model_config = ConfigDict(extra="forbid")
    mode: Literal["unavailable"] = Field(default="unavailable", description="unavailable: /v1/ocsp answers 503")


class OcspSwitch:
    """Whether the OCSP responder is down (in memory: a restart brings it back)."""

    def __init__(self) -> None:
        self.fault: OcspFault | None = None

    @property
    def down(self) -> bool:
        return self.fault is not None

    def refusal(self) -> JSONResponse:
        return JSONResponse(
            {"error": "unavailable", "message": OCSP_DOWN["en"], "message_kk": OCSP_DOWN["kk"],
             "message_ru": OCSP_DOWN["ru"]},
            status_code=503, headers={"Retry-After": "60"},
        )

    def described(self) -> dict[str, Any]:
        return {"ocsp": self.fault.model_dump() if self.fault else None}


def build_router(switch: OcspSwitch) -> APIRouter:
    router = APIRouter(tags=["fault switches"])

    @router.get("/admin/faults", dependencies=[AUDIT], summary="The OCSP responder's fault, if any")
    async def faults() -> dict[str, Any]:
        return switch.described()

    @router.put("/admin/faults/ocsp", dependencies=[ADMIN], summary="Take the OCSP responder down (503)")
    async def set_ocsp_fault(fault: OcspFault | None = None) -> dict[str, Any]:
        switch.fault = fault or OcspFault()
        return switch.described()

    @router.delete("/admin/faults/ocsp", dependencies=[ADMIN], summary="Bring the OCSP responder back")
    async def clear_ocsp_fault() -> dict[str, Any]:
        cleared = int(switch.down)
        switch.fault = None
        return {"cleared": cleared}

    @router.delete("/admin/faults", dependencies=[ADMIN], summary="Clear every fault of this system")
    async def clear_faults() -> dict[str, Any]:
        return await clear_ocsp_fault()

    return router
