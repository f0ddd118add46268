"""What the gateway's two channels share: a message as it came (:class:`Incoming`, JSON or SOAP),
a message that passed the checks, an answer, and the checks and records the async channel asks of
the gateway (:class:`Checkpoint`).

A message comes in one of two formats: ``json`` (the simulator's own envelope, signed with a
detached JWS) or ``soap`` (the ШЭП v10 SOAP interface, signed with WS-Security). Both are read
into the same :class:`~gateway_protocol.envelope.RequestInfo` and pass the same checks
(:mod:`gateway.service`); the raw bytes are what is forwarded and logged.

:mod:`gateway.service` implements the checkpoint and owns the async channel;
:mod:`gateway.asyncchannel` knows the gateway only through this module, so neither imports the other
both ways.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal, Protocol

from lxml import etree
from pydantic import ValidationError

from gateway_protocol import soap
from gateway_protocol.envelope import RequestInfo, SignedRequest
from gateway_protocol.errors import ErrorCode, GatewayFault
from gateway_protocol.soap.names import SYNC_OPERATION
from gateway_protocol.soap.xmldata import parse_xml

if TYPE_CHECKING:
    from gateway.config import GatewayConfig
    from gateway.metrics import GatewayMetrics
    from gateway_protocol.replay import ReplayGuard
    from runtime import SystemRuntime

Channel = Literal["sync", "async"]
Format = Literal["json", "soap"]
SOAP_FORMAT = "soap"
SOAP_CONTENT_TYPE = "text/xml; charset=utf-8"
MAX_ENVELOPE_BYTES = 16 * 1024 * 1024
"""The largest message a gateway takes (it keeps every message it takes in its log)."""


@dataclass
class Incoming:
    """A message as the gateway received it: its RequestInfo, its format and its raw bytes.

    ``signed``/``content`` are the JSON channel's (the parsed envelope and its signed content);
    ``receipt`` the gateway's verdict on its signature at receipt (``signer``, ``serial``,
    ``verdict``), kept with the logged SOAP body, whose signature cannot be checked again from the
    log once its password is masked; ``operation`` the SOAP operation (``SendMessage``,
    ``sendMessage``), which names the fault element of an answer."""

    info: RequestInfo
    format: Format
    body: bytes
    signed: SignedRequest | None = None
    content: dict[str, Any] | None = None
    receipt: dict[str, Any] | None = None
    operation: str = "SendMessage"
    data: Any = None
    """The message's data as JSON-like Python (the SOAP parse's; JSON's is in ``signed``)."""


@dataclass
class Reply:
    status_code: int
    body: dict[str, Any]
    raw: bytes | None = None
    """The answer exactly as the next hop sent it (verified, and parsed as ``body``): passed on
    and logged as it is, rather than serialised again. A SOAP answer's envelope."""
    at: datetime | None = None
    """The virtual time the answer came (or the fault was made), when the gateway's ``forward``
    made it."""
    format: Format = "json"
    """``soap``: ``raw`` is a SOAP envelope (``body`` then holds only ``errorInfo`` of a fault)."""
    receipt: dict[str, Any] | None = None
    """The gateway's verdict on a SOAP answer's signature when it came (signer, serial, verdict)."""
    received: bytes | None = None
    """A SOAP provider's answer as it came, when the gateway turned it into the JSON answer
    ``body`` for a JSON caller (:mod:`gateway.soapadapter`): the log keeps both."""


@dataclass
class Accepted:
    """A message that passed the checks, and where it goes."""

    incoming: Incoming
    came_from: str
    target: str
    at: datetime

    @property
    def info(self) -> RequestInfo:
        return self.incoming.info

    @property
    def body(self) -> bytes:
        return self.incoming.body


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
        self, body: bytes, headers: Any, at: datetime, channel: Channel, config: GatewayConfig,
        fmt: Format = "json",
    ) -> tuple[Incoming, str]:
        """Envelope, hop, sender, password, signature (a refusal is logged and raised)."""
        ...

    def admit(
        self, incoming: Incoming, came_from: str, at: datetime, channel: Channel, config: GatewayConfig,
    ) -> Accepted:
        """Time, service, access right, route (a refusal is raised, not logged)."""
        ...

    async def forward(self, accepted: Accepted) -> Reply:
        """Hand an accepted message to its next hop."""
        ...

    def waits_for_pull(self, target: str) -> bool:
        """Messages to ``target`` wait for it to take them (``getMessages``), never pushed."""
        ...

    def soap_fault(self, fault: GatewayFault, operation: str, at: datetime) -> Reply:
        """The gateway's SOAP fault answering ``operation``, signed with its key."""
        ...

    def sign_soap(self, envelope: bytes) -> bytes:
        """One of the gateway's own SOAP answers, signed with its key."""
        ...

    def log_request(
        self, incoming: Incoming, came_from: str, recipient: str | None, at: datetime,
        channel: Channel, status: str, error_code: str | None = None,
    ) -> None: ...

    def log_answer(
        self, incoming: Incoming, recipient: str | None, at: datetime, channel: Channel,
        status: str, reply: Reply, error_code: str | None = None,
    ) -> None: ...

    def count(self, service_id: str, channel: Channel, outcome: str, started: float) -> None:
        """One message in the metrics: its outcome and how long it took since ``started``
        (``time.perf_counter()``)."""
        ...


# ---- reading a message ---------------------------------------------------------------------


def parse_json(body: bytes) -> Incoming:
    """A JSON channel message, or ``Client.EnvelopeInvalid`` naming the fields."""
    check_size(body)
    try:
        signed = SignedRequest.model_validate_json(body)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'body'}: {e['msg']}" for e in exc.errors()
        )
        raise GatewayFault(ErrorCode.ENVELOPE_INVALID, problems) from None
    return Incoming(signed.request.requestInfo, "json", body, signed=signed)


def parse_soap(body: bytes, channel: Channel, hop: str | None, message_id: str | None = None) -> Incoming:
    """A SOAP ``SendMessage`` (sync) or ``sendMessage`` (async; also at the sync path when a
    peer gateway forwards an async message, as the JSON channel does), or
    ``Client.EnvelopeInvalid`` naming the field. ``message_id``: the one the gateway assigned to a
    sendMessage that came without one (the stored message read again)."""
    check_size(body)
    if channel == "async" or (hop is not None and soap_operation(body) == "sendMessage"):
        parsed = soap.parse_async(body, new_message_id=lambda: message_id or soap.assigned_message_id(body))
        if parsed.operation != "sendMessage" or parsed.info is None or parsed.data is None:
            raise GatewayFault(ErrorCode.ENVELOPE_INVALID, f"Body: {parsed.operation} carries no message")
        return Incoming(parsed.info, "soap", body, operation="sendMessage", data=parsed.data.value)
    request = soap.parse_sync_request(body)
    return Incoming(request.info, "soap", body, operation=SYNC_OPERATION, data=request.data.value)


def stored_message(row: Any) -> Incoming:
    """An async message as the gateway stored it (its format is evident from its body)."""
    body = row.body.encode("utf-8")
    if body.lstrip()[:1] == b"<":
        return parse_soap(body, "async", None, row.message_id)
    return parse_json(body)


def check_size(body: bytes) -> None:
    if len(body) > MAX_ENVELOPE_BYTES:
        raise GatewayFault(
            ErrorCode.ENVELOPE_INVALID, f"body: {len(body)} bytes, more than the {MAX_ENVELOPE_BYTES} a message may have"
        )


def soap_operation(body: bytes) -> str | None:
    """The local name of the one element in a SOAP Body, or None (read hardened; no checks)."""
    try:
        root = parse_xml(body)
    except Exception:
        return None
    found = root.find(f"{{{soap.SOAP_ENV}}}Body")
    if found is None:
        return None
    children = [child for child in found if isinstance(child.tag, str)]
    return etree.QName(children[0]).localname if children else None



# ---- what the log and the replay guard keep of a SOAP message ------------------------------------


def soap_document(envelope: str, receipt: dict[str, Any] | None) -> dict[str, Any]:
    """A logged SOAP message: the envelope's text and the gateway's verdict on its signature."""
    return {"format": SOAP_FORMAT, "envelope": envelope, "receipt": receipt}


def remembered(reply: Reply) -> dict[str, Any]:
    """An answer as the replay guard keeps it: a JSON answer's body; a SOAP answer as logged
    (with the fault's code, when it is one)."""
    if reply.format == SOAP_FORMAT and reply.raw is not None:
        document = soap_document(reply.raw.decode("utf-8"), reply.receipt)
        code = reply.body.get("errorInfo", {}).get("errorCode")
        if code:
            document["errorCode"] = code
        return document
    if reply.received is not None:
        return {**reply.body, PROVIDER_ANSWER: soap_document(reply.received.decode("utf-8", "replace"), reply.receipt)}
    return reply.body


PROVIDER_ANSWER = "providerAnswer"
"""The key under which a logged JSON answer the gateway adapted keeps the SOAP provider's answer."""


def format_of(answer: dict[str, Any]) -> str:
    return SOAP_FORMAT if isinstance(answer, dict) and answer.get("format") == SOAP_FORMAT else "json"


