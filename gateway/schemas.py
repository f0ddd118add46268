"""What the gateway's routes take besides the envelopes themselves: the async channel's queries
and an operator's fault switch."""

from __future__ import annotations

from typing import Literal

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


Mode = Literal["unreachable", "slow", "error"]


class FaultRequest(BaseModel):
    mode: Mode
    delay_ms: int = Field(default=0, ge=0, le=600_000, description="slow: added before delivery")
    error_code: str | None = Field(default=None, description="error: the fault code to answer")

    @model_validator(mode="after")
    def _complete(self) -> FaultRequest:
        if self.mode == "slow" and self.delay_ms <= 0:
            raise ValueError("a slow fault needs delay_ms > 0")
        if self.mode == "error":
            code = self.error_code or ErrorCode.PROVIDER_UNAVAILABLE.value
            try:
                ErrorCode(code)
            except ValueError:
                raise ValueError(f"error_code {code!r} is not in the error catalogue") from None
            self.error_code = code
        return self
