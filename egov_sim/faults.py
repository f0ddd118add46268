"""Faults from a scenario file (or any test): one function sets them through the systems' admin
APIs, one clears them, and a restart for the runner to call where it chooses.

A fault is a :class:`FaultSpec`::

    {"system": "registries", "service": "GBDFL_UniversalServiceSync", "gateway": "gateway",
     "mode": "down" | "slow" | "error" | "reset" | "malformed" | "ocsp-down",
     "latency": {"kind": "fixed", "ms": 500} | {"kind": "uniform", "min_ms": 100, "max_ms": 900}
              | {"kind": "lognormal", "median_ms": 300, "sigma": 0.5},
     "error_code": "Provider.Refused", "probability": 0.5, "seed": 7}

- With ``service``: the fault strikes that service at ``gateway`` (``PUT /admin/faults/<serviceId>``);
  ``system``, if given too, must be the service's target there.
- Without: every service whose target is ``system`` (``PUT /admin/faults/systems/<system>``).
- ``ocsp-down``: the OCSP responder of ``signatures`` answers 503 (``PUT /admin/faults/ocsp``).

:func:`apply_faults` sets them in order (the first refusal stops it: :class:`FaultRefused`
names the fault and the reason); :func:`clear_faults` clears every fault of every gateway and of
the signatures system. A restart is no fault a spec can place "at a step" from outside: the runner
calls :func:`restart` (or ``Simulation.restart``) where it chooses, e.g. between two
``POST /clock/next`` of the control API.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

import httpx
from pydantic import BaseModel, ConfigDict, Field, model_validator

from gateway.schemas import Latency
from gateway_protocol.errors import ErrorCode
from simulation.topology import SYSTEMS

ClientFor = Callable[[str], httpx.AsyncClient]
"""system -> an httpx.AsyncClient addressed to it, carrying the admin token."""

FaultMode = Literal["down", "slow", "error", "reset", "malformed", "ocsp-down"]


def gateways() -> list[str]:
    """The run's gateways: the central one and the regional ones."""
    return [name for name in SYSTEMS if name == "gateway" or name.startswith("gateway-")]


class FaultSpec(BaseModel):
    """One fault of a scenario."""

    model_config = ConfigDict(extra="forbid")
    system: str = Field(description="the target system (registries, provider_ws ...), or signatures for ocsp-down")
    service: str | None = Field(default=None, description="one service only (its serviceId)")
    gateway: str = Field(default="gateway", description="the gateway where the fault is acted out")
    mode: FaultMode
    latency: Latency | None = Field(default=None, description="slow: fixed, uniform or lognormal (ms)")
    error_code: str | None = Field(default=None, description="error: a code of the gateway's catalogue")
    probability: float = Field(default=1.0, ge=0, le=1, description="the chance it strikes a message")
    seed: int = Field(default=0, ge=0, le=2**63 - 1, description="seeds the draws, so runs repeat")

    @model_validator(mode="after")
    def _coherent(self) -> FaultSpec:
        if self.system not in SYSTEMS:
            raise ValueError(f"system {self.system!r} is not a system of the run ({', '.join(SYSTEMS)})")
        if self.gateway not in gateways():
            raise ValueError(f"gateway {self.gateway!r} is not a gateway of the run ({', '.join(gateways())})")
        if self.mode == "ocsp-down":
            if self.system != "signatures":
                raise ValueError("mode 'ocsp-down' is a fault of the system 'signatures'")
            extra = [n for n in ("service", "latency", "error_code") if getattr(self, n) is not None]
            if extra or self.probability != 1.0:
                raise ValueError(f"mode 'ocsp-down' takes no {', '.join(extra) or 'probability'}")
            return self
        if self.mode == "slow" and self.latency is None:
            raise ValueError("mode 'slow' needs a latency: {'kind': 'fixed', 'ms': ...}, "
                             "{'kind': 'uniform', 'min_ms': ..., 'max_ms': ...} or "
                             "{'kind': 'lognormal', 'median_ms': ..., 'sigma': ...}")
        if self.mode != "slow" and self.latency is not None:
            raise ValueError(f"latency is for mode 'slow', not {self.mode!r}")
        if self.mode == "error":
            if self.error_code is None:
                raise ValueError("mode 'error' needs an error_code of the gateway's catalogue, e.g. 'Provider.Refused'")
            if self.error_code not in {c.value for c in ErrorCode}:
                raise ValueError(f"error_code {self.error_code!r} is not in the gateway's catalogue: "
                                 f"{', '.join(c.value for c in ErrorCode)}")
        elif self.error_code is not None:
            raise ValueError(f"error_code is for mode 'error', not {self.mode!r}")
        return self

    def request(self) -> dict[str, Any]:
        """The body of the ``PUT /admin/faults/...``: the gateway's fault, or the OCSP responder's."""
        if self.mode == "ocsp-down":
            return {"mode": "unavailable"}
        return self.model_dump(mode="json", include={"mode", "latency", "error_code", "probability", "seed"},
                               exclude_none=True)

    def path(self) -> str:
        if self.mode == "ocsp-down":
            return "/admin/faults/ocsp"
        return f"/admin/faults/{self.service}" if self.service else f"/admin/faults/systems/{self.system}"

    @property
    def owner(self) -> str:
        """The system whose admin API sets it."""
        return "signatures" if self.mode == "ocsp-down" else self.gateway


class FaultRefused(Exception):
    """A system refused a fault: which one, and why (its answer)."""


async def apply_faults(client_for: ClientFor, faults: list[dict[str, Any]] | list[FaultSpec]) -> None:
    """Set every fault of ``faults`` (dicts as :class:`FaultSpec` reads them, or FaultSpecs)."""
    from egov_sim.clients import CAClient, ClientError, GatewayClient

    specs = [f if isinstance(f, FaultSpec) else FaultSpec.model_validate(f) for f in faults]
    for number, spec in enumerate(specs):
        async with client_for(spec.owner) as http:
            try:
                if spec.mode == "ocsp-down":
                    await CAClient(http).ocsp_down()
                    continue
                gateway = GatewayClient(http)
                if spec.service:
                    services = (await gateway.config()).get("services", {})
                    target = (services.get(spec.service) or {}).get("system")
                    if target is not None and target != spec.system:
                        raise FaultRefused(f"fault {number}: {spec.service} goes to {target!r} at {spec.gateway}, "
                                           f"not to {spec.system!r}")
                    await gateway.set_fault(spec.request(), service_id=spec.service)
                else:
                    await gateway.set_fault(spec.request(), system=spec.system)
            except ClientError as exc:
                raise FaultRefused(f"fault {number} ({spec.mode} on {spec.service or spec.system} at {spec.owner}): "
                                   f"{exc}") from None


async def clear_faults(client_for: ClientFor) -> None:
    """Clear every fault: on every gateway, and the OCSP responder's."""
    from egov_sim.clients import CAClient, ClientError, GatewayClient

    failed = []
    for system in (*gateways(), "signatures"):  # every one is tried, whichever fails
        async with client_for(system) as http:
            try:
                await (CAClient(http) if system == "signatures" else GatewayClient(http)).clear_faults()
            except ClientError as exc:
                failed.append(f"{system}: {exc}")
    if failed:
        raise FaultRefused("clearing the faults of " + "; ".join(failed))


async def restart(simulation: Any, system: str) -> None:
    """Restart one system of an in-process run on its data (``Simulation.restart``); under
    ``egov-sim up`` the cluster's ``Cluster.restart`` does the same for a process."""
    await simulation.restart(system)
