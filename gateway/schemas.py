"""What the gateway's routes take besides the envelopes themselves: the async channel's queries
and an operator's fault switch."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from gateway_protocol.envelope import Identifier, Password
from gateway_protocol.errors import ErrorCode

MAX_NOTICE = 2**31 - 1
"""The largest delivery notice number (the notices' column is a 32-bit integer in PostgreSQL)."""
MAX_STATUS_IDS = 1000


class SenderCredentials(BaseModel):
    model_config = ConfigDict(extra="forbid")
    senderId: Identifier
    password: Password


class StatusQuery(SenderCredentials):
    messageIds: list[Identifier] = Field(min_length=1, max_length=MAX_STATUS_IDS)


class NoticeQuery(SenderCredentials):
    after: int = Field(default=0, ge=0, le=MAX_NOTICE, strict=True, description="the last notice already seen")


Mode = Literal["down", "unreachable", "slow", "error", "reset", "malformed"]
"""``down`` (``unreachable`` is its older name): nothing answers at the target; ``slow``: the
answer comes after a latency; ``error``: the target answers a fault of the catalogue; ``reset``:
the connection is reset after the request went out (the target processed it, its answer is lost);
``malformed``: the target's answer arrives cut short, no JSON."""
MAX_LATENCY_MS = 600_000
MAX_SEED = 2**63 - 1


class FixedLatency(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: Literal["fixed"]
    ms: int = Field(gt=0, le=MAX_LATENCY_MS, description="every message waits this long")


class UniformLatency(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: Literal["uniform"]
    min_ms: int = Field(ge=0, le=MAX_LATENCY_MS)
    max_ms: int = Field(gt=0, le=MAX_LATENCY_MS)

    @model_validator(mode="after")
    def _ordered(self) -> UniformLatency:
        if self.min_ms > self.max_ms:
            raise ValueError(f"min_ms ({self.min_ms}) is more than max_ms ({self.max_ms})")
        return self


class LognormalLatency(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: Literal["lognormal"]
    median_ms: float = Field(gt=0, le=MAX_LATENCY_MS, description="half the messages wait less, half more")
    sigma: float = Field(ge=0, le=5, description="the spread: the standard deviation of the latency's logarithm")


Latency = Annotated[FixedLatency | UniformLatency | LognormalLatency, Field(discriminator="kind")]


class FaultRequest(BaseModel):
    """A fault on the way to a target. The older shape (``unreachable``, ``delay_ms``) is still
    taken: ``unreachable`` is ``down``, ``delay_ms`` a fixed latency."""

    model_config = ConfigDict(extra="forbid")
    mode: Mode
    latency: Latency | None = Field(default=None, description="slow: how long the answer takes (wall-clock time)")
    delay_ms: int = Field(default=0, ge=0, le=MAX_LATENCY_MS, description="slow, older shape: a fixed latency")
    error_code: str | None = Field(default=None, description="error: the catalogue's code the target answers")
    probability: float = Field(default=1.0, ge=0, le=1, description="the chance that the fault strikes a message")
    seed: int = Field(default=0, ge=0, le=MAX_SEED, description="seeds the draws (strike or not, latency): runs repeat")

    @model_validator(mode="after")
    def _complete(self) -> FaultRequest:
        if self.mode == "unreachable":
            self.mode = "down"
        if self.delay_ms and self.latency is None:
            self.latency = FixedLatency(kind="fixed", ms=self.delay_ms)
        self.delay_ms = 0
        if self.mode == "slow" and self.latency is None:
            raise ValueError("a slow fault needs a latency (or delay_ms > 0)")
        if self.mode != "slow" and self.latency is not None:
            raise ValueError(f"latency (or delay_ms) is for mode 'slow', not {self.mode!r}")
        if self.mode != "error" and self.error_code is not None:
            raise ValueError(f"error_code is for mode 'error', not {self.mode!r}")
        if self.mode == "error":
            code = self.error_code or ErrorCode.PROVIDER_UNAVAILABLE.value
            try:
                ErrorCode(code)
            except ValueError:
                raise ValueError(
                    f"error_code {code!r} is not in the error catalogue (GET /v1/errors lists its codes)"
                ) from None
            self.error_code = code
        return self

    def described(self) -> dict[str, Any]:
        """The fault as the listing shows it and the database keeps it."""
        return self.model_dump(mode="json", exclude={"delay_ms"})
