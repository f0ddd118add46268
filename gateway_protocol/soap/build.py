"""Building SOAP messages of the ШЭП v10 interface: requests (for our own SOAP client, and for a
gateway or provider calling SOAP), answers and faults. Every message built validates against the
interface's XSDs (``tests/gateway_protocol/test_soap_*``).

The envelope is SOAP 1.1 with an empty ``Header`` (where a signer puts ``wsse:Security``); the
Body carries no ``wsu:Id`` until a signer adds it. ``data`` goes as elements
(``data_form="elements"``, the inverse of the parse rules in :mod:`gateway_protocol.soap.xmldata`)
or as an XML document in escaped text with ``xsi:type="xs:string"`` (``data_form="string"``, as
real clients and the real gateway send it). A str is text either way.

A ``sessionId`` travels as the interface's GUID in braces: a UUID without braces gets them, and a
value that is no UUID at all (a JSON client may send anything) is left out where the schema
allows that and replaced by a new GUID where it requires one. ``errorData`` (a dict in the JSON
channel, a string in the interface) is its JSON text.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable
from datetime import datetime
from typing import Any, Literal

from lxml import etree

from gateway_protocol.envelope import (
    SUCCESS_CODE, SUCCESS_MESSAGE, ErrorInfo, Property, RequestInfo, ResponseInfo, Status,
)
from gateway_protocol.errors import GatewayFault, Side
from gateway_protocol.soap.names import (
    ASYNC_TYPES, OPERATION_NAMESPACE, SOAP_ENV, SYNC_OPERATION, SYNC_TYPES, XSD, XSI, fault_element,
)
from gateway_protocol.soap.xmldata import fill_data, python_to_document

DataForm = Literal["elements", "string"]
MessageState = Literal["ON_DELIVERY", "DELIVERED", "NOT_DELIVERED", "DELIVERY_STOPPED"]


# ---- pieces -------------------------------------------------------------------------------------


def guid(value: str | None) -> str | None:
    """``value`` as the interface's braced GUID, or None when it is none."""
    if not value:
        return None
    try:
        return "{" + str(uuid.UUID(value.strip().strip("{}"))) + "}"
    except ValueError:
        return None


def new_guid() -> str:
    return "{" + str(uuid.uuid4()) + "}"


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


def _put(parent: etree._Element, name: str, value: Any) -> None:
    """A field of the interface's own types: a dict in the schema's order, a list repeated,
    None left out."""
    if value is None:
        return
    if isinstance(value, list):
        for item in value:
            _put(parent, name, item)
        return
    child = etree.SubElement(parent, name)
    if isinstance(value, dict):
        for key, item in value.items():
            _put(child, key, item)
    else:
        child.text = _text(value)


def _put_data(parent: etree._Element, value: Any, form: DataForm) -> None:
    if form not in ("elements", "string"):
        raise ValueError(f"data_form {form!r}: 'elements' or 'string'")
    if value is None:
        etree.SubElement(parent, "data")
    elif form == "string":
        # the prefix in the type's QName is declared on the element that names it
        element = etree.SubElement(parent, "data", nsmap={"xs": XSD, "xsi": XSI})
        element.set(f"{{{XSI}}}type", "xs:string")
        element.text = python_to_document(value)
    else:
        fill_data(etree.SubElement(parent, "data"), value)


def _properties(properties: Iterable[Property]) -> list[dict[str, str]]:
    return [{"key": p.key, "value": p.value} for p in properties]


def _sender(sender: Any) -> dict[str, Any] | None:
    if sender is None:
        return None
    return {"senderId": sender.senderId, "password": getattr(sender, "password", None)}


def _envelope(operation_element: str, namespace: str) -> tuple[etree._Element, etree._Element]:
    root = etree.Element(f"{{{SOAP_ENV}}}Envelope", nsmap={"soap": SOAP_ENV})
    etree.SubElement(root, f"{{{SOAP_ENV}}}Header")
    body = etree.SubElement(root, f"{{{SOAP_ENV}}}Body")
    wrapper = etree.SubElement(body, f"{{{namespace}}}{operation_element}", nsmap={"ns2": namespace})
    return root, wrapper


def _bytes(root: etree._Element) -> bytes:
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def _info(info: RequestInfo, *, with_type: bool, message_id: bool = True) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "messageId": info.messageId if message_id else None,
        "correlationId": info.correlationId,
        "serviceId": info.serviceId,
    }
    if with_type:
        fields["messageType"] = info.messageType or "REQUEST"
        fields["routeId"] = info.routeId
        fields["messageDate"] = info.messageDate
    else:
        fields["messageDate"] = info.messageDate
        fields["routeId"] = info.routeId
    fields["sender"] = _sender(info.sender)
    fields["properties"] = _properties(info.properties)
    fields["sessionId"] = guid(info.sessionId)
    return fields


# ---- the sync channel ------------------------------------------------------------------------------


def sync_request(info: RequestInfo, data: Any = None, *, data_form: DataForm = "elements") -> bytes:
    """A ``SendMessage`` request."""
    root, wrapper = _envelope(SYNC_OPERATION, SYNC_TYPES)
    request = etree.SubElement(wrapper, "request")
    _put(request, "requestInfo", _info(info, with_type=False))
    _put_data(etree.SubElement(request, "requestData"), data, data_form)
    return _bytes(root)


def sync_response(info: ResponseInfo, data: Any = None, *, data_form: DataForm = "elements") -> bytes:
    """A ``SendMessageResponse``."""
    root, wrapper = _envelope("SendMessageResponse", SYNC_TYPES)
    response = etree.SubElement(wrapper, "response")
    _put(response, "responseInfo", {
        "messageId": info.messageId,
        "correlationId": info.correlationId,
        "responseDate": info.responseDate,
        "status": {"code": info.status.code, "message": info.status.message[:250]},
        "sessionId": guid(info.sessionId),
    })
    _put_data(etree.SubElement(response, "responseData"), data, data_form)
    return _bytes(root)


# ---- faults ---------------------------------------------------------------------------------------


def _error_fields(error: ErrorInfo) -> dict[str, Any]:
    return {
        "errorCode": error.errorCode,
        "errorMessage": error.errorMessage,
        "errorData": json.dumps(error.errorData, ensure_ascii=False, sort_keys=True, default=str)
        if error.errorData else None,
        "errorDate": error.errorDate,
        "subError": _error_fields(error.subError) if error.subError else None,
        "sessionId": guid(error.sessionId),
    }


def fault(error: GatewayFault | ErrorInfo, operation: str, *, at: datetime | None = None) -> bytes:
    """A SOAP 1.1 Fault answering ``operation`` (``SendMessage``, ``sendMessage``, ...):
    ``faultcode`` ``soap:Client`` when the catalogue says the caller failed, ``soap:Server``
    otherwise; ``faultstring`` the error's message; ``detail`` holding ``<Op>Fault1_<Op>Fault``
    with the ErrorInfo. A :class:`GatewayFault` needs ``at``, its errorDate."""
    if operation not in OPERATION_NAMESPACE:
        raise ValueError(f"{operation!r} is not an operation of the interface: {', '.join(OPERATION_NAMESPACE)}")
    if isinstance(error, GatewayFault):
        if at is None:
            raise ValueError("a GatewayFault needs 'at', the date of the error")
        info = error.to_error_info(at)
        side = error.spec.side
    else:
        info = error
        side = GatewayFault(error.errorCode).spec.side
    root = etree.Element(f"{{{SOAP_ENV}}}Envelope", nsmap={"soap": SOAP_ENV})
    body = etree.SubElement(root, f"{{{SOAP_ENV}}}Body")
    element = etree.SubElement(body, f"{{{SOAP_ENV}}}Fault")
    etree.SubElement(element, "faultcode").text = "soap:Client" if side == Side.caller else "soap:Server"
    etree.SubElement(element, "faultstring").text = info.errorMessage
    detail = etree.SubElement(element, "detail")
    namespace = OPERATION_NAMESPACE[operation]
    entry = etree.SubElement(detail, f"{{{namespace}}}{fault_element(operation)}", nsmap={"ns2": namespace})
    for key, value in _error_fields(info).items():
        _put(entry, key, value)
    return _bytes(root)


# ---- the async channel --------------------------------------------------------------------------------


def async_send_request(info: RequestInfo, data: Any = None, *, data_form: DataForm = "elements",
                       with_message_id: bool = True) -> bytes:
    """A ``sendMessage`` request (``info.messageType``, REQUEST when not given). The published
    interface lets the gateway assign the messageId: ``with_message_id=False`` leaves it out."""
    root, wrapper = _envelope("sendMessage", ASYNC_TYPES)
    request = etree.SubElement(wrapper, "request")
    _put(request, "messageInfo", _info(info, with_type=True, message_id=with_message_id))
    _put_data(etree.SubElement(request, "messageData"), data, data_form)
    return _bytes(root)


def message_status_request(message_id: str, request_date: datetime, sender: Any,
                           properties: Iterable[Property] = ()) -> bytes:
    """A ``getMessageStatus`` request: the state of one message."""
    root, wrapper = _envelope("getMessageStatus", ASYNC_TYPES)
    _put(wrapper, "request", {
        "messageId": message_id, "requestDate": request_date, "sender": _sender(sender),
        "properties": _properties(properties),
    })
    return _bytes(root)


def delivery_notification_request(message_id: str, service_id: str, *, accepted: bool, at: datetime,
                                  resend: bool = False, error: ErrorInfo | None = None,
                                  sender: Any = None) -> bytes:
    """A ``sendDeliveryNotification`` request: a recipient took a message, or did not."""
    root, wrapper = _envelope("sendDeliveryNotification", ASYNC_TYPES)
    _put(wrapper, "request", {
        "notification": {
            "messageId": message_id, "serviceId": service_id, "notificationDate": at,
            "deliveryStatus": {
                "receiveStatus": "MESSAGE_ACCEPTED" if accepted else "MESSAGE_NOT_ACCTEPTED",
                "statusDate": at,
                "resendMessage": "RESEND" if resend else "NOT_RESEND",
                "error": _error_fields(error) if error else None,
            },
        },
        "requestDate": at,
        "sender": _sender(sender),
    })
    return _bytes(root)


def get_messages_request(service_id: str, *, request_date: datetime | None = None, sender: Any = None,
                         message_id: str | None = None, correlation_id: str | None = None,
                         amount: int | None = None, properties: Iterable[Property] = ()) -> bytes:
    """A ``getMessages`` request: messages of a service waiting for the caller."""
    root, wrapper = _envelope("getMessages", ASYNC_TYPES)
    _put(wrapper, "request", {
        "messageId": message_id, "correlationId": correlation_id, "requestDate": request_date,
        "serviceId": service_id, "sender": _sender(sender), "amount": amount,
        "properties": _properties(properties),
    })
    return _bytes(root)


def send_message_response(message_id: str, correlation_id: str | None, response_date: datetime,
                          session_id: str | None = None) -> bytes:
    """The answer to ``sendMessage``: the message was taken (its correlationId is its messageId
    when it came without one, as the JSON channel answers)."""
    root, wrapper = _envelope("sendMessageResponse", ASYNC_TYPES)
    _put(wrapper, "response", {
        "messageId": message_id, "correlationId": correlation_id or message_id,
        "responseDate": response_date, "sessionId": guid(session_id),
    })
    return _bytes(root)


def message_status_response(state: MessageState, *, status_code: str, status_message: str, status_date: datetime,
                            response_date: datetime, session_id: str | None = None) -> bytes:
    """The answer to ``getMessageStatus``: ON_DELIVERY, DELIVERED, NOT_DELIVERED or DELIVERY_STOPPED."""
    root, wrapper = _envelope("getMessageStatusResponse", ASYNC_TYPES)
    _put(wrapper, "response", {
        "messageState": state,
        "status": {"statusCode": status_code, "statusMessage": status_message, "statusDate": status_date},
        "responseDate": response_date, "sessionId": session_id,
    })
    return _bytes(root)


def delivery_notification_response(notification_id: str, response_date: datetime,
                                   session_id: str | None = None) -> bytes:
    """The answer to ``sendDeliveryNotification``."""
    root, wrapper = _envelope("sendDeliveryNotificationResponse", ASYNC_TYPES)
    _put(wrapper, "response", {
        "notificationId": notification_id, "responseDate": response_date,
        "sessionId": guid(session_id) or new_guid(),
    })
    return _bytes(root)


def messages_response(messages: Iterable[tuple[RequestInfo, Any]], response_date: datetime,
                      session_id: str | None = None, *, data_form: DataForm = "elements") -> bytes:
    """The answer to ``getMessages``: each message's info and data."""
    root, wrapper = _envelope("getMessagesResponse", ASYNC_TYPES)
    response = etree.SubElement(wrapper, "response")
    _put(response, "responseDate", response_date)
    _put(response, "sessionId", guid(session_id) or new_guid())
    for info, data in messages:
        message = etree.SubElement(response, "messages")
        _put(message, "messageInfo", _info(info, with_type=True))
        _put_data(etree.SubElement(message, "messageData"), data, data_form)
    return _bytes(root)


def success_info(message_id: str, correlation_id: str | None, at: datetime, session_id: str | None = None) -> ResponseInfo:
    """The responseInfo of a successful answer (``SCSS001``)."""
    return ResponseInfo(messageId=message_id, correlationId=correlation_id, responseDate=at,
                        status=Status(code=SUCCESS_CODE, message=SUCCESS_MESSAGE), sessionId=session_id)
