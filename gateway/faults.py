"""Faults on the way to a target: an operator (or a scenario, :mod:`egov_sim.faults`) makes one
service's target, or every service of one target system, fail -- to see how the systems before
it cope. Kept in the gateway's database (``gateway_fault_rules``) until cleared.

A fault is acted out where the gateway calls its next hop (:meth:`FaultSwitches.deliver`, called
by :meth:`gateway.service.GatewayService.forward` around its POST), so the gateway's own code
handles what comes of it, as it would a real failure:

- ``down``: the connection fails (``httpx.ConnectError``) -> ``Server.ProviderUnavailable``;
- ``slow``: the answer comes after a latency -- fixed, uniform or lognormal, wall-clock time;
  a latency at or beyond the gateway's ``request_timeout`` waits that timeout and ends in
  ``httpx.ReadTimeout`` -> ``Server.ProviderTimeout``;
- ``error``: the target answers a fault of the catalogue (its HTTP status, its ``errorInfo``),
  which the gateway passes on as any provider's fault;
- ``reset``: the request goes out and the target processes it, then the connection is reset
  before the answer (``httpx.ReadError``) -> ``Server.ProviderUnavailable``;
- ``malformed``: the target's answer arrives cut in half (no JSON) ->
  ``Server.ProviderResponseInvalid`` from the gateway's parsing.

``probability`` is the chance that the fault strikes a given message. The draws (strike or not,
then the latency) come from a generator seeded with the fault's ``seed``, one per fault, so a run
that sends the same messages in the same order meets the same faults. The generator starts again
from its seed when the fault is set and when the gateway starts.

A fault on a service comes before a fault on its system. A fault on a system strikes the messages
whose next hop is that system (a regional gateway too) or whose registered provider it is.

The replicas of a gateway (docs/scaling.md) share the rules through the database: each reads them
again when ``refresh_every`` seconds have passed since its last look (at a message's delivery and
at the listing), keeping the generator of a rule that did not change. So a fault set through one
replica acts in the others within that time.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import random
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

import httpx
from pydantic import ValidationError
from sqlmodel import select

from gateway.models import FaultRule, FaultSwitch
from gateway.schemas import FaultRequest, FixedLatency, LognormalLatency, UniformLatency
from gateway_protocol.errors import ErrorCode, GatewayFault
from simulation import jsoncodec
from simulation.database import Database

log = logging.getLogger(__name__)

Scope = Literal["service", "system"]


@dataclass
class Fault:
    """One fault in force, with its own seeded generator."""

    scope: Scope
    name: str
    request: FaultRequest
    rng: random.Random = field(init=False)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.request.seed)

    @property
    def key(self) -> str:
        """How the listing names it: the serviceId, or ``system:<name>``."""
        return self.name if self.scope == "service" else f"system:{self.name}"

    def described(self) -> dict[str, Any]:
        return {"scope": self.scope, "name": self.name, **self.request.described()}

    def strikes(self) -> bool:
        return self.rng.random() < self.request.probability

    def latency_s(self) -> float:
        latency = self.request.latency
        if isinstance(latency, FixedLatency):
            ms = float(latency.ms)
        elif isinstance(latency, UniformLatency):
            ms = self.rng.uniform(latency.min_ms, latency.max_ms)
        elif isinstance(latency, LognormalLatency):
            ms = self.rng.lognormvariate(math.log(latency.median_ms), latency.sigma)
        else:
            ms = 0.0
        return ms / 1000


Post = Callable[[], Awaitable[tuple[int, bytes]]]


class FaultSwitches:
    def __init__(self, database: Database, refresh_every: float | None = None) -> None:
        self.database = database
        self._active: dict[tuple[Scope, str], Fault] = {}
        self.refresh_every = refresh_every
        """Seconds between two reads of the rules others may have changed (replicas); None: never."""
        self._read_at = time.monotonic()

    async def refresh(self) -> None:
        """The rules read again if ``refresh_every`` has passed (the other replicas' changes);
        a rule unchanged keeps its generator where it is."""
        if self.refresh_every is None or time.monotonic() - self._read_at < self.refresh_every:
            return
        self._read_at = time.monotonic()
        async with self.database.session() as session:
            self._adopt((await session.exec(select(FaultRule))).all())

    def _adopt(self, rules: Iterable[FaultRule]) -> None:
        """The stored ``rules`` in force; a rule already in force unchanged keeps its generator."""
        active = {}
        for r in rules:
            request = FaultRequest.model_validate_json(r.spec)
            known = self._active.get((r.scope, r.name))  # type: ignore[arg-type]
            active[(r.scope, r.name)] = known if known is not None and known.request == request else Fault(
                r.scope, r.name, request)  # type: ignore[arg-type]
        self._active = active  # type: ignore[assignment]

    async def load(self) -> None:
        """The faults in force, from the database; a data directory's faults of the first shape
        (``gateway_faults``) are moved into ``gateway_fault_rules`` on the way."""
        async with self.database.session() as session:
            legacy = (await session.exec(select(FaultSwitch))).all()
            if legacy:
                for row in legacy:
                    try:
                        request = FaultRequest(
                            mode=row.mode, delay_ms=row.delay_ms if row.mode == "slow" else 0,  # type: ignore[arg-type]
                            error_code=row.error_code if row.mode == "error" else None,
                        )
                    except ValidationError as exc:
                        log.warning("a stored fault on %s is dropped: %s", row.service_id, exc)
                        await session.delete(row)
                        continue
                    if await session.get(FaultRule, ("service", row.service_id)) is None:
                        session.add(FaultRule(scope="service", name=row.service_id, spec=_spec(request)))
                    await session.delete(row)
                await session.commit()
            rules = (await session.exec(select(FaultRule))).all()
        self._active = {}  # a start: every rule's generator from its seed
        self._adopt(rules)

    def all(self) -> dict[str, dict[str, Any]]:
        """The faults in force by :attr:`Fault.key`."""
        return {f.key: f.described() for f in self._active.values()}

    async def set(self, service_id: str, request: FaultRequest) -> dict[str, Any]:
        return await self.set_rule("service", service_id, request)

    async def set_rule(self, scope: Scope, name: str, request: FaultRequest) -> dict[str, Any]:
        async with self.database.session() as session:
            await session.merge(FaultRule(scope=scope, name=name, spec=_spec(request)))
            await session.commit()
        fault = self._active[(scope, name)] = Fault(scope, name, request)
        return fault.described()

    async def clear(self, service_id: str | None = None) -> int:
        """Clear one service's fault, or (None) every fault, systems' too. How many were cleared."""
        if service_id is None:
            return await self._clear(lambda scope, name: True)
        return await self.clear_rule("service", service_id)

    async def clear_rule(self, scope: Scope, name: str) -> int:
        return await self._clear(lambda s, n: (s, n) == (scope, name))

    async def _clear(self, chosen: Callable[[str, str], bool]) -> int:
        async with self.database.session() as session:
            rows = [r for r in (await session.exec(select(FaultRule))).all() if chosen(r.scope, r.name)]
            for row in rows:
                await session.delete(row)
            await session.commit()
        for row in rows:
            self._active.pop((row.scope, row.name), None)  # type: ignore[arg-type]
        return len(rows)

    def rule_for(self, service_id: str, target: str, provider: Callable[[], str | None]) -> Fault | None:
        """The fault on this message's way: its service's, else its next hop's, else its provider's."""
        if not self._active:
            return None
        fault = self._active.get(("service", service_id)) or self._active.get(("system", target))
        if fault is None:
            named = provider()
            if named is not None:
                fault = self._active.get(("system", named))
        return fault

    async def deliver(
        self, service_id: str, target: str, provider: Callable[[], str | None], post: Post, *,
        timeout: float, now: Callable[[], Awaitable[datetime]],
    ) -> tuple[int, bytes]:
        """``post()`` -- the gateway's call of its next hop -- with the fault in force on this
        message's way acted out, if one strikes: the outcome as the gateway's client would see it."""
        await self.refresh()
        fault = self.rule_for(service_id, target, provider)
        if fault is None or not fault.strikes():
            return await post()
        mode, why = fault.request.mode, f"fault switch on {fault.key}: {fault.request.mode}"
        if mode == "down":
            raise httpx.ConnectError(f"nothing answers at {target} ({why})")
        if mode == "error":
            refusal = GatewayFault(ErrorCode(fault.request.error_code), f"{target} ({why})")
            return refusal.http_status, jsoncodec.dumps(refusal.to_body(await now()))
        if mode == "slow":
            delay = fault.latency_s()
            if delay >= timeout:
                await asyncio.sleep(timeout)
                raise httpx.ReadTimeout(f"{target} did not answer within {timeout:g} s ({why}, {delay * 1000:.0f} ms)")
            await asyncio.sleep(delay)
            return await post()
        status, content = await post()
        if mode == "reset":
            raise httpx.ReadError(f"connection reset by {target} ({why})")
        return status, content[: len(content) // 2]  # malformed: cut short


def _spec(request: FaultRequest) -> str:
    return json.dumps(request.described(), ensure_ascii=False)
