"""The ШЭП SOAP interface v10 (SyncChannel ``SendMessage``; AsyncChannel ``sendMessage``,
``getMessageStatus``, ``sendDeliveryNotification``, ``getMessages``) as data: its WSDL and XSD
documents (:mod:`.schema`), reading SOAP messages into the JSON channel's models (:mod:`.parse`)
and building them (:mod:`.build`). Signing and verifying the envelope is :mod:`signatures.xmldsig`'s.
"""

from gateway_protocol.soap.build import (
    DataForm, async_send_request, delivery_notification_request, delivery_notification_response, fault,
    get_messages_request, guid, message_status_request, message_status_response, messages_response,
    send_message_response, success_info, sync_request, sync_response,
)
from gateway_protocol.soap.names import (
    ASYNC_OPERATIONS, ASYNC_SOAP_PATH, ASYNC_TYPES, COMMON, SOAP_ENV, SYNC_OPERATION, SYNC_SOAP_PATH, SYNC_TYPES,
    fault_element,
)
from gateway_protocol.soap.parse import (
    DeliveryNotificationRequest, MessagesQuery, MessageStatusQuery, SoapAsyncRequest, SoapData, SoapSyncRequest,
    SoapSyncResponse, assigned_message_id, parse_async, parse_async_response, parse_fault, parse_sync_request, parse_sync_response,
)
from gateway_protocol.soap.schema import documents, render_wsdl, write_wsdl, xml_schema
from gateway_protocol.soap.xmldata import MAX_BYTES

__all__ = [
    "ASYNC_OPERATIONS", "ASYNC_SOAP_PATH", "ASYNC_TYPES", "COMMON", "MAX_BYTES", "SOAP_ENV", "SYNC_OPERATION",
    "SYNC_SOAP_PATH", "SYNC_TYPES", "DataForm", "DeliveryNotificationRequest", "MessageStatusQuery",
    "MessagesQuery", "SoapAsyncRequest", "SoapData", "SoapSyncRequest", "SoapSyncResponse",
    "assigned_message_id", "async_send_request", "delivery_notification_request", "delivery_notification_response", "documents",
    "fault", "fault_element", "get_messages_request", "guid", "message_status_request",
    "message_status_response", "messages_response", "parse_async", "parse_async_response", "parse_fault",
    "parse_sync_request", "parse_sync_response", "render_wsdl", "send_message_response", "success_info",
    "sync_request", "sync_response", "write_wsdl", "xml_schema",
]
