"""Sending a signed sync-channel request through a gateway."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import Any, Protocol

import httpx
from cryptography import x509
from pydantic import ValidationError

from gateway_protocol.envelope import (
    ASYNC_PATH,
    SUCCESS_CODE,
    MessageType,
    SYNC_PATH,
    Fault,
    Property,
    RequestData,
    RequestInfo,
    Sender,
    SignedRequest,
    SignedResponse,
    SyncRequest,
    SyncResponse,
    signed_content,
)
from gateway_protocol.errors import ErrorCode, GatewayFault
from signatures.identity import Identity
from signatures.jws import sign_detached, verify_detached


_JSON = {"content-type": "application/json"}


class Clock(Protocol):
    async def now(self) -> datetime: ...


def new_message_id() -> str:
    return str(uuid.uuid4())


def build_signed_request(
    identity: Identity,
    *,
    sender_id: str,
    password: str,
    service_id: str,
    data: Any,
    message_date: datetime,
    message_id: str | None = None,
    route_id: str | None = None,
    correlation_id: str | None = None,
    session_id: str | None = None,
    properties: dict[str, str] | None = None,
    message_type: MessageType | None = None,
) -> SignedRequest:
    request = SyncRequest(
        requestInfo=RequestInfo(
            messageId=message_id or new_message_id(),
            correlationId=correlation_id,
            serviceId=service_id,
            messageDate=message_date,
            routeId=route_id,
            sender=Sender(senderId=sender_id, password=password),
            properties=[Property(key=k, value=v) for k, v in (properties or {}).items()],
            sessionId=session_id,
            messageType=message_type,
        ),
        requestData=RequestData(data=data),
    )
    signature = sign_detached(signed_content(request), identity.key, identity.chain)
    return SignedRequest(request=request, signature=signature)


def verify_signed_response(
    body: Any, *, trusted_roots: Sequence[x509.Certificate], at: datetime, source: str = "provider"
) -> SignedResponse:
    """A signed response whose envelope holds and whose signature verifies, or its fault."""
    try:
        signed = SignedResponse.model_validate(body)
    except ValidationError as exc:
        raise GatewayFault(ErrorCode.PROVIDER_RESPONSE_INVALID, f"{source}: {exc}") from None
    verdict = verify_detached(
        signed.signature, signed_content(signed.response), trusted_roots=trusted_roots, at=at
    )
    if not verdict.valid:
        raise GatewayFault(
            ErrorCode.PROVIDER_RESPONSE_INVALID,
            f"{source}: response signature: {verdict.message}",
            data={"verdict": verdict.code},
        )
    return signed


def parse_reply(
    response: httpx.Response, *, trusted_roots: Sequence[x509.Certificate], at: datetime
) -> SyncResponse:
    """Turn a gateway's HTTP answer into a verified response, or raise its fault."""
    try:
        body = response.json()
    except ValueError:
        raise GatewayFault(
            ErrorCode.PROVIDER_RESPONSE_INVALID, f"HTTP {response.status_code}, not JSON"
        ) from None
    if isinstance(body, dict) and "errorInfo" in body:
        try:
            raise GatewayFault.from_error_info(Fault.model_validate(body).errorInfo)
        except ValidationError as exc:
            raise GatewayFault(ErrorCode.PROVIDER_RESPONSE_INVALID, str(exc)) from None
    signed = verify_signed_response(body, trusted_roots=trusted_roots, at=at)
    status = signed.response.responseInfo.status
    if status.code != SUCCESS_CODE:
        raise GatewayFault(ErrorCode.PROVIDER_RESPONSE_INVALID, f"status {status.code}")
    return signed.response


PostBytes = Callable[[str, bytes, dict[str, str]], Awaitable[tuple[int, bytes]]]
"""POST bytes to a URL and read the whole answer, (status, body), raising httpx's errors:
``SystemRuntime.post_bytes``, the systems' own client of a hop."""


class GatewayClient:
    """One system's way to call services through its gateway."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        gateway_url: str,
        *,
        sender_id: str,
        password: str,
        identity: Identity,
        clock: Clock,
        trusted_roots: Sequence[x509.Certificate],
        post: PostBytes | None = None,
    ) -> None:
        """``post``: how the sync channel's requests go (the system's hop client, far cheaper
        than httpx's); through ``http`` when not given."""
        self.http = http
        self.post = post
        self.gateway_url = gateway_url.rstrip("/")
        self.sender_id = sender_id
        self.password = password
        self.identity = identity
        self.clock = clock
        self.trusted_roots = trusted_roots

    async def send(
        self,
        service_id: str,
        data: Any,
        *,
        route_id: str | None = None,
        correlation_id: str | None = None,
        session_id: str | None = None,
        properties: dict[str, str] | None = None,
    ) -> SyncResponse:
        """Send a request and return the provider's verified response; raise its fault."""
        signed = build_signed_request(
            self.identity,
            sender_id=self.sender_id,
            password=self.password,
            service_id=service_id,
            data=data,
            message_date=await self.clock.now(),
            route_id=route_id,
            correlation_id=correlation_id,
            session_id=session_id,
            properties=properties,
        )
        try:
            if self.post is not None:
                status, content = await self.post(
                    self.gateway_url + SYNC_PATH, signed.model_dump_json(exclude_none=True).encode(), _JSON
                )
                reply = httpx.Response(status, content=content)
            else:
                reply = await self.http.post(
                    self.gateway_url + SYNC_PATH, json=signed.model_dump(mode="json", exclude_none=True)
                )
        except httpx.TimeoutException:
            raise GatewayFault(ErrorCode.PROVIDER_TIMEOUT, f"gateway {self.gateway_url}") from None
        except httpx.TransportError as exc:
            raise GatewayFault(
                ErrorCode.PROVIDER_UNAVAILABLE, f"gateway {self.gateway_url}: {exc}"
            ) from None
        return parse_reply(reply, trusted_roots=self.trusted_roots, at=await self.clock.now())

    async def ask(self, service_id: str, data: Any, *, correlation_id: str | None = None) -> Any | None:
        """A registry's answer data through the gateway, or None when the provider answers
        Provider.NotFound (nobody by that ЖСН); any other fault raises."""
        try:
            reply = await self.send(service_id, data, correlation_id=correlation_id)
        except GatewayFault as fault:
            if fault.code == ErrorCode.PROVIDER_NOT_FOUND:
                return None
            raise
        return reply.responseData.data

    async def send_async(
        self,
        service_id: str,
        data: Any,
        *,
        message_type: MessageType = "REQUEST",
        route_id: str | None = None,
        correlation_id: str | None = None,
        properties: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        """Hand a message to the async channel; the gateway's acceptance (messageId, state)."""
        signed = build_signed_request(
            self.identity,
            sender_id=self.sender_id,
            password=self.password,
            service_id=service_id,
            data=data,
            message_date=await self.clock.now(),
            route_id=route_id,
            correlation_id=correlation_id,
            properties=properties,
            message_type=message_type,
        )
        try:
            reply = await self.http.post(
                self.gateway_url + ASYNC_PATH + "/sendMessage",
                json=signed.model_dump(mode="json", exclude_none=True),
            )
        except httpx.TransportError as exc:
            raise GatewayFault(ErrorCode.PROVIDER_UNAVAILABLE, f"gateway {self.gateway_url}: {exc}") from None
        body = reply.json()
        if reply.status_code != 200:
            raise GatewayFault.from_error_info(Fault.model_validate(body).errorInfo)
        return body

    async def message_status(self, message_ids: list[str]) -> list[dict[str, Any]]:
        """Delivery states of this sender's async messages."""
        reply = await self.http.post(
            self.gateway_url + ASYNC_PATH + "/getMessageStatus",
            json={"senderId": self.sender_id, "password": self.password, "messageIds": message_ids},
        )
        body = reply.json()
        if reply.status_code != 200:
            raise GatewayFault.from_error_info(Fault.model_validate(body).errorInfo)
        return body["messages"]
