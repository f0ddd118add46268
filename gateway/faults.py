"""Fault switches: an operator makes one service's target unreachable, slow, or answer with an
error, to see how the systems before it cope. Kept in the gateway's database until cleared."""

from __future__ import annotations

import asyncio

from sqlmodel import select

from gateway.models import FaultSwitch
from gateway.schemas import FaultRequest
from gateway_protocol.errors import ErrorCode, GatewayFault
from simulation.database import Database


class FaultSwitches:
    def __init__(self, database: Database) -> None:
        self.database = database
        self._active: dict[str, FaultSwitch] = {}

    async def load(self) -> None:
        async with self.database.session() as session:
            self._active = {f.service_id: f for f in (await session.exec(select(FaultSwitch))).all()}

    def all(self) -> dict[str, FaultSwitch]:
        return dict(self._active)

    async def set(self, service_id: str, request: FaultRequest) -> FaultSwitch:
        switch = FaultSwitch(
            service_id=service_id, mode=request.mode, delay_ms=request.delay_ms, error_code=request.error_code
        )
        async with self.database.session() as session:
            await session.merge(switch)
            await session.commit()
        self._active[service_id] = switch
        return switch

    async def clear(self, service_id: str | None = None) -> int:
        async with self.database.session() as session:
            rows = (await session.exec(select(FaultSwitch))).all()
            cleared = [r for r in rows if service_id in (None, r.service_id)]
            for row in cleared:
                await session.delete(row)
            await session.commit()
        for row in cleared:
            self._active.pop(row.service_id, None)
        return len(cleared)

    async def apply(self, service_id: str, target: str) -> None:
        """Before delivering: act out the fault set on this service, if any."""
        switch = self._active.get(service_id)
        if switch is None:
            return
        if switch.mode == "unreachable":
            raise GatewayFault(ErrorCode.PROVIDER_UNAVAILABLE, f"{target} (fault switch: unreachable)")
        if switch.mode == "error":
            raise GatewayFault(switch.error_code or ErrorCode.PROVIDER_UNAVAILABLE, f"{target} (fault switch: error)")
        await asyncio.sleep(switch.delay_ms / 1000)
