"""Receiving sync-channel requests as a provider system behind a gateway.

A provider mounts :func:`provider_router` with one handler per serviceId it serves. The router
takes requests only from the gateways it trusts, each hop signed by the gateway's own key
(:mod:`gateway_protocol.hops`), verifies the sender's signature end to end with the run's
validator (chain, validity, key usage, revocation; the certificate must be the sender's) and a
sync message's date, dispatches, and signs what it answers. Every request it gets is recorded in
its hop log (:class:`gateway_protocol.replay.HopRecord`): when, through which hop, from whom,
and the verdict.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Protocol

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from gateway_protocol.envelope import (
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
from gateway_protocol.errors import ErrorCode, GatewayFault, check_message_date
from gateway_protocol.fastlane import render_json, serve_fast
from gateway_protocol.groupcommit import GroupCommit
from gateway_protocol.hops import HOP_HEADER, HopVerifier, has_hop
from gateway_protocol.replay import DatabaseAnswerStore, HopRecord, ReplayGuard
from signatures.identity import Identity
from signatures.jws import sign_detached
from simulation.clock import to_us

log = logging.getLogger(__name__)


class ProviderContext(Protocol):
    name: str
    db: Any
    clock: Any

    @property
    def identity(self) -> Identity: ...


    @property
    def validator(self) -> Any: ...
    """The run's :class:`signatures.validation.SignatureValidator` (revocation included)."""

    settings: Any
    """The run's settings (``message_date_skew``)."""

    async def now(self): ...


@dataclass
class Incoming:
    """A verified request as its handler sees it."""

    info: RequestInfo
    data: Any
    signer: dict[str, Any]
    """The verified signer's certificate subject (``common_name`` is the sending system)."""
    path: list[str] = field(default_factory=list)
    hop: str | None = None
    """The gateway whose signed hop brought the request (None: a test double's direct caller)."""


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
    hops = HopVerifier(context().name)
    writer = GroupCommit.of(context().db)

    async def record(at, hop: str | None, signed: SignedRequest | None, signer: str | None, verdict: str) -> None:
        info = signed.request.requestInfo if signed is not None else None
        await writer.insert(HopRecord.__table__, {
            "at_us": to_us(at), "hop": (hop or "-")[:200], "sender_id": info.sender.senderId if info else "-",
            "signer": signer, "message_id": info.messageId if info else "-",
            "service_id": info.serviceId if info else "-", "verdict": verdict,
        })

    async def take(body: bytes, headers: Any) -> tuple[int, dict[str, Any]]:
        ctx = context()
        at = await ctx.now()
        skew = timedelta(seconds=ctx.settings.message_date_skew)
        hop: str | None = headers.get(HOP_HEADER)
        signed: SignedRequest | None = None
        signer: str | None = None
        try:
            if has_hop(headers) or not accept_direct:
                hop = await hops.verify(
                    headers, body, accepted=accept_from, validator=ctx.validator, at=at, skew=skew
                )
            try:
                signed = SignedRequest.model_validate_json(body)
            except ValidationError as exc:
                raise GatewayFault(ErrorCode.ENVELOPE_INVALID, _errors(exc)) from None
            info = signed.request.requestInfo
            verdict = await ctx.validator.jws(signed.signature, signed_content(signed.request), at=at)
            if not verdict.valid:
                raise GatewayFault(
                    ErrorCode.SIGNATURE_INVALID, verdict.message, data={"verdict": verdict.code}
                )
            signer = (verdict.signer or {}).get("common_name")
            if signer != info.sender.senderId:
                raise GatewayFault(
                    ErrorCode.SIGNATURE_INVALID,
                    f"the certificate is issued to {signer!r}, not to the sender {info.sender.senderId!r}",
                    data={"verdict": "SIGNER_NOT_SENDER"},
                )
            if info.messageType is None:  # sync: the gateway forwarded it at once
                check_message_date(info, at, skew, f"{ctx.name}'s")
            handler = handlers.get(info.serviceId)
            if handler is None:
                raise GatewayFault(ErrorCode.PROVIDER_UNKNOWN_SERVICE, info.serviceId)

            async def process() -> tuple[int, dict[str, Any]]:
                try:
                    result = await handler(
                        Incoming(info=info, data=signed.request.requestData.data, signer=verdict.signer or {}, hop=hop)
                    )
                except GatewayFault as fault:
                    return fault.http_status, fault.to_body(await ctx.now())
                return 200, sign_response(ctx.identity, info, result, await ctx.now())

            (status, answer), replayed = await guard.answer(
                (info.sender.senderId, info.messageId), process, at=at, window=skew
            )
            await record(at, hop, signed, signer, "REPLAYED" if replayed else "ACCEPTED")
            return status, answer
        except GatewayFault as fault:
            log.info("refused: %s", fault, extra={"fields": {"errorCode": fault.code, "hop": hop}})
            await record(at, hop, signed, signer, fault.code)
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
