"""Reading SOAP messages of the ШЭП v10 interface into the JSON channel's models.

Every refusal is a :class:`~gateway_protocol.errors.GatewayFault` ``Client.EnvelopeInvalid``
whose detail starts with the element it is about (``request/requestInfo/messageDate: ...``):
the message is read hardened (:mod:`gateway_protocol.soap.xmldata`), checked to be a SOAP 1.1
envelope with one operation in its Body, validated against the interface's XSDs and then read
into the same models as the JSON channel (:class:`~gateway_protocol.envelope.RequestInfo`).
Every message must be UTF-8 (what the gateway keeps and passes on is UTF-8 text), and a
request's Body may hold no comment or processing instruction (exclusive C14N leaves comments out
of the signed digest, so one could be slipped in after signing).

Tolerated as real clients send them: ``data`` in any namespace (or none), with any ``xsi:type``
or none, holding nested elements, text, or an escaped XML document (its rules:
:mod:`~gateway_protocol.soap.xmldata`); and an optional element of the message info sent empty
(``<correlationId></correlationId>``, ``<properties/>``), which is read as absent. Not read
here: the Header (``wsse:Security`` is :mod:`signatures.xmldsig`'s) and the SOAPAction.
"""

from __future__ import annotations

import json
import re
import hashlib
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from lxml import etree
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from gateway_protocol.envelope import (
    ErrorInfo, Identifier, Password, Property, Reference, RequestData, RequestInfo, ResponseData, ResponseInfo,
    SyncRequest, SyncResponse,
)
from gateway_protocol.errors import ErrorCode, GatewayFault
from gateway_protocol.soap.names import (
    ASYNC_OPERATIONS, ASYNC_TYPES, SOAP12_ENV, SOAP_ENV, SYNC_OPERATION, SYNC_TYPES, XSI,
)
from gateway_protocol.soap.schema import xml_schema
from gateway_protocol.soap.xmldata import XmlRefused, data_to_python, element_to_python, parse_xml

_OPTIONAL_INFO = ("correlationId", "routeId", "sessionId", "properties")
"""Optional elements of the message info that real clients send empty; an empty one is absent."""
_LISTS = ("properties", "messages")


def _invalid(where: str, what: str) -> GatewayFault:
    return GatewayFault(ErrorCode.ENVELOPE_INVALID, f"{where}: {what}")


# ---- what a parse gives ----------------------------------------------------------------------


@dataclass(frozen=True)
class SoapData:
    """A message's ``data``: as JSON-like Python, the ``data`` element as received, and the XML
    document it carried as text when it did (``xsi:type="xs:string"``)."""

    value: Any = None
    xml: bytes | None = None
    document: str | None = None
    xsi_type: str | None = None
    """The ``xsi:type`` the element said, as ``{namespace}local`` (or as written when its prefix is unknown)."""


@dataclass(frozen=True)
class SoapSyncRequest:
    """A SyncChannel ``SendMessage``."""

    info: RequestInfo
    data: SoapData

    def as_request(self) -> SyncRequest:
        """The same request as the JSON channel takes it."""
        return SyncRequest(requestInfo=self.info, requestData=RequestData(data=self.data.value))


@dataclass(frozen=True)
class SoapSyncResponse:
    """A SyncChannel ``SendMessageResponse``."""

    info: ResponseInfo
    data: SoapData

    def as_response(self) -> SyncResponse:
        return SyncResponse(responseInfo=self.info, responseData=ResponseData(data=self.data.value))


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SenderInfo(_Model):
    """A sender as the async queries name it: the password may be left out."""

    senderId: Identifier
    password: Password | None = None


class MessageStatusQuery(_Model):
    """``getMessageStatus``: the state of one message."""

    messageId: Identifier
    requestDate: datetime
    sender: SenderInfo
    properties: list[Property] = Field(default_factory=list)


class DeliveryStatus(_Model):
    receiveStatus: Literal["MESSAGE_ACCEPTED", "MESSAGE_NOT_ACCTEPTED"]
    statusDate: datetime
    resendMessage: Literal["RESEND", "NOT_RESEND"]
    error: ErrorInfo | None = None


class DeliveryNotification(_Model):
    messageId: Identifier
    serviceId: Identifier
    notificationDate: datetime
    deliveryStatus: DeliveryStatus


class DeliveryNotificationRequest(_Model):
    """``sendDeliveryNotification``: a recipient says whether it took a message."""

    notification: DeliveryNotification
    requestDate: datetime
    sender: SenderInfo | None = None


class MessagesQuery(_Model):
    """``getMessages``: messages waiting for a recipient."""

    messageId: Reference | None = None
    correlationId: Reference | None = None
    requestDate: datetime | None = None
    serviceId: Identifier
    sender: SenderInfo | None = None
    amount: int | None = Field(default=None, ge=0, description="absent or 0: the gateway's default")
    properties: list[Property] = Field(default_factory=list)


@dataclass(frozen=True)
class SoapAsyncRequest:
    """An AsyncChannel request: ``operation`` names it; ``sendMessage`` fills ``info`` and
    ``data``, the others ``query``."""

    operation: str
    info: RequestInfo | None = None
    data: SoapData | None = None
    message_id_assigned: bool = False
    """sendMessage came without a messageId and ``info.messageId`` is the one assigned."""
    query: MessageStatusQuery | DeliveryNotificationRequest | MessagesQuery | None = None

    def as_request(self) -> SyncRequest:
        """A sendMessage as the JSON channel takes it (requestInfo with messageType)."""
        if self.info is None or self.data is None:
            raise ValueError(f"{self.operation} carries no message")
        return SyncRequest(requestInfo=self.info, requestData=RequestData(data=self.data.value))


# ---- the envelope ----------------------------------------------------------------------------


_UTF8_BOM = b"\xef\xbb\xbf"
_OTHER_BOMS = (
    (b"\x00\x00\xfe\xff", "UTF-32"), (b"\xff\xfe\x00\x00", "UTF-32"), (b"\xfe\xff", "UTF-16"), (b"\xff\xfe", "UTF-16"),
)
_DECLARED_ENCODING = re.compile(rb"\A\s*<\?xml\s[^>]*?\bencoding\s*=\s*[\"']([^\"']*)[\"']")


def _require_utf8(body: bytes) -> None:
    """Refuse an envelope that is not UTF-8. lxml would read another encoding (and the signature
    over it would verify), but the gateway keeps, logs and passes on the envelope as UTF-8 text:
    what it read and what it keeps must be the same characters."""
    for bom, name in _OTHER_BOMS:
        if body.startswith(bom):
            raise _invalid("Envelope", f"the envelope must be UTF-8 (it looks {name}: it starts with a {name} byte order mark)")
    if b"\x00" in body:
        raise _invalid("Envelope", "the envelope must be UTF-8 (it looks UTF-16 or UTF-32: it holds NUL bytes)")
    text = body.removeprefix(_UTF8_BOM)
    declared = _DECLARED_ENCODING.match(text)
    if declared and declared.group(1).strip().lower().replace(b"_", b"-") not in (b"utf-8", b"utf8"):
        named = declared.group(1).decode("ascii", "replace")
        raise _invalid("Envelope", f"the envelope must be UTF-8 (it says encoding={named!r} in its XML declaration)")
    try:
        text.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _invalid("Envelope", f"the envelope must be UTF-8 (it looks like another encoding: "
                                   f"byte 0x{text[exc.start]:02x} at offset {exc.start + len(body) - len(text)} is not UTF-8)") from None


def _no_comments(wrapper: etree._Element) -> None:
    """Refuse comments and processing instructions in the Body's operation. Exclusive C14N
    leaves comments out of the signed digest, so one slipped in after signing would still
    verify while changing what is read (a comment counts as a child of its element)."""
    found = next(wrapper.getparent().iter(etree.Comment, etree.ProcessingInstruction), None)
    if found is None:
        return
    parent = found.getparent()
    where = (_path(parent) or etree.QName(parent).localname) if parent is not None else "Body"
    raise _invalid(where, "comments and processing instructions are not allowed")


def _body_child(body: bytes) -> etree._Element:
    """The one element in the Body of a SOAP 1.1 envelope (a UTF-8 one)."""
    _require_utf8(body)
    try:
        root = parse_xml(body)
    except XmlRefused as exc:
        raise _invalid("Envelope", str(exc)) from None
    if root.tag == f"{{{SOAP12_ENV}}}Envelope":
        raise _invalid("Envelope", f"a SOAP 1.2 envelope; the ШЭП channels take SOAP 1.1 ({SOAP_ENV})")
    if root.tag != f"{{{SOAP_ENV}}}Envelope":
        raise _invalid("Envelope", f"the root element is {_name(root)}, not a SOAP 1.1 Envelope ({SOAP_ENV})")
    parts = [child for child in root if isinstance(child.tag, str)]
    bodies = [child for child in parts if child.tag == f"{{{SOAP_ENV}}}Body"]
    if len(bodies) != 1:
        raise _invalid("Body", "missing" if not bodies else f"{len(bodies)} Body elements, one is taken")
    others = [child for child in parts if child.tag not in (f"{{{SOAP_ENV}}}Body", f"{{{SOAP_ENV}}}Header")]
    if others:
        raise _invalid(_name(others[0]), "not a part of a SOAP envelope (Header, Body)")
    content = [child for child in bodies[0] if isinstance(child.tag, str)]
    if len(content) != 1:
        raise _invalid("Body", "empty: no operation" if not content else f"{len(content)} elements; one operation is taken")
    return content[0]


def _name(element: etree._Element) -> str:
    q = etree.QName(element)
    return f"{q.localname} (namespace {q.namespace})" if q.namespace else q.localname


def _operation(wrapper: etree._Element, expected: dict[str, str]) -> str:
    q = etree.QName(wrapper)
    if q.localname in expected and q.namespace != expected[q.localname]:
        raise _invalid(q.localname, f"in namespace {q.namespace or '(none)'}, the operation's is {expected[q.localname]}")
    if q.localname not in expected:
        raise _invalid("Body", f"{_name(wrapper)} is not an operation of this channel; it has {', '.join(expected)}")
    return q.localname


def _take_data(holder: etree._Element | None) -> SoapData:
    """Take the ``data`` element (any namespace) out of ``holder`` for reading on its own; an
    empty unqualified ``data`` stands in its place for the schema (which types it anyType)."""
    if holder is None:
        return SoapData()
    found = [child for child in holder if isinstance(child.tag, str) and etree.QName(child).localname == "data"]
    if not found:
        return SoapData()
    element = found[0]
    xsi_type = element.get(f"{{{XSI}}}type")
    if xsi_type is not None:
        prefix, _, local = xsi_type.rpartition(":")
        namespace = element.nsmap.get(prefix or None)
        xsi_type = f"{{{namespace}}}{local}" if namespace else xsi_type
    xml = etree.tostring(element)
    try:
        value, document = data_to_python(element)
    except XmlRefused as exc:
        raise _invalid(_path(element), str(exc)) from None
    stand_in = etree.Element("data")
    stand_in.tail = element.tail
    holder.replace(element, stand_in)
    return SoapData(value=value, xml=xml, document=document, xsi_type=xsi_type)


def _path(element: etree._Element) -> str:
    """``request/requestData/data``: the element's local names up from the operation's wrapper."""
    names = []
    node: etree._Element | None = element
    while node is not None and etree.QName(node).namespace not in (SYNC_TYPES, ASYNC_TYPES, SOAP_ENV):
        names.append(etree.QName(node).localname)
        node = node.getparent()
    return "/".join(reversed(names))


def _drop_empty_optionals(info: etree._Element | None) -> None:
    if info is None:
        return
    for child in list(info):
        if (isinstance(child.tag, str) and child.tag in _OPTIONAL_INFO and len(child) == 0
                and not (child.text or "").strip() and child.get(f"{{{XSI}}}nil") is None):
            info.remove(child)


def _validate(wrapper: etree._Element) -> None:
    schema = xml_schema()
    if schema.validate(wrapper):
        return
    error = schema.error_log[0]
    steps = [step.split(":")[-1] for step in (error.path or "").split("/") if step]
    where = "/".join(steps[1:]) or etree.QName(wrapper).localname
    parent = "/".join(steps[1:-1])
    message = error.message.rstrip(".")
    if message.startswith("Element '"):
        message = message.split("': ", 1)[-1]
    expected = re.search(r"Expected is (?:one of )?\( ([^)]*) \)", message)
    names = [name.strip().split(":")[-1] for name in expected.group(1).split(",")] if expected else []
    if message.startswith("Missing child element") and names:
        # the names are the elements that may come next: optional ones, then the required one
        raise _invalid(f"{where}/{names[-1]}", "missing")
    if message.startswith("This element is not expected") and len(names) == 1 and names[0] != steps[-1].split("[")[0]:
        raise _invalid(f"{parent}/{names[0]}" if parent else names[0],
                       f"missing (found {steps[-1].split('[')[0]} in its place)")
    if message.startswith("This element is not expected") and names:
        raise _invalid(where, f"not expected here; expected {' or '.join(names)}")
    raise _invalid(where, message)


def _fields(element: etree._Element) -> dict[str, Any]:
    value = element_to_python(element)
    return _lists(value) if isinstance(value, dict) else {}


def _lists(value: Any) -> Any:
    """Repeatable elements as lists however many came; empty elements left out (but a property's
    empty key or value is the empty string)."""
    if isinstance(value, list):
        return [_lists(item) for item in value]
    if not isinstance(value, dict):
        return value
    out: dict[str, Any] = {}
    for key, item in value.items():
        if item is None:
            continue
        if key in _LISTS and not isinstance(item, list):
            item = [item]
        if key == "properties":  # a property's key and value may be empty strings
            item = [{k: "" if v is None else v for k, v in p.items()} if isinstance(p, dict) else p for p in item]
        out[key] = _lists(item)
    return out


def _model(model: type[BaseModel], fields: dict[str, Any], where: str) -> Any:
    try:
        return model.model_validate(fields)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = "/".join(str(step) for step in first["loc"])
        message = "missing or empty" if first["type"] == "missing" else first["msg"]
        raise _invalid(f"{where}/{field}" if field else where, message) from None


def _nil(element: etree._Element | None, where: str) -> None:
    if element is None or element.get(f"{{{XSI}}}nil") in ("true", "1"):
        raise _invalid(where, "missing (or nil); the operation needs it")


def _error_info(fields: dict[str, Any], where: str) -> ErrorInfo:
    fields = dict(fields)
    data = fields.pop("errorData", None)
    if isinstance(data, str):
        try:
            parsed = json.loads(data)
        except ValueError:
            parsed = None
        fields["errorData"] = parsed if isinstance(parsed, dict) else {"text": data}
    if isinstance(fields.get("subError"), dict):
        fields["subError"] = _error_info(fields["subError"], where + "/subError")
    return _model(ErrorInfo, fields, where)


# ---- requests ------------------------------------------------------------------------------------


def parse_sync_request(body: bytes) -> SoapSyncRequest:
    """A SyncChannel ``SendMessage`` request, or ``Client.EnvelopeInvalid`` naming the field."""
    wrapper = _body_child(body)
    _operation(wrapper, {SYNC_OPERATION: SYNC_TYPES})
    _no_comments(wrapper)
    request = wrapper.find("request")
    _nil(request, "request")
    _drop_empty_optionals(request.find("requestInfo"))
    data = _take_data(request.find("requestData"))
    _validate(wrapper)
    fields = _fields(request)
    info = _model(RequestInfo, fields.get("requestInfo", {}), "request/requestInfo")
    return SoapSyncRequest(info=info, data=data)


def assigned_message_id(body: bytes) -> str:
    """The messageId a ``sendMessage`` that came without one is given (the interface lets the
    gateway assign it): a UUID drawn from the SHA-256 of the soap:Body's exclusive canonical form
    without comments -- the content the signature covers, the same at every hop. The central
    gateway, a regional one and the provider give the same id, and a delivery tried again is the
    same message to the next hop's replay guard. What is outside the signed Body (the Header's
    whitespace, the SignatureValue's form, the XML declaration, an unused namespace declaration
    on the Envelope) cannot make a new id; a new signing can (it draws a fresh ``wsu:Id`` for the
    Body, and usually a new messageDate)."""
    _require_utf8(body)
    try:
        root = parse_xml(body)
    except XmlRefused as exc:
        raise _invalid("Envelope", str(exc)) from None
    found = root.find(f"{{{SOAP_ENV}}}Body")
    if found is None:
        raise _invalid("Body", "missing")
    canonical = etree.tostring(found, method="c14n", exclusive=True, with_comments=False)
    return str(uuid.UUID(bytes=hashlib.sha256(canonical).digest()[:16], version=4))


def parse_async(body: bytes, *, new_message_id: Callable[[], str] | None = None) -> SoapAsyncRequest:
    """An AsyncChannel request (``sendMessage``, ``getMessageStatus``, ``sendDeliveryNotification``,
    ``getMessages``), or ``Client.EnvelopeInvalid`` naming the field. A ``sendMessage`` without a
    messageId (the gateway assigns it, as the published interface says) gets ``new_message_id()``,
    by default :func:`assigned_message_id` of the body."""
    if new_message_id is None:
        def new_message_id() -> str:
            return assigned_message_id(body)
    wrapper = _body_child(body)
    operation = _operation(wrapper, {op: ASYNC_TYPES for op in ASYNC_OPERATIONS})
    _no_comments(wrapper)
    request = wrapper.find("request")
    _nil(request, "request")
    if operation == "sendMessage":
        _drop_empty_optionals(request.find("messageInfo"))
        data = _take_data(request.find("messageData"))
        _validate(wrapper)
        fields = _fields(request).get("messageInfo", {})
        assigned = "messageId" not in fields
        if assigned:
            fields["messageId"] = new_message_id()
        info = _model(RequestInfo, fields, "request/messageInfo")
        return SoapAsyncRequest(operation, info=info, data=data, message_id_assigned=assigned)
    _validate(wrapper)
    fields = _fields(request)
    if operation == "getMessageStatus":
        return SoapAsyncRequest(operation, query=_model(MessageStatusQuery, fields, "request"))
    if operation == "sendDeliveryNotification":
        status = fields.get("notification", {}).get("deliveryStatus", {})
        if isinstance(status.get("error"), dict):
            status["error"] = _error_info(status["error"], "request/notification/deliveryStatus/error")
        return SoapAsyncRequest(operation, query=_model(DeliveryNotificationRequest, fields, "request"))
    return SoapAsyncRequest(operation, query=_model(MessagesQuery, fields, "request"))


# ---- answers (for a SOAP client: our own, a gateway calling a SOAP provider) ---------------------


def parse_fault(body: bytes) -> GatewayFault | None:
    """The fault a SOAP answer carries, or None when it carries none. A fault with an
    ``ErrorInfo`` detail gives its code and data; one without gives ``faultcode``/``faultstring``
    under the catalogue's ``Server.ProviderResponseInvalid``."""
    content = _body_child(body)
    if content.tag != f"{{{SOAP_ENV}}}Fault":
        return None
    detail = content.find("detail")
    entries = [child for child in detail if isinstance(child.tag, str)] if detail is not None else []
    for entry in entries:
        if etree.QName(entry).localname.endswith("Fault") and "Fault1_" in etree.QName(entry).localname:
            _validate(entry)
            return GatewayFault.from_error_info(_error_info(_fields(entry), etree.QName(entry).localname))
    code = (content.findtext("faultcode") or "").strip()
    text = (content.findtext("faultstring") or "").strip()
    return GatewayFault(ErrorCode.PROVIDER_RESPONSE_INVALID, f"a SOAP fault without ErrorInfo: {code} {text}".strip())


def parse_sync_response(body: bytes) -> SoapSyncResponse:
    """A ``SendMessageResponse``; a fault is raised as the :class:`GatewayFault` it carries, and
    anything else is ``Client.EnvelopeInvalid`` naming the field (a caller receiving it from a
    provider reports it as its own ``Server.ProviderResponseInvalid``)."""
    fault = parse_fault(body)
    if fault is not None:
        raise fault
    wrapper = _body_child(body)
    _operation(wrapper, {"SendMessageResponse": SYNC_TYPES})
    response = wrapper.find("response")
    _nil(response, "response")
    data = _take_data(response.find("responseData"))
    _validate(wrapper)
    info = _model(ResponseInfo, _fields(response).get("responseInfo", {}), "response/responseInfo")
    return SoapSyncResponse(info=info, data=data)


def parse_async_response(body: bytes) -> tuple[str, dict[str, Any]]:
    """An AsyncChannel answer: the operation it answers and its fields (local names, text values;
    ``getMessagesResponse``'s ``messages`` each with ``messageData.data`` as Python). A fault is
    raised as the :class:`GatewayFault` it carries."""
    fault = parse_fault(body)
    if fault is not None:
        raise fault
    wrapper = _body_child(body)
    names = {f"{op}Response": ASYNC_TYPES for op in ASYNC_OPERATIONS}
    answer = _operation(wrapper, names)
    response = wrapper.find("response")
    _nil(response, "response")
    datas = [_take_data(message.find("messageData")) for message in response.findall("messages")]
    _validate(wrapper)
    fields = _fields(response)
    for message, data in zip(fields.get("messages", []), datas):
        message["messageData"] = {"data": data.value}
    return answer.removesuffix("Response"), fields


__all__ = [
    "SoapData", "SoapSyncRequest", "SoapSyncResponse", "SoapAsyncRequest", "SenderInfo", "MessageStatusQuery",
    "DeliveryNotification", "DeliveryNotificationRequest", "DeliveryStatus", "MessagesQuery",
    "parse_sync_request", "parse_async", "parse_fault", "parse_sync_response", "parse_async_response",
]
