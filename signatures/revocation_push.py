"""A revocation reaching the gateways at once, not when their cached OCSP answers expire.

A gateway caches each OCSP answer for ``ocsp_freshness`` seconds of virtual time
(:class:`signatures.revocation.RevocationChecker`): a certificate revoked meanwhile would still
be accepted until then. When the CA revokes a certificate (its ``notify`` flag, on by default),
it tells every gateway of the run -- the central ЭҮШ and each regional gateway -- to forget its
cached answer for that certificate (:func:`tell_gateways`), through the gateways' admin endpoint
``POST /admin/revocations`` (:func:`build_router`, guarded by the run's admin token). The
gateway's next check of that signer asks the responder and hears "revoked". A gateway that cannot
be reached is named in the CA's answer; the revocation stands all the same, and that gateway
learns it when its cached answer expires.
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
from fastapi import APIRouter
from pydantic import BaseModel, Field

from simulation.access import ADMIN, TOKEN_HEADER
from simulation.topology import REGIONAL_GATEWAYS

PATH = "/admin/revocations"
PUSH_TIMEOUT = 5.0
"""Seconds the CA waits for each gateway; one that does not answer is reported, not awaited."""


def gateways() -> list[str]:
    """The gateways of the run: the central one, then the regional ones."""
    return ["gateway", *sorted(REGIONAL_GATEWAYS)]


class RevocationNotice(BaseModel):
    serial: str = Field(min_length=1, max_length=64, pattern=r"^[0-9A-Fa-f]+$",
                        description="the revoked certificate's serial, in hex")


def build_router(runtime) -> APIRouter:
    """The gateway side: ``POST /admin/revocations`` forgets the cached OCSP answers for a serial
    in the gateway's signature validator (``runtime.validator.revocation``)."""
    router = APIRouter(tags=["administration"])

    @router.post(PATH, summary="Forget the cached revocation status of a certificate (the CA revoked it)",
                 dependencies=[ADMIN])
    async def forget(body: RevocationNotice) -> dict[str, Any]:
        checker = runtime.validator.revocation
        forgotten = checker.forget(int(body.serial, 16)) if checker is not None else 0
        return {"system": runtime.name, "serial": body.serial.lower(), "forgotten": forgotten}

    return router


async def tell_gateways(http: httpx.AsyncClient, url_of, admin_token: str, serial_hex: str) -> dict[str, Any]:
    """Tell every gateway of the run to forget its cached answer for ``serial_hex``, all at once.

    ``url_of(system)`` gives a system's base URL. Answers ``{"notified": [gateway, …],
    "not_reached": [{"gateway": …, "problem": …}, …]}``; nothing here raises for a gateway that
    is down, slow or refuses."""

    async def tell(name: str) -> tuple[str, str | None]:
        try:
            response = await http.post(
                f"{url_of(name)}{PATH}", json={"serial": serial_hex},
                headers={TOKEN_HEADER: admin_token}, timeout=PUSH_TIMEOUT,
            )
        except httpx.HTTPError as exc:
            return name, f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        if response.status_code != 200:
            said = " ".join(response.text[:200].split())
            return name, f"HTTP {response.status_code}" + (f": {said}" if said else "")
        return name, None

    results = await asyncio.gather(*(tell(name) for name in gateways()))
    return {
        "notified": [name for name, problem in results if problem is None],
        "not_reached": [{"gateway": name, "problem": problem} for name, problem in results if problem is not None],
    }
