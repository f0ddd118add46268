"""Receiving sync-channel requests as a provider system behind a gateway.

A provider mounts :func:`provider_router` with one handler per serviceId it serves. The router
takes requests only from the gateways it trusts, each hop signed by the gateway's own key
(:mod:`gateway_protocol.hops`), verifies the sender's signature end to end with the run's
validator (chain, validity, key usage, revocation; the certificate must be the sender's) and a
sync message's date, dispatches, and signs what it answers. Every request it gets is recorded in
its hop log (:class:`gateway_protocol.replay.HopRecord`): when, through which hop, from whom,
and the verdict.

Two channels, one path of checks: JSON at ``SYNC_PATH`` and SOAP 1.1 at ``SYNC_SOAP_PATH``
(``/bip-sync-wss-gost/``, where a gateway forwards a SOAP request as it came: a SyncChannel
``SendMessage`` or an AsyncChannel ``sendMessage`` it delivers). Only reading the request, checking
the sender's signature (JWS, or WS-Security via ``validator.xmldsig``) and rendering the answer differ.
A SOAP answer is a ``SendMessageResponse`` with the handler's data as XML elements of the JSON
answer's field names, WS-Security signed with the provider's key; a refusal is a SOAP fault (HTTP
500) with the catalogue's ErrorInfo. The replay guard keeps one answer per (sender, messageId)
whatever the channel: a repeat gets the first answer (over the other channel, the same response
signed anew for that channel).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from pydantic import ValidationError

from gateway_protocol.envelope import (
    SUCCESS_CODE,
    SUCCESS_MESSAGE,
    SYNC_PATH,
    ErrorInfo,
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
from gateway_protocol.soap.build import fault as soap_fault
from gateway_protocol.soap.build import sync_response as soap_sync_response
from gateway_protocol.soap.names import ASYNC_TYPES, SOAP_ENV, SYNC_OPERATION, SYNC_SOAP_PATH
from gateway_protocol.soap.parse import SoapData, parse_async, parse_sync_request
from gateway_protocol.soap.xmldata import XmlRefused, parse_xml
from signatures.identity import Identity
from signatures.jws import sign_detached
from signatures.verdicts import Verdict
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
    # A response's signed content is its whole JSON dump, so that dump, with the signature, is
    # the signed response's dump: made once, not again through a SignedResponse model.
    content = _response_content(info, data, at)
    return {"response": content, "signature": sign_detached(content, identity.key, identity.chain)}


def provider_router(
    context: Callable[[], ProviderContext],
    handlers: dict[str, Handler],
    *,
    accept_from: Collection[str],
    accept_direct: bool = False,
) -> APIRouter:
    """The sync-channel endpoints of a provider serving ``handlers`` behind ``accept_from``
    (and, for test doubles only, ``accept_direct``: also from callers that are no gateway):
    JSON at ``SYNC_PATH``, SOAP at ``SYNC_SOAP_PATH`` (one path of checks for both, see
    :func:`_read_soap`)."""
    router = APIRouter(tags=["ШЭП sync channel"])
    guard = ReplayGuard(DatabaseAnswerStore(context().db, context()))
    hops = HopVerifier(context().name)
    writer = GroupCommit.of(context().db)

    async def record(at, hop: str | None, info: RequestInfo | None, signer: str | None, verdict: str) -> None:
        await writer.insert(HopRecord.__table__, {
            "at_us": to_us(at), "hop": (hop or "-")[:200], "sender_id": info.sender.senderId if info else "-",
            "signer": signer, "message_id": info.messageId if info else "-",
            "service_id": info.serviceId if info else "-", "verdict": verdict,
        })

    async def take(body: bytes, headers: Any, reader: Reader) -> tuple[int, dict[str, Any]]:
        """The answer to one request, channel-neutral (:func:`_as_json`, :func:`_as_soap` render it)."""
        ctx = context()
        at = await ctx.now()
        skew = timedelta(seconds=ctx.settings.message_date_skew)
        hop: str | None = headers.get(HOP_HEADER)
        read: Read | None = None
        signer: str | None = None
        try:
            if has_hop(headers) or not accept_direct:
                hop = await hops.verify(
                    headers, body, accepted=accept_from, validator=ctx.validator, at=at, skew=skew
                )
            read = reader.parse(body)
            info = read.info
            verdict, refusal = await reader.verify(ctx.validator, body, read, at)
            if not verdict.valid:
                raise GatewayFault(
                    ErrorCode.SIGNATURE_INVALID, verdict.message, data={"verdict": verdict.code, **refusal}
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
                        Incoming(info=info, data=read.data, signer=verdict.signer or {}, hop=hop)
                    )
                    answer = reader.answer(ctx.identity, info, result, await ctx.now())
                except GatewayFault as fault:
                    return fault.http_status, fault.to_body(await ctx.now())
                return 200, answer

            (status, answer), replayed = await guard.answer(
                (info.sender.senderId, info.messageId), process, at=at, window=skew
            )
            await record(at, hop, info, signer, "REPLAYED" if replayed else "ACCEPTED")
            return status, answer
        except GatewayFault as fault:
            log.info("refused: %s", fault, extra={"fields": {"errorCode": fault.code, "hop": hop}})
            await record(at, hop, read.info if read else None, signer, fault.code)
            return fault.http_status, fault.to_body(at)

    json_reader = _JsonReader()

    @router.post(SYNC_PATH, summary="Take a signed request forwarded by a gateway")
    async def receive(request: Request) -> JSONResponse:
        status, answer = await take(await request.body(), request.headers, json_reader)
        return JSONResponse(_as_json(context().identity, answer), status_code=status)

    async def fast(body: bytes, headers: Any) -> tuple[int, bytes]:
        status, answer = await take(body, headers, json_reader)
        return status, render_json(_as_json(context().identity, answer))

    serve_fast(router, SYNC_PATH, fast)

    @router.post(
        SYNC_SOAP_PATH, summary="Take a WS-Security signed SOAP request (SendMessage, or an async sendMessage) "
                                "forwarded by a gateway",
        openapi_extra={"requestBody": {"required": True, "content": {
            kind: {"schema": {"type": "string"}} for kind in SOAP_MEDIA_TYPES}}},
        response_class=Response,
    )
    async def receive_soap(request: Request) -> Response:
        body = await request.body()
        operation = _soap_operation(body)
        status, answer = await take(body, request.headers, _SoapReader(operation))
        ctx = context()
        status, content = _as_soap(ctx.identity, status, answer, operation, await ctx.now())
        return Response(content, status_code=status, media_type=SOAP_CONTENT_TYPE)

    return router


# ---- the two channels -----------------------------------------------------------------------------

SOAP_MEDIA_TYPES = ("text/xml", "application/xml", "application/soap+xml")
"""What a SOAP request may say it is (real clients send all three with a SOAP 1.1 envelope)."""
SOAP_CONTENT_TYPE = "text/xml; charset=utf-8"


@dataclass
class Read:
    """A request read from its channel: its info and the data its handler gets."""

    info: RequestInfo
    data: Any
    signed: SignedRequest | None = None
    """The JSON request (its signature is checked over it)."""


class Reader(Protocol):
    def parse(self, body: bytes) -> Read: ...

    async def verify(self, validator: Any, body: bytes, read: Read, at: datetime) -> tuple[Verdict, dict[str, Any]]:
        """The sender's signature's verdict, and what a refusal's errorData adds."""
        ...

    def answer(self, identity: Identity, info: RequestInfo, result: Any, at: datetime) -> dict[str, Any]: ...


class _JsonReader:
    def parse(self, body: bytes) -> Read:
        try:
            signed = SignedRequest.model_validate_json(body)
        except ValidationError as exc:
            raise GatewayFault(ErrorCode.ENVELOPE_INVALID, _errors(exc)) from None
        return Read(signed.request.requestInfo, signed.request.requestData.data, signed)

    async def verify(self, validator: Any, body: bytes, read: Read, at: datetime) -> tuple[Verdict, dict[str, Any]]:
        assert read.signed is not None
        return await validator.jws(read.signed.signature, signed_content(read.signed.request), at=at), {}

    def answer(self, identity: Identity, info: RequestInfo, result: Any, at: datetime) -> dict[str, Any]:
        return sign_response(identity, info, result, at)


class _SoapReader:
    """SOAP 1.1 (:mod:`gateway_protocol.soap`): a SyncChannel ``SendMessage``, or an AsyncChannel
    ``sendMessage`` the gateway delivers (messageType set: no date check, as for JSON). The sender's
    signature is its WS-Security one over the Body (:meth:`SignatureValidator.xmldsig`); the data
    handed to the handler is what :func:`gateway_protocol.soap.parse_sync_request` reads (XML has
    no types: text values are str), and an XML document carried as text in ``data`` (as real
    clients send ГБД ФЛ's ``Request``) is handed over as its root element's fields."""

    def __init__(self, operation: str) -> None:
        self.operation = operation
        """The Body's operation (:func:`_soap_operation`): ``SendMessage`` or ``sendMessage``."""

    def parse(self, body: bytes) -> Read:
        if self.operation == "sendMessage":
            message = parse_async(body)
            if message.info is None:  # pragma: no cover - parse_async gives sendMessage its info
                raise GatewayFault(ErrorCode.ENVELOPE_INVALID, "request/messageInfo: missing")
            if message.info.messageType is None:
                raise GatewayFault(ErrorCode.MESSAGE_TYPE_MISSING, "request/messageInfo/messageType")
            return Read(message.info, _payload(message.data))
        parsed = parse_sync_request(body)
        return Read(parsed.info, _payload(parsed.data))

    async def verify(self, validator: Any, body: bytes, read: Read, at: datetime) -> tuple[Verdict, dict[str, Any]]:
        result = await validator.xmldsig(body, at=at)
        if result.algorithm_refused:  # GOST, say: the message names it and the ones accepted
            from signatures.xmldsig import ACCEPTED_SIGNATURE_METHODS

            return result.verdict, {"accepted": list(ACCEPTED_SIGNATURE_METHODS)}
        return result.verdict, {}

    def answer(self, identity: Identity, info: RequestInfo, result: Any, at: datetime) -> dict[str, Any]:
        # The JSON form (for a repeat over JSON) and the signed SOAP answer, made here so that a
        # result with no XML form is this request's fault, not a crash later.
        content = _response_content(info, result, at)
        return {"response": content, "soap": _soap_answer(identity, content).decode("utf-8")}


def _payload(data: SoapData | None) -> Any:
    """What a handler gets of a SOAP message's data: as parsed, except that an XML document sent
    as text (``<Request>...</Request>`` escaped in ``data``) is its root element's content."""
    if data is None:
        return None
    value = data.value
    if data.document is not None and isinstance(value, dict) and len(value) == 1:
        inner = next(iter(value.values()))
        if isinstance(inner, dict):
            return inner
    return value


def _soap_operation(body: bytes) -> str:
    """``sendMessage`` when the Body holds an AsyncChannel sendMessage, else ``SendMessage`` (the
    operation a fault answers; the parse says what is wrong with anything else)."""
    try:
        root = parse_xml(body)
    except XmlRefused:
        return SYNC_OPERATION
    content = root.find(f"{{{SOAP_ENV}}}Body/*")
    if content is not None and content.tag == f"{{{ASYNC_TYPES}}}sendMessage":
        return "sendMessage"
    return SYNC_OPERATION


def _response_content(info: RequestInfo, data: Any, at: datetime) -> dict[str, Any]:
    return signed_content(SyncResponse(
        responseInfo=ResponseInfo(
            messageId=str(uuid.uuid4()),
            correlationId=info.correlationId or info.messageId,
            responseDate=at,
            status=Status(code=SUCCESS_CODE, message=SUCCESS_MESSAGE),
            sessionId=info.sessionId,
        ),
        responseData=ResponseData(data=data),
    ))


def _soap_answer(identity: Identity, content: dict[str, Any]) -> bytes:
    """A signed ``SendMessageResponse`` of a response's JSON form: the data as XML elements with
    the JSON answer's field names; ``Server.ProviderResponseInvalid`` when it has no XML form."""
    response = SyncResponse.model_validate(content)
    try:
        envelope = soap_sync_response(response.responseInfo, response.responseData.data)
    except ValueError as exc:
        raise GatewayFault(ErrorCode.PROVIDER_RESPONSE_INVALID, f"the answer has no XML form: {exc}") from None
    from signatures.xmldsig import sign_envelope  # signxml is loaded only by those who use it

    return sign_envelope(envelope, identity)


def _as_json(identity: Identity, answer: dict[str, Any]) -> dict[str, Any]:
    """A neutral answer as the JSON channel gives it: a fault, or the signed response (signed now
    when it was first given over SOAP)."""
    if "errorInfo" in answer or "signature" in answer:
        return {key: answer[key] for key in ("response", "signature", "errorInfo") if key in answer}
    content = answer["response"]
    return {"response": content, "signature": sign_detached(content, identity.key, identity.chain)}


def _as_soap(identity: Identity, status: int, answer: dict[str, Any], operation: str,
             at: datetime) -> tuple[int, bytes]:
    """A neutral answer as the SOAP channel gives it: HTTP 200 and the signed SendMessageResponse,
    or HTTP 500 and a SOAP fault (SOAP 1.1 over HTTP) carrying the catalogue's ErrorInfo."""
    try:
        if "errorInfo" in answer:
            return 500, soap_fault(ErrorInfo.model_validate(answer["errorInfo"]), operation)
        if "soap" in answer:
            return status, answer["soap"].encode("utf-8")
        return status, _soap_answer(identity, answer["response"])  # first given over JSON
    except GatewayFault as fault:
        return 500, soap_fault(fault, operation, at=at)


def _errors(exc: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(p) for p in err['loc']) or 'body'}: {err['msg']}" for err in exc.errors()
    )
