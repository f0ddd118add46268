"""The namespaces, operations and fault element names of the ШЭП SOAP interface v10."""

from __future__ import annotations

from typing import Literal

SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
SOAP12_ENV = "http://www.w3.org/2003/05/soap-envelope"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
XSD = "http://www.w3.org/2001/XMLSchema"

COMMON = "http://bip.bee.kz/common/v10/Types"
SYNC_TYPES = "http://bip.bee.kz/SyncChannel/v10/Types"
SYNC_INTERFACES = "http://bip.bee.kz/SyncChannel/v10/Interfaces"
ASYNC_TYPES = "http://bip.bee.kz/AsyncChannel/v10/Types"
ASYNC_ITYPES = "http://bip.bee.kz/AsyncChannel/v10/ITypes"
ASYNC_INTERFACES = "http://bip.bee.kz/AsyncChannel/v10/Interfaces"

SYNC_SOAP_PATH = "/bip-sync-wss-gost/"
"""Where real clients send SyncChannel requests."""
ASYNC_SOAP_PATH = "/bip-async"
"""Where real clients send AsyncChannel requests."""

Channel = Literal["sync", "async"]
AsyncOperation = Literal["sendMessage", "getMessageStatus", "sendDeliveryNotification", "getMessages"]

SYNC_OPERATION = "SendMessage"
ASYNC_OPERATIONS: tuple[str, ...] = ("sendMessage", "getMessageStatus", "sendDeliveryNotification", "getMessages")

OPERATION_NAMESPACE = {SYNC_OPERATION: SYNC_TYPES, **{op: ASYNC_TYPES for op in ASYNC_OPERATIONS}}
"""Each operation's wrapper elements (request, response, fault) are in this namespace."""


def fault_element(operation: str) -> str:
    """The local name of an operation's fault detail element, ``<Op>Fault1_<Op>Fault``."""
    return f"{operation}Fault1_{operation}Fault"


def qname(namespace: str, local: str) -> str:
    return f"{{{namespace}}}{local}"
