"""The central gateway's adapter for an outside provider that speaks SOAP (a service registered with
``protocol: soap``, :class:`gateway.config.Service`) when the request came over JSON, as every
simulated system sends it, and when it came over SOAP from a client (:func:`soap_request_from_soap`).
A SOAP request never goes to an outside provider as it came: the sender's password is inside its
signed Body, and an outside provider is a third party.

Request (:func:`soap_request_for`): a SyncChannel ``SendMessage`` (or, for an async message, an
AsyncChannel ``sendMessage`` with its messageType) with the JSON request's ``requestInfo`` as it
came -- messageId, correlationId, serviceId, messageDate, routeId, sender, properties, sessionId --
except two things:

- the sender's password is **not** passed on: ``sender/password`` carries
  :data:`PASSWORD_PLACEHOLDER` (``***``, as the gateway's log masks it; the interface's XSD takes
  any string there). The gateway checked the password; a provider never needs it;
- the sender's JWS goes along in ``properties``, because the envelope is signed by the
  **gateway** (WS-Security, the gateway's key: the gateway adapted the message and vouches for
  it), not by the sender. The property values of the interface hold at most 500 characters, so the
  token is cut into properties ``senderSignature.1``, ``senderSignature.2``, ... (in order;
  :func:`sender_signature` joins them, :func:`sender_content` reads its payload). It is the sender's JWS with its payload *attached*
  (``header.payload.signature``, RFC 7515 compact form): the payload is the RFC 8785 JSON the
  sender signed (its request without the password), so a provider can verify it with any JWS
  library and the certificate in its ``x5c``, and compare it with the SOAP request.

``data`` goes as XML elements with the JSON request's field names (the rules of
:mod:`gateway_protocol.soap.xmldata`). An async message (``messageType`` set) goes as an
AsyncChannel ``sendMessage`` with its messageType; the provider answers it as a sync one, a signed
``SendMessageResponse`` (as the simulated providers do, :mod:`gateway_protocol.provider`).

Answer (:func:`json_answer_from`): the provider's answer must be WS-Security signed by the
provider registered for the service (``validator.xmldsig``: chain, validity, key usage,
revocation; the certificate's CN is the registered name), else ``Server.ProviderResponseInvalid``
(verdict ``SIGNER_NOT_PROVIDER`` for another signer). A SOAP fault carrying an ErrorInfo is the
provider's refusal, passed on with its code. A valid answer is turned into the JSON
``SignedResponse`` the JSON caller expects -- its responseInfo as the provider gave it, its data
as parsed from XML (text values are str) -- and that JSON answer is **signed by the gateway**
(the provider signed the XML, which the caller never sees). What the message log keeps is the
SOAP answer as received, with the provider's signature; the caller can ask for it there.
"""

from __future__ import annotations

import base64
import copy
import json
from datetime import datetime
from typing import Any

from lxml import etree
from lxml.etree import _Element as XmlElement  # lxml's element type, as its documentation annotates it

from gateway_protocol.envelope import Fault, Property, RequestInfo, SignedRequest, signed_content
from gateway_protocol.errors import ErrorCode, GatewayFault
from gateway_protocol.soap.build import async_send_request, sync_request
from gateway_protocol.soap.names import SOAP_ENV
from gateway_protocol.soap.xmldata import parse_xml
from gateway_protocol.soap.parse import parse_fault, parse_sync_response
from signatures.identity import Identity
from signatures.jws import canonical_json, sign_detached

PASSWORD_PLACEHOLDER = "***"
"""What ``sender/password`` says in a request the gateway adapted: the sender's password stays
with the gateway."""
SIGNATURE_PROPERTY = "senderSignature"
"""The properties ``senderSignature.1``, ``senderSignature.2``, ... carry the sender's JWS."""
PROPERTY_VALUE_MAX = 500
"""The longest property value the interface's XSD takes."""


def attached_jws(signed: SignedRequest) -> str:
    """The sender's detached JWS with the content it signed put back in (``header.payload.sig``)."""
    header, _, signature = signed.signature.split(".", 2)
    payload = base64.urlsafe_b64encode(canonical_json(signed_content(signed.request))).rstrip(b"=").decode("ascii")
    return f"{header}.{payload}.{signature}"


def soap_request_for(signed: SignedRequest, gateway: Identity) -> bytes:
    """The SOAP request the gateway sends a SOAP provider for the JSON request ``signed``: the
    same requestInfo without the sender's password, the sender's JWS in properties, the data as
    XML elements; WS-Security signed with the gateway's key (``gateway``). ``ValueError`` when the
    data has no XML form (a key that is no XML name, a list inside a list)."""
    from signatures.xmldsig import sign_envelope  # signxml is loaded only by those who use it

    info = signed.request.requestInfo
    token = attached_jws(signed)
    chunks = [token[i:i + PROPERTY_VALUE_MAX] for i in range(0, len(token), PROPERTY_VALUE_MAX)]
    own = [p for p in info.properties if not p.key.startswith(f"{SIGNATURE_PROPERTY}.")]
    adapted = info.model_copy(update={
        "sender": info.sender.model_copy(update={"password": PASSWORD_PLACEHOLDER}),
        "properties": [*own, *(Property(key=f"{SIGNATURE_PROPERTY}.{n}", value=chunk)
                               for n, chunk in enumerate(chunks, start=1))],
    })
    data = signed.request.requestData.data
    envelope = async_send_request(adapted, data) if info.messageType else sync_request(adapted, data)
    return sign_envelope(envelope, gateway)


def soap_request_from_soap(envelope: bytes, info: RequestInfo, gateway: Identity) -> bytes:
    """The SOAP request the gateway sends an outside SOAP provider for a request a client sent over
    SOAP (``envelope``, read by the gateway as ``info``; an async message's assigned messageId
    included): as :func:`soap_request_for` makes it -- the same requestInfo with ``sender/password``
    :data:`PASSWORD_PLACEHOLDER`, WS-Security signed with the gateway's key -- and the ``data``
    element as it came (copied from the envelope: its elements, or its XML document as text with
    its ``xsi:type``). The sender's own signed envelope does not travel (it holds the password in
    its signed Body, so it cannot go without it); the provider trusts the gateway, which checked the
    sender's signature. Properties ``senderSignature.*`` a client put in are dropped: they are
    the gateway's to fill (for a JSON sender) and would name a signature the gateway did not check."""
    from signatures.xmldsig import sign_envelope  # signxml is loaded only by those who use it

    own = [p for p in info.properties if not p.key.startswith(f"{SIGNATURE_PROPERTY}.")]
    adapted = info.model_copy(update={
        "sender": info.sender.model_copy(update={"password": PASSWORD_PLACEHOLDER}),
        "properties": own,
    })
    built = async_send_request(adapted) if info.messageType else sync_request(adapted)
    came = _data_element(parse_xml(envelope, "the request"))
    if came is not None:
        root = parse_xml(built, "the adapted request")
        written = _data_element(root)
        assert written is not None  # the builder always writes one
        copied = copy.deepcopy(came)
        copied.tail = written.tail
        written.getparent().replace(written, copied)
        built = etree.tostring(root, xml_declaration=True, encoding="UTF-8")
    return sign_envelope(built, gateway)


def _data_element(root: XmlElement) -> XmlElement | None:
    """The ``data`` element of a SendMessage (``request/requestData/data``) or a sendMessage
    (``request/messageData/data``) in an envelope's Body; None when there is none."""
    body = root.find(f"{{{SOAP_ENV}}}Body")
    wrapper = next((child for child in body if isinstance(child.tag, str)), None) if body is not None else None
    if wrapper is None:
        return None
    for request in _children(wrapper, "request"):
        for holder in (*_children(request, "requestData"), *_children(request, "messageData")):
            for data in _children(holder, "data"):
                return data
    return None


def _children(parent: XmlElement, name: str) -> list[XmlElement]:
    return [child for child in parent if isinstance(child.tag, str) and etree.QName(child).localname == name]


def sender_signature(properties: list[Property] | list[dict[str, str]]) -> str | None:
    """The sender's JWS (payload attached) from an adapted request's properties; None without it."""
    parts: dict[int, str] = {}
    for prop in properties:
        key, value = (prop["key"], prop["value"]) if isinstance(prop, dict) else (prop.key, prop.value)
        name, _, number = key.partition(".")
        if name == SIGNATURE_PROPERTY and number.isdigit():
            parts[int(number)] = value
    if not parts:
        return None
    return "".join(parts[n] for n in sorted(parts))


def sender_content(token: str) -> dict[str, Any]:
    """The JSON the sender signed (its request without the password), read from the attached JWS's
    payload; not verified here (verify the token over it: :func:`signatures.jws.verify_detached`
    with the header and signature parts and this content). ``ValueError`` for no such payload."""
    parts = token.split(".")
    if len(parts) != 3:
        raise ValueError("not a compact JWS (header.payload.signature)")
    content = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    if not isinstance(content, dict):
        raise ValueError("the payload is no JSON object")
    return content


async def json_answer_from(
    soap: bytes, *, provider: str | None, validator: Any, at: datetime, gateway: Identity,
) -> tuple[int, dict[str, Any]]:
    """The JSON answer (HTTP status, body) for the provider's SOAP answer ``soap``: its fault
    passed on, or its response checked (WS-Security signed by ``provider``, the system registered
    for the service, at the virtual time ``at``) and signed by the gateway (``gateway``) as a JSON
    ``SignedResponse``. Raises ``Server.ProviderResponseInvalid`` saying why it is not passed on."""
    if soap[:1] == b"{":  # a refusal in the gateway's own JSON (its operators' fault switches answer so)
        try:
            refusal = Fault.model_validate_json(soap)
        except ValueError:
            raise GatewayFault(ErrorCode.PROVIDER_RESPONSE_INVALID, f"{provider}: JSON, not a SOAP answer") from None
        return GatewayFault(refusal.errorInfo.errorCode).http_status, refusal.model_dump(mode="json", exclude_none=True)
    try:
        fault = parse_fault(soap)
    except GatewayFault as exc:
        raise GatewayFault(ErrorCode.PROVIDER_RESPONSE_INVALID, f"{provider}: {exc.detail}") from None
    if fault is not None:
        return fault.http_status, fault.to_body(at)
    checked = await validator.xmldsig(soap, at=at)
    if not checked.valid:
        raise GatewayFault(ErrorCode.PROVIDER_RESPONSE_INVALID, f"{provider}: answer signature: {checked.verdict.message}",
                           data={"verdict": checked.code})
    signer = (checked.verdict.signer or {}).get("common_name")
    if provider is None or signer != provider:
        raise GatewayFault(
            ErrorCode.PROVIDER_RESPONSE_INVALID,
            f"{provider}: the answer is signed by {signer!r}, not by {provider or 'a registered provider'!r}",
            data={"verdict": "SIGNER_NOT_PROVIDER", "signer": signer, "expected": provider},
        )
    try:
        response = parse_sync_response(soap).as_response()
    except GatewayFault as exc:
        raise GatewayFault(ErrorCode.PROVIDER_RESPONSE_INVALID, f"{provider}: {exc.detail}") from None
    content = signed_content(response)
    return 200, {"response": content, "signature": sign_detached(content, gateway.key, gateway.chain)}
