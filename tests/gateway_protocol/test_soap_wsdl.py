"""Our WSDL for the ШЭП SOAP v10 channels: zeep loads it from files and from the URL it is
served at (``?wsdl``, imports at ``?wsdl=NAME`` and ``?xsd=NAME``), keeps the published names, and
a zeep client calling ``SendMessage`` is understood by our parser and understands our answers
and faults."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import zeep
from lxml import etree
from zeep import xsd
from zeep.exceptions import Fault as ZeepFault

from gateway_protocol.errors import ErrorCode, GatewayFault
from gateway_protocol.soap import (
    ASYNC_SOAP_PATH, SYNC_SOAP_PATH, documents, fault, message_status_response, parse_async, parse_sync_request,
    render_wsdl,
    send_message_response, success_info, sync_response, write_wsdl,
)
from gateway_protocol.soap.schema import WSDL_DIR

AT = datetime(2026, 12, 5, 12, 0, tzinfo=timezone(timedelta(hours=6)))
SYNC_BINDING = "{http://bip.bee.kz/SyncChannel/v10/Interfaces/Binding2}SyncChannelHttpBinding"
ASYNC_BINDING = "{http://bip.bee.kz/AsyncChannel/v10/Interfaces/Binding}AsyncChannelHttpBinding"


def _client(wsdl: str) -> zeep.Client:
    transport = zeep.Transport()
    transport.session.trust_env = False  # no proxy for 127.0.0.1
    return zeep.Client(wsdl, transport=transport)


def _request_info(**changes):
    fields = dict(messageId="m-1", serviceId="GBDFL_UniversalServiceSync", messageDate=AT,
                  sender=dict(senderId="TEST_IS", password="secret"))
    fields.update(changes)
    return fields


@pytest.mark.parametrize("channel, service, binding, port_type, port, operations", [
    ("sync", "ISyncChannelHttpService", SYNC_BINDING, "{http://bip.bee.kz/SyncChannel/v10/Interfaces}ISyncChannel",
     "SyncChannelHttpPort", {"SendMessage"}),
    ("async", "AsyncChannelHttpService", ASYNC_BINDING, "{http://bip.bee.kz/AsyncChannel/v10/Interfaces}IAsyncChannel",
     "AsyncChannelHttpPort", {"sendMessage", "getMessageStatus", "sendDeliveryNotification", "getMessages"}),
])
def test_zeep_loads_the_written_files_with_the_published_names(tmp_path: Path, channel, service, binding, port_type,
                                                               port, operations):
    address = f"http://gateway.example:8080{SYNC_SOAP_PATH if channel == 'sync' else ASYNC_SOAP_PATH}"
    client = _client(str(write_wsdl(channel, address, tmp_path)))
    (found,) = client.wsdl.services.values()
    assert found.name == service
    bound = found.ports[port]
    assert bound.binding_options["address"] == address
    assert bound.binding.name.text == binding and bound.binding.port_type.name.text == port_type
    assert set(bound.binding._operations) == operations
    for operation in bound.binding._operations.values():
        assert operation.soapaction == ""
        assert operation.style == "document"


def test_the_package_files_load_as_they_are():
    client = _client(str(WSDL_DIR / "SyncChannelHttp_Service.wsdl"))
    message = client.create_message(client.service, "SendMessage", request=dict(
        requestInfo=_request_info(), requestData=dict(data="text")))
    assert parse_sync_request(etree.tostring(message)).data.value == "text"


# ---- served over HTTP -------------------------------------------------------------------------------


class _Endpoint(BaseHTTPRequestHandler):
    """The two SOAP paths as a gateway would serve them, with our module only."""

    def log_message(self, *args) -> None:
        pass

    def _send(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "text/xml; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _channel(self, path: str):
        return {SYNC_SOAP_PATH: "sync", ASYNC_SOAP_PATH: "async"}.get(path)

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        channel = self._channel(url.path)
        query = parse_qs(url.query, keep_blank_values=True)
        name = (query.get("wsdl") or query.get("xsd") or [""])[0] or None
        if channel is None or not ({"wsdl", "xsd"} & set(query)):
            return self._send(404, b"")
        address = f"http://{self.headers['Host']}{url.path}"
        try:
            self._send(200, render_wsdl(channel, address, name))
        except LookupError:
            self._send(404, b"")

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        channel = self._channel(urlsplit(self.path).path)
        self.server.received.append(body)
        try:
            if channel == "sync":
                request = parse_sync_request(body)
                if request.info.serviceId == "Broken":
                    raise GatewayFault(ErrorCode.PROVIDER_UNAVAILABLE, "the provider is down")
                answer = sync_response(success_info(request.info.messageId, request.info.correlationId, AT),
                                       {"Response": {"echo": request.data.value}}, data_form="string")
            else:
                request = parse_async(body, new_message_id=lambda: "assigned-1")
                answer = send_message_response(request.info.messageId, request.info.correlationId, AT)
            self._send(200, answer)
        except GatewayFault as raised:
            operation = "SendMessage" if channel == "sync" else "sendMessage"
            self._send(raised.http_status if raised.http_status >= 500 else 500, fault(raised, operation, at=AT))


@pytest.fixture
def server() -> Iterator[ThreadingHTTPServer]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Endpoint)
    httpd.received = []
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()
    thread.join()


def _base(server: ThreadingHTTPServer) -> str:
    return f"http://127.0.0.1:{server.server_address[1]}"


def test_the_served_wsdl_names_the_address_it_was_fetched_from_and_links_its_parts(server):
    import urllib.request

    url = _base(server) + SYNC_SOAP_PATH + "?wsdl"
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    root = etree.fromstring(opener.open(url).read())
    ns = {"wsdl": "http://schemas.xmlsoap.org/wsdl/", "soap": "http://schemas.xmlsoap.org/wsdl/soap/"}
    assert root.xpath("//soap:address/@location", namespaces=ns) == [_base(server) + SYNC_SOAP_PATH]
    assert root.xpath("//wsdl:import/@location", namespaces=ns) == ["?wsdl=ISyncChannel.wsdl"]
    for name in documents("sync")[1:]:
        assert opener.open(_base(server) + SYNC_SOAP_PATH + f"?{'wsdl' if name.endswith('.wsdl') else 'xsd'}={name}").status == 200
    with pytest.raises(LookupError):
        render_wsdl("sync", "http://x/", "../../etc/passwd")


def test_a_zeep_client_from_the_served_wsdl_calls_send_message(server):
    client = _client(_base(server) + SYNC_SOAP_PATH + "?wsdl")
    escaped = '<?xml version="1.0" encoding="UTF-8"?><ns2:sendMessageRequest xmlns:ns2="http://smartbridge.b10.kz">' \
              "<messageId>b7e1</messageId><iin>900101300123</iin></ns2:sendMessageRequest>"
    answer = client.service.SendMessage(request=dict(
        requestInfo=_request_info(correlationId="c-1", properties=[dict(key="k", value="v")]),
        requestData=dict(data=xsd.AnyObject(xsd.String(), escaped)),
    ))
    (sent,) = server.received
    parsed = parse_sync_request(sent)
    assert parsed.info.messageId == "m-1" and parsed.info.messageDate == AT and parsed.info.correlationId == "c-1"
    assert parsed.info.sender.password == "secret" and parsed.info.properties[0].key == "k"
    assert parsed.data.value == {"sendMessageRequest": {"messageId": "b7e1", "iin": "900101300123"}}
    assert answer.responseInfo.messageId == "m-1" and answer.responseInfo.correlationId == "c-1"
    assert answer.responseInfo.status.code == "SCSS001" and answer.responseInfo.responseDate == AT
    document = etree.fromstring(answer.responseData.data.encode())
    assert document.tag == "Response" and document.findtext("echo/sendMessageRequest/iin") == "900101300123"


def test_a_zeep_client_gets_our_fault_with_its_error_info(server):
    client = _client(_base(server) + SYNC_SOAP_PATH + "?wsdl")
    with pytest.raises(ZeepFault) as caught:
        client.service.SendMessage(request=dict(requestInfo=_request_info(serviceId="Broken"), requestData=dict(data="x")))
    assert caught.value.code.endswith("Server")
    (entry,) = list(caught.value.detail)
    assert etree.QName(entry).localname == "SendMessageFault1_SendMessageFault"
    assert entry.findtext("errorCode") == ErrorCode.PROVIDER_UNAVAILABLE.value
    with pytest.raises(ZeepFault) as caught:
        client.service.SendMessage(request=dict(requestInfo=_request_info(messageDate="2026-13-45T00:00:00"),
                                                requestData=dict(data="x")))
    assert caught.value.code.endswith("Client")
    (entry,) = list(caught.value.detail)
    assert entry.findtext("errorCode") == ErrorCode.ENVELOPE_INVALID.value
    assert "request/requestInfo/messageDate" in entry.findtext("errorMessage")


def test_a_zeep_client_sends_an_async_message_without_a_message_id(server):
    client = _client(_base(server) + ASYNC_SOAP_PATH + "?wsdl")
    info = _request_info(messageType="REQUEST")
    del info["messageId"]
    answer = client.service.sendMessage(request=dict(messageInfo=info, messageData=dict(data="hello")))
    assert answer.messageId == "assigned-1" and answer.correlationId == "assigned-1"
    parsed = parse_async(server.received[0], new_message_id=lambda: "assigned-1")
    assert parsed.message_id_assigned and parsed.data.value == "hello"


def test_zeep_builds_every_async_request_our_parser_reads_and_reads_our_answers(tmp_path: Path):
    client = _client(str(write_wsdl("async", "http://gateway.example/bip-async", tmp_path)))
    sender = dict(senderId="TEST_IS", password="secret")

    def parsed(operation: str, **request):
        return parse_async(etree.tostring(client.create_message(client.service, operation, request=request)))

    status = parsed("getMessageStatus", messageId="m-1", requestDate=AT, sender=sender)
    assert (status.operation, status.query.messageId, status.query.requestDate) == ("getMessageStatus", "m-1", AT)
    notice = parsed("sendDeliveryNotification", requestDate=AT, notification=dict(
        messageId="m-1", serviceId="svc", notificationDate=AT,
        deliveryStatus=dict(receiveStatus="MESSAGE_ACCEPTED", statusDate=AT, resendMessage="NOT_RESEND")))
    assert notice.query.notification.deliveryStatus.receiveStatus == "MESSAGE_ACCEPTED"
    pulled = parsed("getMessages", serviceId="svc", amount=0, sender=sender)
    assert (pulled.query.serviceId, pulled.query.amount) == ("svc", 0)

    # our answers as zeep reads them for its operation
    operation = client.service._binding._operations["getMessageStatus"]
    for state in ("ON_DELIVERY", "DELIVERED", "NOT_DELIVERED", "DELIVERY_STOPPED"):
        answer = message_status_response(state, status_code="SCSS001", status_message="ok", status_date=AT,
                                         response_date=AT)
        read = operation.process_reply(etree.fromstring(answer))
        assert read.messageState == state and read.status.statusDate == AT
