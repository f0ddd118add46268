"""What the gateway's two channels share: a message that passed the checks, an answer, and the
checks and records the async channel asks of the gateway (:class:`Checkpoint`).

:mod:`gateway.service` implements the checkpoint and owns the async channel;
:mod:`gateway.asyncchannel` knows the gateway only through this module, so neither imports the other
both ways.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal, Protocol

from gateway_protocol.envelope import RequestInfo, SignedRequest

if TYPE_CHECKING:
    from gateway.config import GatewayConfig
    from gateway.metrics import GatewayMetrics
    from gateway_protocol.replay import ReplayGuard
    from runtime import SystemRuntime

Channel = Literal["sync", "async"]


@dataclass
class Reply:
    status_code: int
    body: dict[str, Any]
    raw: bytes | None = None
    """The answer exactly as the next hop sent it (verified, and parsed as ``body``): passed on
    and logged as it is, rather than serialised again."""
    at: datetime | None = None
    """The virtual time the answer came (or the fault was made), when the gateway's ``forward``
    made it."""


@dataclass
class Accepted:
    """A message that passed the checks, and where it goes."""

    signed: SignedRequest
    body: bytes
    came_from: str
    target: str
    at: datetime

    @property
    def info(self) -> RequestInfo:
        return self.signed.request.requestInfo


class Checkpoint(Protocol):
    """The gateway as its async channel uses it: the same checks, delivery, log and metrics as
    the sync channel's."""

    runtime: SystemRuntime
    replay: ReplayGuard
    metrics: GatewayMetrics

    @property
    def config(self) -> GatewayConfig: ...

    @property
    def replay_window(self) -> timedelta:
        """How long after a message came a repeat of it gets the first answer."""
        ...

    async def authenticate(
        self, body: bytes, headers: Any, at: datetime, channel: Channel, config: GatewayConfig
    ) -> tuple[SignedRequest, str, dict[str, Any]]:
        """Envelope, hop, sender, password, signature (a refusal is logged and raised)."""
        ...

    def admit(
        self, signed: SignedRequest, body: bytes, came_from: str, at: datetime, channel: Channel,
        config: GatewayConfig,
    ) -> Accepted:
        """Time, service, access right, route (a refusal is raised, not logged)."""
        ...

    async def forward(self, accepted: Accepted) -> Reply:
        """Hand an accepted message to its next hop."""
        ...

    def log_request(
        self, signed: SignedRequest, came_from: str, recipient: str | None, at: datetime,
        channel: Channel, status: str, error_code: str | None = None, content: dict[str, Any] | None = None,
    ) -> None: ...

    def log_answer(
        self, signed: SignedRequest, recipient: str | None, at: datetime, channel: Channel,
        status: str, reply: Reply, error_code: str | None = None,
    ) -> None: ...

    def count(self, service_id: str, channel: Channel, outcome: str, started: float) -> None:
        """One message in the metrics: its outcome and how long it took since ``started``
        (``time.perf_counter()``)."""
        ...
