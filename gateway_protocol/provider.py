"""Receiving sync-channel requests as a provider system behind a gateway.

A provider mounts :func:`provider_router` with one handler per serviceId it serves. The router
takes requests only from the gateways it trusts, verifies the sender's signature end to end,
dispatches, and signs what it answers.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass, field
from typing import Any, Protocol

from cryptography import x509
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from gateway_protocol.envelope import (
    HOP_HEADER,
    HOP_PASSWORD_HEADER,
    SUCCESS_CODE,
    SUCCESS_MESSAGE,
    SYNC_PATH,
    RequestInfo,
    ResponseData,
    ResponseInfo,
    SignedRequest,
    Status,
    SyncResponse,
    signed_content,
)
from gateway_protocol.errors import ErrorCode, GatewayFault
from gateway_protocol.fastlane import render_json, serve_fast
from gateway_protocol.replay import DatabaseAnswerStore, ReplayGuard
from signatures.identity import Identity
from signatures.jws import sign_detached, verify_detached
from simulation.topology import sender_password

log = logging.getLogger(__name__)


class ProviderContext(Protocol):
    name: str
    db: Any
    clock: Any

    @property
    def identity(self) -> Identity: ...

    @property
    def trusted_roots(self) -> list[x509.Certificate]: ...

    async def now(self): ...


@dataclass
class Incoming:
    """A verified request as its handler sees it."""

    info: RequestInfo
    data: Any
    signer: dict[str, Any]
    path: list[str] = field(default_factory=list)


class ProviderError(GatewayFault):
    """Raised by a handler to refuse a request with a Provider.* code."""


Handler = Callable[[Incoming], Awaitable[Any]]


def sign_response(
    identity: Identity, info: RequestInfo, data: Any, at
) -> dict[str, Any]:
    response = SyncResponse(
        responseInfo=ResponseInfo(
            messageId=str(uuid.uuid4()),
            correlationId=info.correlationId or info.messageId,
            responseDate=at,
            status=Status(code=SUCCESS_CODE, message=SUCCESS_MESSAGE),
            sessionId=info.sessionId,
        ),
        responseData=ResponseData(data=data),
    )
    # A response's signed content is its whole JSON dump, so that dump, with the signature, is
    # the signed response's dump: made once, not again through a SignedResponse model.
    content = signed_content(response)
    return {"response": content, "signature": sign_detached(content, identity.key, identity.chain)}


def provider_router(
    context: Callable[[], ProviderContext],
    handlers: dict[str, Handler],
    *,
    accept_from: Collection[str],
    accept_direct: bool = False,
) -> APIRouter:
    """The sync-channel endpoint of a provider serving ``handlers`` behind ``accept_from``
    (and, for test doubles only, ``accept_direct``: also from callers that are no gateway)."""
    router = APIRouter(tags=["ШЭП sync channel"])
    guard = ReplayGuard(DatabaseAnswerStore(context().db, context()))

    async def take(body: bytes, headers: Any) -> tuple[int, dict[str, Any]]:
        ctx = context()
        at = await ctx.now()
        try:
            hop = headers.get(HOP_HEADER)
            if hop is None:
                trusted = accept_direct
            else:
                trusted = hop in accept_from and headers.get(HOP_PASSWORD_HEADER) == sender_password(hop)
            if not trusted:
                raise GatewayFault(
                    ErrorCode.HOP_NOT_TRUSTED,
                    f"{ctx.name} takes requests only from {', '.join(sorted(accept_from))}",
                )
            try:
                signed = SignedRequest.model_validate_json(body)
            except ValidationError as exc:
                raise GatewayFault(ErrorCode.ENVELOPE_INVALID, _errors(exc)) from None
            info = signed.request.requestInfo
            verdict = verify_detached(
                signed.signature,
                signed_content(signed.request),
                trusted_roots=ctx.trusted_roots,
                at=at,
            )
            if not verdict.valid:
                raise GatewayFault(
                    ErrorCode.SIGNATURE_INVALID, verdict.message, data={"verdict": verdict.code}
                )
            handler = handlers.get(info.serviceId)
            if handler is None:
                raise GatewayFault(ErrorCode.PROVIDER_UNKNOWN_SERVICE, info.serviceId)

            async def process() -> tuple[int, dict[str, Any]]:
                try:
                    result = await handler(
                        Incoming(info=info, data=signed.request.requestData.data, signer=verdict.signer or {})
                    )
                except GatewayFault as fault:
                    return fault.http_status, fault.to_body(await ctx.now())
                return 200, sign_response(ctx.identity, info, result, await ctx.now())

            (status, answer), _ = await guard.answer((info.sender.senderId, info.messageId), process)
            return status, answer
        except GatewayFault as fault:
            return fault.http_status, fault.to_body(at)

    @router.post(SYNC_PATH, summary="Take a signed request forwarded by a gateway")
    async def receive(request: Request) -> JSONResponse:
        status, answer = await take(await request.body(), request.headers)
        return JSONResponse(answer, status_code=status)

    async def fast(body: bytes, headers: Any) -> tuple[int, bytes]:
        status, answer = await take(body, headers)
        return status, render_json(answer)

    serve_fast(router, SYNC_PATH, fast)

    return router


def _errors(exc: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(p) for p in err['loc']) or 'body'}: {err['msg']}" for err in exc.errors()
    )
