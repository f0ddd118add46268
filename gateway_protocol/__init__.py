"""The message format every system speaks through the e-government gateway (ЭҮШ / ШЭП).

The real gateway speaks SOAP 1.1; this simulation speaks JSON with the real field names of the
ШЭП sync channel (``requestInfo``, ``messageId``, ``serviceId``, ``sender{senderId,password}``…,
``responseInfo``, status ``SCSS001``). Every request and response travels signed by its sender
(see :mod:`signatures.jws`): ``{"request": {...}, "signature": "<detached JWS>"}``.

- :mod:`gateway_protocol.envelope` -- the envelope models;
- :mod:`gateway_protocol.errors` -- the error catalogue, in Kazakh, Russian and English;
- :mod:`gateway_protocol.client` -- sending a signed request through a gateway;
- :mod:`gateway_protocol.provider` -- receiving requests as a provider behind a gateway.
"""

from gateway_protocol.envelope import (
    ErrorInfo,
    RequestInfo,
    ResponseInfo,
    Sender,
    SignedRequest,
    SignedResponse,
    Status,
    SyncRequest,
    SyncResponse,
)
from gateway_protocol.errors import ErrorCode, GatewayFault

__all__ = [
    "ErrorCode",
    "ErrorInfo",
    "GatewayFault",
    "RequestInfo",
    "ResponseInfo",
    "Sender",
    "SignedRequest",
    "SignedResponse",
    "Status",
    "SyncRequest",
    "SyncResponse",
]
