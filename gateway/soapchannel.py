"""The ШЭП SOAP interface v10 on every gateway: what real integrators' clients call.

Routes (:func:`build_soap_router`, on the central gateway and on each regional one):

- ``POST /bip-sync-wss-gost/``: SyncChannel ``SendMessage``. The same checks in the same order as
  the JSON channel (:meth:`gateway.service.GatewayService.sync`, one path for both formats): hop,
  envelope, sender, password, the WS-Security signature (``Client.SignatureInvalid``; a GOST or
  other refused algorithm gets a message naming the one received and the ones the simulator
  accepts, ``data`` ``{"verdict", "accepted"}``), signer is the sender, replay, messageDate,
  service, right, route. The message travels on as it came, its sender's signature intact, to
  the next hop's SOAP path; the provider's WS-Security-signed answer is passed on as it came.
  A peer gateway forwarding an async message posts its ``sendMessage`` here too, as the JSON
  channel posts it to its sync path.
- ``POST /bip-async``: AsyncChannel, dispatched on the Body's operation element (never on the
  SOAPAction, which real clients send as ``""``, ``SendMessage`` or not at all):

  * ``sendMessage``: checked as a sync message (plus its messageType), stored and delivered by
    :class:`gateway.asyncchannel.AsyncDelivery` (the stored body is the SOAP envelope, delivered
    as it came); answered ``sendMessageResponse`` with the messageId (the one the gateway assigns
    when the client left it out, as the interface says) and correlationId.
  * ``getMessageStatus``: the sender (its password) asks the state of one of its messages:
    ON_DELIVERY, DELIVERED, NOT_DELIVERED or DELIVERY_STOPPED, from the same store as the JSON
    channel's ``getMessageStatus``; ``status`` says the last outcome (``SCSS001`` when delivered,
    else the error code).
  * ``getMessages`` (pull): a registered participant takes the messages of a service that wait
    for it -- addressed to it and still ON_DELIVERY. Such messages exist for a recipient the
    gateway cannot push to (a participant without an address, :meth:`GatewayService.waits_for_pull`);
    they stay ON_DELIVERY until the recipient says it took them. The messages are given as the
    gateway stored them, the sender's password masked; the answer is signed by the gateway (the
    interface has no place for the sender's own signature in a pulled message).
  * ``sendDeliveryNotification``: the recipient of a message says it received it
    (``MESSAGE_ACCEPTED``: DELIVERED) or not (``MESSAGE_NOT_ACCTEPTED``: NOT_DELIVERED, or
    ``RESEND``: it stays ON_DELIVERY and is handed out again); the sender's ``getMessageStatus``
    then sees the new state. Only the message's recipient may say so, and only of a message still
    ON_DELIVERY (a final state is never changed).

  The queries carry no message of their own, so they are authenticated by the sender's password
  (as the JSON channel's queries are); a WS-Security signature on them is not required.
- ``GET`` of both paths with ``?wsdl``, ``?wsdl=NAME`` or ``?xsd=NAME``: the interface's documents
  rendered for the URL they were fetched from (:func:`gateway_protocol.soap.render_wsdl`).

Every answer is ``text/xml; charset=utf-8``: HTTP 200 for an answer, 500 for a SOAP fault (SOAP 1.1
over HTTP). The gateway's own answers (faults, acknowledgements, status answers, pulled messages)
are WS-Security signed with its key; a provider's answer and a next hop's fault are passed on as
they came. No request is answered with a traceback: anything unexpected is ``Server.InternalError``
as a SOAP fault.

The message log keeps SOAP requests and answers in the same hash chain as JSON ones
(:mod:`gateway.service`: :func:`~gateway.service.masked`): each as a small JSON document
``{"format": "soap", "envelope": <the envelope re-serialised from its parsed tree>, "receipt":
{signer, serial, verdict, message}}`` -- everything kept but the sender's ``<password>``, whose
content (CDATA sections and comments included) becomes ``***`` (:func:`gateway.service.mask_soap`). **A masked SOAP body's signature therefore cannot be verified again from the log**: the
``receipt`` records the gateway's verdict when the message came (the trainer's flow and the
evidence export show it).
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlmodel import select

from gateway.asyncchannel import DELIVERED, FINAL, NOT_DELIVERED, ON_DELIVERY, PULL_ONLY
from gateway.messages import SOAP_CONTENT_TYPE, Reply, soap_operation, stored_message
from gateway.models import AsyncMessage
from gateway_protocol import soap
from gateway_protocol.envelope import SUCCESS_CODE, SUCCESS_MESSAGE
from gateway_protocol.errors import ErrorCode, GatewayFault
from gateway_protocol.soap.parse import DeliveryNotificationRequest, MessagesQuery, MessageStatusQuery
from simulation.clock import from_us, to_us

log = logging.getLogger(__name__)

TAG = "ШЭП SOAP"
DEFAULT_AMOUNT = 10
"""Messages ``getMessages`` hands out at once when the client's ``amount`` is absent or 0."""
MAX_AMOUNT = 100
"""The most ``getMessages`` hands out at once."""
WSDL_CONTENT_TYPE = "text/xml"


class SoapChannel:
    """The SOAP operations of one gateway (``gateway``: its :class:`~gateway.service.GatewayService`)."""

    def __init__(self, gateway: Any) -> None:
        self.gateway = gateway
        self.runtime = gateway.runtime

    # ---- the sync channel ---------------------------------------------------------------------

    async def sync(self, body: bytes, headers: Any) -> Reply:
        return await self.gateway.sync(body, headers, "soap")

    # ---- the async channel --------------------------------------------------------------------

    async def asynchronous(self, body: bytes, headers: Any) -> Reply:
        """An AsyncChannel request, dispatched on the Body's operation element."""
        operation = soap_operation(body)
        if operation == "sendMessage" or operation not in soap.ASYNC_OPERATIONS:
            # sendMessage, and anything that is none of the operations (the parse names why)
            return await self.gateway.async_channel.send(body, headers, "soap")
        at = await self.runtime.now()
        try:
            parsed = soap.parse_async(body)
            query = parsed.query
            if isinstance(query, MessageStatusQuery):
                return await self.status(query, at)
            if isinstance(query, DeliveryNotificationRequest):
                return await self.notification(query, at)
            if isinstance(query, MessagesQuery):
                return await self.messages(query, at)
            raise GatewayFault(ErrorCode.ENVELOPE_INVALID, f"Body: {operation} carries no query")
        except GatewayFault as fault:
            log.info("refused %s: %s", operation, fault, extra={"fields": {"errorCode": fault.code}})
            return self.gateway.soap_fault(fault, operation, at)

    def _authenticate(self, sender: Any, where: str) -> str:
        if sender is None:
            raise GatewayFault(ErrorCode.ENVELOPE_INVALID, f"{where}/sender: missing; the gateway needs to know who asks")
        self.gateway.check_sender(sender.senderId, sender.password or "")
        return sender.senderId

    def _answer(self, envelope: bytes, at: datetime) -> Reply:
        return Reply(200, {}, raw=self.gateway.sign_soap(envelope), at=at, format="soap")

    async def status(self, query: MessageStatusQuery, at: datetime) -> Reply:
        """``getMessageStatus``: the state of one of the sender's messages."""
        sender = self._authenticate(query.sender, "request")
        async with self.runtime.db.session() as session:
            row = await session.get(AsyncMessage, (sender, query.messageId))
        if row is None:
            raise GatewayFault(ErrorCode.UNKNOWN_MESSAGE, f"{query.messageId} of {sender}")
        if row.state == DELIVERED:
            code, message = SUCCESS_CODE, SUCCESS_MESSAGE
        elif row.last_error:
            code, _, message = row.last_error.partition(": ")
        else:
            code, message = row.state, {ON_DELIVERY: "being delivered", "DELIVERY_STOPPED": "stopped by an operator"}.get(
                row.state, row.state)
        when = from_us(row.finished_us or row.accepted_us)
        envelope = soap.message_status_response(
            row.state, status_code=code, status_message=(message or code)[:250], status_date=when, response_date=at,
        )
        return self._answer(envelope, at)

    async def messages(self, query: MessagesQuery, at: datetime) -> Reply:
        """``getMessages``: messages of ``serviceId`` that wait for the caller to take them."""
        recipient = self._authenticate(query.sender, "request")
        amount = min(query.amount or DEFAULT_AMOUNT, MAX_AMOUNT)
        statement = (
            select(AsyncMessage)
            .where(AsyncMessage.recipient == recipient, AsyncMessage.service_id == query.serviceId,
                   AsyncMessage.state == ON_DELIVERY, AsyncMessage.next_attempt >= PULL_ONLY)
            .order_by(AsyncMessage.accepted_us)
        )
        if query.messageId:
            statement = statement.where(AsyncMessage.message_id == query.messageId)
        if query.correlationId:
            statement = statement.where(AsyncMessage.correlation_id == query.correlationId)
        async with self.runtime.db.session() as session:
            rows = (await session.exec(statement.limit(amount))).all()
        found = []
        for row in rows:
            try:
                incoming = stored_message(row)
            except (ValueError, GatewayFault):
                log.warning("a stored message of %s cannot be read; not handed out", row.sender_id)
                continue
            info = incoming.info.model_copy(update={"sender": incoming.info.sender.model_copy(update={"password": "***"})})
            data = incoming.data if incoming.format == "soap" else incoming.signed.request.requestData.data
            found.append((info, data))
        return self._answer(soap.messages_response(found, at), at)

    async def notification(self, request: DeliveryNotificationRequest, at: datetime) -> Reply:
        """``sendDeliveryNotification``: the recipient received a message, or did not."""
        recipient = self._authenticate(request.sender, "request")
        notice = request.notification
        async with self.runtime.db.session() as session:
            rows = (await session.exec(select(AsyncMessage).where(
                AsyncMessage.message_id == notice.messageId, AsyncMessage.service_id == notice.serviceId,
                AsyncMessage.recipient == recipient,
            ))).all()
        if not rows:
            raise GatewayFault(
                ErrorCode.UNKNOWN_MESSAGE, f"{notice.messageId} of {notice.serviceId}: no message addressed to {recipient}"
            )
        row = rows[0]
        status = notice.deliveryStatus
        if row.state in FINAL:
            raise GatewayFault(
                ErrorCode.QUERY_INVALID, f"{notice.messageId} is {row.state} already; a final state is not changed",
            )
        values: dict[str, Any]
        if status.receiveStatus == "MESSAGE_ACCEPTED":
            values = {"state": DELIVERED, "finished_us": to_us(at)}
        elif status.resendMessage == "RESEND":
            values = {"last_error": _said(status, recipient)}
        else:
            values = {"state": NOT_DELIVERED, "finished_us": to_us(at), "last_error": _said(status, recipient)}
        values["attempts"] = row.attempts + 1
        if values.get("state") in FINAL:
            values["notice_seq"] = await self.gateway.async_channel.next_notice()
        if not await self.gateway.async_channel.update_on_delivery(row, values):
            raise GatewayFault(ErrorCode.QUERY_INVALID, f"{notice.messageId} reached a final state meanwhile")
        log.info("async message %s: %s says %s", row.message_id, recipient, status.receiveStatus)
        notification_id = f"{row.message_id}:{values['attempts']}"
        return self._answer(soap.delivery_notification_response(notification_id, at), at)


def _said(status: Any, recipient: str) -> str:
    error = status.error
    if error is not None:
        return f"{error.errorCode}: {error.errorMessage}"[:500]
    return f"{status.receiveStatus}: {recipient} did not take the message ({status.resendMessage})"


def _xml(reply: Reply) -> Response:
    status = 200 if reply.status_code == 200 else 500
    return Response(reply.raw or b"", status_code=status, media_type=SOAP_CONTENT_TYPE)


def _served(request: Request, channel: soap.names.Channel) -> Response:
    """``?wsdl``, ``?wsdl=NAME`` or ``?xsd=NAME`` of a channel's path, for the URL requested."""
    params = request.query_params
    address = str(request.url.replace(query=""))
    name = params.get("wsdl") or params.get("xsd") or None
    if "wsdl" not in params and "xsd" not in params:
        return Response(
            "This is a SOAP endpoint: POST a SOAP 1.1 envelope, or GET ?wsdl for its interface.\n",
            status_code=400, media_type="text/plain; charset=utf-8",
        )
    try:
        document = soap.render_wsdl(channel, address, name)
    except LookupError as exc:
        return Response(f"{exc}\n", status_code=404, media_type="text/plain; charset=utf-8")
    return Response(document, media_type=WSDL_CONTENT_TYPE)


_SOAP_BODY = {
    "requestBody": {"required": True, "content": {"text/xml": {"schema": {"type": "string", "format": "xml"}}}},
    "responses": {
        "200": {"description": "The answer (SOAP 1.1, WS-Security signed)", "content": {"text/xml": {}}},
        "500": {"description": "A SOAP fault with ErrorInfo (the catalogue's code)", "content": {"text/xml": {}}},
    },
}


def build_soap_router(gateway: Any) -> APIRouter:
    """The SOAP routes of one gateway."""
    router = APIRouter(tags=[TAG])
    channel = SoapChannel(gateway)
    gateway.soap = channel

    async def guarded(call: Any, body: bytes, headers: Any, operation: str) -> Response:
        try:
            return _xml(await call(body, headers))
        except Exception:  # never a traceback to a SOAP client
            log.exception("a SOAP %s failed", operation)
            at = await gateway.runtime.now()
            return _xml(gateway.soap_fault(GatewayFault(ErrorCode.GATEWAY_INTERNAL, "unexpected error"), operation, at))

    @router.post(soap.SYNC_SOAP_PATH, summary="SyncChannel SendMessage (SOAP 1.1, WS-Security)", openapi_extra=_SOAP_BODY)
    async def sync_soap(request: Request) -> Response:
        return await guarded(channel.sync, await request.body(), request.headers, soap.SYNC_OPERATION)

    @router.post(soap.ASYNC_SOAP_PATH,
                 summary="AsyncChannel: sendMessage, getMessageStatus, sendDeliveryNotification, getMessages",
                 openapi_extra=_SOAP_BODY)
    async def async_soap(request: Request) -> Response:
        body = await request.body()
        operation = soap_operation(body)
        return await guarded(channel.asynchronous, body, request.headers,
                             operation if operation in soap.ASYNC_OPERATIONS else "sendMessage")

    @router.get(soap.SYNC_SOAP_PATH, summary="SyncChannel WSDL and XSDs: ?wsdl, ?wsdl=NAME, ?xsd=NAME")
    async def sync_wsdl(request: Request) -> Response:
        return _served(request, "sync")

    @router.get(soap.ASYNC_SOAP_PATH, summary="AsyncChannel WSDL and XSDs: ?wsdl, ?wsdl=NAME, ?xsd=NAME")
    async def async_wsdl(request: Request) -> Response:
        return _served(request, "async")

    return router
