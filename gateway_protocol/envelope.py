"""Envelope models with the ШЭП sync channel's field names (namespace
``http://bip.bee.kz/SyncChannel/v10/Types``), as JSON."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

SUCCESS_CODE = "SCSS001"
SUCCESS_MESSAGE = "Message has been processed successfully"

SYNC_PATH = "/bip/sync/v10"
"""Where gateways and providers alike take sync-channel requests."""
ASYNC_PATH = "/bip/async/v10"
"""Where a gateway takes async-channel messages (``/sendMessage``) and status questions."""

MessageType = Literal["REQUEST", "NOTIFICATION", "UPDATE", "RESPONSE"]

HOP_HEADER = "X-Egov-Gateway"
"""A gateway that forwards a message names itself in this header, and proves it with its signature
over the hop (:mod:`gateway_protocol.hops`)."""


PRINTABLE = r"^[^\x00-\x1f\x7f]*$"
"""No control characters: an identifier goes into the gateways' tables and log lines as it is (a
NUL cannot be stored in a PostgreSQL text column)."""
IDENTIFIER_MAX = 100
Identifier = Annotated[str, StringConstraints(min_length=1, max_length=IDENTIFIER_MAX, pattern=PRINTABLE)]
"""A senderId, messageId or serviceId: 1-100 printable characters."""
Reference = Annotated[str, StringConstraints(max_length=IDENTIFIER_MAX, pattern=PRINTABLE)]
"""A correlationId, routeId or sessionId: up to 100 printable characters (when given at all)."""
Password = Annotated[str, StringConstraints(min_length=1, max_length=200)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class Sender(_Model):
    senderId: Identifier
    password: Password


class Property(_Model):
    key: str
    value: str


class RequestInfo(_Model):
    messageId: Identifier
    correlationId: Reference | None = None
    serviceId: Identifier
    messageDate: datetime
    routeId: Reference | None = None
    sender: Sender
    properties: list[Property] = Field(default_factory=list)
    sessionId: Reference | None = None
    messageType: MessageType | None = Field(
        default=None, description="async channel only: REQUEST, NOTIFICATION, UPDATE or RESPONSE"
    )


class RequestData(_Model):
    data: Any = None


class SyncRequest(_Model):
    requestInfo: RequestInfo
    requestData: RequestData = Field(default_factory=RequestData)


class SignedRequest(_Model):
    request: SyncRequest
    signature: str = Field(min_length=1)


class Status(_Model):
    code: str
    message: str


class ResponseInfo(_Model):
    messageId: str
    correlationId: str | None = None
    responseDate: datetime
    status: Status
    sessionId: str | None = None


class ResponseData(_Model):
    data: Any = None


class SyncResponse(_Model):
    responseInfo: ResponseInfo
    responseData: ResponseData = Field(default_factory=ResponseData)


class SignedResponse(_Model):
    response: SyncResponse
    signature: str = Field(min_length=1)


class ErrorInfo(_Model):
    errorCode: str
    errorMessage: str
    errorData: dict[str, Any] = Field(default_factory=dict)
    errorDate: datetime
    subError: "ErrorInfo | None" = None
    sessionId: str | None = None


class Fault(_Model):
    errorInfo: ErrorInfo


def signed_content(model: SyncRequest | SyncResponse) -> dict[str, Any]:
    """The JSON object a signature covers: the request or response as it travels, except the
    sender's password -- a credential the gateway checks and masks in its log, so the logged
    message stays verifiable without keeping the password."""
    content = model.model_dump(mode="json", exclude_none=True)
    if isinstance(model, SyncRequest):
        content["requestInfo"]["sender"].pop("password", None)
    return content
