"""Simulation control: the virtual clock, timers, an application's trace and position, the systems."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import quote

from egov_sim.clients._base import Answer, BaseClient, params


class Clock(Answer):
    now: datetime
    next: datetime | None = None


class Moved(Answer):
    now: datetime
    moved: bool | None = None


class Timer(Answer):
    id: int
    owner: str
    kind: str
    due: datetime
    state: str
    applicationId: str | None = None
    error: str | None = None


class TraceEvent(Answer):
    """One step of an application's trace."""

    application_id: str | None = None
    reglament: str
    channel: str
    kind: str
    number: int | None = None
    label: str | None = None
    step: str | None = None
    system: str
    sim_time: datetime
    outcome: str | None = None
    detail: str | None = None


class Position(Answer):
    applicationId: str
    reglament: str
    channel: str
    label: str | None = None


class System(Answer):
    name: str
    title: dict[str, str]
    url: str


class ControlClient(BaseClient):
    system = "control"

    async def clock(self) -> Clock:
        return await self.json("GET", "/clock", Clock)

    async def now(self) -> datetime:
        """The run's virtual time now (so this client serves as a clock)."""
        return (await self.clock()).now

    async def advance(self, by: str) -> Moved:
        """Move virtual time forward: ``"20 minutes"``, ``"3 working days"`` …"""
        return await self.json("POST", "/clock/advance", Moved, json={"by": by})

    async def next(self) -> Moved:
        return await self.json("POST", "/clock/next", Moved)

    async def run(self) -> Moved:
        """Run timer after timer until nothing is pending."""
        return await self.json("POST", "/clock/run", Moved)

    async def timers(self, state: str | None = None) -> list[Timer]:
        return await self.json("GET", "/timers", list[Timer], params=params(state=state))

    async def trace(self, application_id: str) -> list[TraceEvent]:
        return await self.json("GET", f"/trace/{quote(application_id, safe='')}", list[TraceEvent])

    async def position(self, application_id: str) -> Position:
        return await self.json("GET", f"/positions/{quote(application_id, safe='')}", Position)

    async def systems(self) -> list[System]:
        return await self.json("GET", "/systems", list[System])

    async def raw(self, method: str, path: str, **kwargs: Any) -> Any:
        return await self.json(method, path, **kwargs)
