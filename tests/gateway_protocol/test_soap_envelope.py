"""The ШЭП SOAP v10 envelopes: requests shaped as real integrators send them parse into the JSON
channel's models; what we build validates against our XSDs and parses back; broken input is
``Client.EnvelopeInvalid`` naming the field."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from lxml import etree

from gateway_protocol.envelope import ErrorInfo, Property, RequestInfo, ResponseInfo, Sender, Status
from gateway_protocol.errors import ErrorCode, GatewayFault
from gateway_protocol.soap import (
    MAX_BYTES, SOAP_ENV, assigned_message_id, async_send_request, delivery_notification_request, delivery_notification_response, fault,
    get_messages_request, message_status_request, message_status_response, messages_response, parse_async,
    parse_async_response, parse_fault, parse_sync_request, parse_sync_response, send_message_response,
    success_info, sync_request, sync_response, xml_schema,
)
from gateway_protocol.soap.xmldata import data_to_python, fill_data

ALMATY = timezone(timedelta(hours=6))
AT = datetime(2026, 12, 5, 12, 20, 34, 539000, tzinfo=ALMATY)
SESSION = "{5a7540fd-1c7e-4c3b-9d1b-2f0a3c4d5e6f}"


def body_child(message: bytes) -> etree._Element:
    root = etree.fromstring(message)
    assert root.tag == f"{{{SOAP_ENV}}}Envelope"
    body = root.find(f"{{{SOAP_ENV}}}Body")
    (child,) = list(body)
    return child


def assert_valid(message: bytes) -> etree._Element:
    """The Body's element (an operation's wrapper, or a Fault's detail entry) validates against our XSDs."""
    child = body_child(message)
    if child.tag == f"{{{SOAP_ENV}}}Fault":
        assert [c.tag for c in child] == ["faultcode", "faultstring", "detail"]
        (child,) = list(child.find("detail"))
    schema = xml_schema()
    assert schema.validate(child), schema.error_log
    return child


def info(**changes) -> RequestInfo:
    fields = dict(messageId="8f6c3d2e-0001", serviceId="GBDFL_UniversalServiceSync", messageDate=AT,
                  sender=Sender(senderId="TEST_IS", password="secret"))
    fields.update(changes)
    return RequestInfo(**fields)


# ---- requests shaped as the real ones --------------------------------------------------------------

# JAX-WS RI (the common real form): two prefixes for the envelope namespace, wsu:Id on the Body,
# the business XML escaped in data with xsi:type xs:string, its own XML declaration included.
JAXWS = b"""<?xml version="1.0" encoding="UTF-8"?>
<S:Envelope xmlns:S="http://schemas.xmlsoap.org/soap/envelope/" xmlns:SOAP-ENV="http://schemas.xmlsoap.org/soap/envelope/">
 <SOAP-ENV:Header/>
 <S:Body xmlns:wsu="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd" wsu:Id="id-0b1c">
  <ns2:SendMessage xmlns:ns2="http://bip.bee.kz/SyncChannel/v10/Types">
   <request>
    <requestInfo>
     <messageId>6a1f3e52-9b0e-4c6d-8f51-1d2e3c4b5a69</messageId>
     <serviceId>GBDFL_UniversalServiceSync</serviceId>
     <messageDate>2026-12-05T12:20:34.539+06:00</messageDate>
     <sender><senderId>TEST_IS</senderId><password>secret</password></sender>
    </requestInfo>
    <requestData>
     <data xmlns:xs="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="xs:string">&lt;?xml version="1.0" encoding="UTF-8" standalone="yes"?&gt;
&lt;ns2:sendMessageRequest xmlns:ns2="http://smartbridge.b10.kz"&gt;&lt;messageId&gt;b7e1&lt;/messageId&gt;&lt;messageDate&gt;2026-12-05T12:20:34.539+06:00&lt;/messageDate&gt;&lt;senderCode&gt;TEST_IS&lt;/senderCode&gt;&lt;iin&gt;900101300123&lt;/iin&gt;&lt;/ns2:sendMessageRequest&gt;</data>
    </requestData>
   </request>
  </ns2:SendMessage>
 </S:Body>
</S:Envelope>"""

# A CXF/WSS4J-style one: data qualified in another namespace, typed by its own xsi:type, holding
# nested elements; properties; a braced sessionId.
NESTED_QUALIFIED = b"""<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/">
 <soapenv:Body>
  <ns3:SendMessage xmlns:ns3="http://bip.bee.kz/SyncChannel/v10/Types" xmlns="">
   <request>
    <requestInfo>
     <messageId>m-2</messageId>
     <correlationId>c-2</correlationId>
     <serviceId>GBDFL_UniversalServiceSync</serviceId>
     <messageDate>2026-12-05T12:20:34+06:00</messageDate>
     <routeId>r-1</routeId>
     <sender><senderId>TEST_IS</senderId><password>secret</password></sender>
     <properties><key>CONNECTOR_CLIENT</key><value>true</value></properties>
     <properties><key>other</key><value></value></properties>
     <sessionId>{5a7540fd-1c7e-4c3b-9d1b-2f0a3c4d5e6f}</sessionId>
    </requestInfo>
    <requestData>
     <ns4:data xmlns:ns4="http://bip.bee.kz/SyncChannel/v10/Interfaces" xmlns:cs="http://message.persistence.interactive.nat"
               xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="cs:Request">
      <messageId>b7e1</messageId><messageDate>2026-12-05T12:20:34+06:00</messageDate><senderCode>TEST_IS</senderCode><iin>900101300123</iin>
     </ns4:data>
    </requestData>
   </request>
  </ns3:SendMessage>
 </soapenv:Body>
</soapenv:Envelope>"""

# Hand-built (PHP): empty optional elements, raw nested XML with repeated elements and an empty one.
HAND_BUILT = b"""<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:typ="http://bip.bee.kz/SyncChannel/v10/Types">
<soapenv:Header/>
<soapenv:Body>
<typ:SendMessage><request><requestInfo>
<messageId>m-3</messageId><correlationId></correlationId><serviceId>EKyzmetUniversalService</serviceId>
<messageDate>2026-12-05T12:20:34</messageDate><routeId></routeId>
<sender><senderId>TEST_IS</senderId><password>secret</password></sender>
<properties></properties><sessionId></sessionId>
</requestInfo><requestData><data><query><iin>900101300123</iin><doc>a</doc><doc>b</doc><note/></query></data></requestData></request></typ:SendMessage>
</soapenv:Body></soapenv:Envelope>"""

# Go template: the operation's namespace as default, undeclared again on request; unprefixed Id.
DEFAULT_NAMESPACE = b"""<Envelope xmlns="http://schemas.xmlsoap.org/soap/envelope/"><Body Id="body-1">
<SendMessage xmlns="http://bip.bee.kz/SyncChannel/v10/Types"><request xmlns=""><requestInfo>
<messageId>m-4</messageId><serviceId>ESEDO_UNIVERSAL_SERVICE</serviceId><messageDate>2026-12-05T06:20:34Z</messageDate>
<sender><senderId>TEST_IS</senderId><password>secret</password></sender></requestInfo>
<requestData><data>plain text</data></requestData></request></SendMessage></Body></Envelope>"""


def test_the_jaxws_request_with_escaped_xml_parses_to_the_json_channels_fields():
    parsed = parse_sync_request(JAXWS)
    assert parsed.info.messageId == "6a1f3e52-9b0e-4c6d-8f51-1d2e3c4b5a69"
    assert parsed.info.serviceId == "GBDFL_UniversalServiceSync"
    assert parsed.info.messageDate == datetime(2026, 12, 5, 12, 20, 34, 539000, tzinfo=ALMATY)
    assert parsed.info.sender == Sender(senderId="TEST_IS", password="secret")
    assert parsed.info.correlationId is None and parsed.info.properties == []
    assert parsed.data.value == {"sendMessageRequest": {
        "messageId": "b7e1", "messageDate": "2026-12-05T12:20:34.539+06:00", "senderCode": "TEST_IS",
        "iin": "900101300123",
    }}
    assert parsed.data.xsi_type == "{http://www.w3.org/2001/XMLSchema}string"
    assert parsed.data.document.lstrip().startswith("<?xml")
    assert b"xsi:type" in parsed.data.xml and b"&lt;iin&gt;" in parsed.data.xml
    request = parsed.as_request()
    assert request.requestInfo == parsed.info and request.requestData.data == parsed.data.value


def test_a_document_in_data_declaring_another_encoding_is_read_as_the_characters_it_is():
    message = JAXWS.replace(b'encoding="UTF-8" standalone="yes"?&gt;', b'encoding="windows-1251"?&gt;').replace(
        b"&lt;iin&gt;900101300123", "&lt;iin&gt;Әлия".encode())
    assert parse_sync_request(message).data.value["sendMessageRequest"]["iin"] == "Әлия"


def test_the_header_is_left_to_the_signature_check():
    signed = JAXWS.replace(b"<SOAP-ENV:Header/>", b'<SOAP-ENV:Header><wsse:Security xmlns:wsse="http://docs.oasis-open.org/'
                           b'wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd" SOAP-ENV:mustUnderstand="1">'
                           b"<anything/></wsse:Security></SOAP-ENV:Header>")
    assert parse_sync_request(signed).info == parse_sync_request(JAXWS).info


def test_nested_data_in_another_namespace_with_its_own_type_is_taken():
    parsed = parse_sync_request(NESTED_QUALIFIED)
    assert parsed.info.correlationId == "c-2" and parsed.info.routeId == "r-1"
    assert parsed.info.properties == [Property(key="CONNECTOR_CLIENT", value="true"), Property(key="other", value="")]
    assert parsed.info.sessionId == SESSION
    assert parsed.data.value == {"messageId": "b7e1", "messageDate": "2026-12-05T12:20:34+06:00",
                                 "senderCode": "TEST_IS", "iin": "900101300123"}
    assert parsed.data.xsi_type == "{http://message.persistence.interactive.nat}Request"
    assert parsed.data.document is None


def test_empty_optional_elements_are_absent_and_repeats_are_lists():
    parsed = parse_sync_request(HAND_BUILT)
    assert parsed.info.correlationId is None and parsed.info.routeId is None and parsed.info.sessionId is None
    assert parsed.info.properties == []
    assert parsed.info.messageDate == datetime(2026, 12, 5, 12, 20, 34)  # no offset: read as given
    assert parsed.data.value == {"query": {"iin": "900101300123", "doc": ["a", "b"], "note": None}}


def test_default_namespaces_and_plain_text_data():
    parsed = parse_sync_request(DEFAULT_NAMESPACE)
    assert parsed.info.messageId == "m-4" and parsed.info.serviceId == "ESEDO_UNIVERSAL_SERVICE"
    assert parsed.data.value == "plain text" and parsed.data.document is None


# ---- what we build validates and parses back ----------------------------------------------------


DATA = {"Request": {"iin": "900101300123", "names": {"name": ["Әлия", "Aliya"]}, "note": None, "count": 2, "ok": True}}
DATA_READ = {"Request": {"iin": "900101300123", "names": {"name": ["Әлия", "Aliya"]}, "note": None, "count": "2",
                         "ok": "true"}}


@pytest.mark.parametrize("form", ["elements", "string"])
def test_a_built_sync_request_validates_and_parses_to_the_same_fields(form):
    sent = info(correlationId="c-1", routeId="r-1", sessionId=SESSION.strip("{}"),
                properties=[Property(key="k", value="v")])
    message = sync_request(sent, DATA, data_form=form)
    assert_valid(message)
    parsed = parse_sync_request(message)
    assert parsed.info == sent.model_copy(update={"sessionId": SESSION})
    assert parsed.data.value == DATA_READ
    assert (parsed.data.document is not None) == (form == "string")


@pytest.mark.parametrize("data", [None, "just text", {"a": None}, {"list": {"item": [{"x": "1"}, {"x": "2"}]}}])
@pytest.mark.parametrize("form", ["elements", "string"])
def test_sync_response_validates_and_parses_back(data, form):
    if form == "string" and isinstance(data, dict) and len(data) != 1:
        pytest.skip("a document has one root")
    response = success_info("m-1", "c-1", AT, session_id="not-a-guid")
    message = sync_response(response, data, data_form=form)
    wrapper = assert_valid(message)
    assert wrapper.find("response/responseInfo/status/code").text == "SCSS001"
    assert wrapper.find("response/responseInfo/sessionId") is None  # no GUID, not sent
    parsed = parse_sync_response(message)
    assert parsed.info.messageId == "m-1" and parsed.info.correlationId == "c-1"
    assert parsed.info.responseDate == AT and parsed.info.status.code == "SCSS001"
    assert parsed.data.value == data


def test_data_that_has_no_xml_form_is_refused_naming_the_key():
    with pytest.raises(ValueError, match=r"data/Request: the key 'not a name' is not an XML element name"):
        sync_request(info(), {"Request": {"not a name": "1"}})
    with pytest.raises(ValueError, match="one root element"):
        sync_request(info(), {"a": "1", "b": "2"}, data_form="string")
    with pytest.raises(ValueError, match="needs a key"):
        sync_request(info(), ["a"])


def test_xml_to_python_rules():
    element = etree.fromstring(b'<data xmlns:p="urn:p"><p:a x="1">t</p:a><b/><c>1</c><c>2</c><d><e>m</e>tail</d></data>')
    value, document = data_to_python(element)
    assert value == {"a": "t", "b": None, "c": ["1", "2"], "d": {"e": "m", "#text": "tail"}}
    assert document is None
    rebuilt = etree.Element("data")
    fill_data(rebuilt, {"a": "t", "b": None, "c": ["1", "2"]})
    assert etree.tostring(rebuilt) == b"<data><a>t</a><b/><c>1</c><c>2</c></data>"


# ---- faults -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("code, faultcode", [
    (ErrorCode.AUTHENTICATION_FAILED, "soap:Client"),
    (ErrorCode.PROVIDER_TIMEOUT, "soap:Server"),
    (ErrorCode.PROVIDER_NOT_FOUND, "soap:Server"),
])
@pytest.mark.parametrize("operation", ["SendMessage", "sendMessage", "getMessageStatus", "sendDeliveryNotification",
                                       "getMessages"])
def test_a_fault_validates_and_carries_the_catalogue(code, faultcode, operation):
    raised = GatewayFault(code, "the detail", data={"field": "x"},
                          sub=GatewayFault(ErrorCode.GATEWAY_INTERNAL, "inner"), session_id=SESSION)
    message = fault(raised, operation, at=AT)
    entry = assert_valid(message)
    assert etree.QName(entry).localname == f"{operation}Fault1_{operation}Fault"
    root = body_child(message)
    assert root.findtext("faultcode") == faultcode
    assert root.findtext("faultstring") == raised.to_error_info(AT).errorMessage
    assert entry.findtext("errorCode") == code.value and entry.findtext("sessionId") == SESSION
    assert entry.findtext("subError/errorCode") == ErrorCode.GATEWAY_INTERNAL.value
    back = parse_fault(message)
    assert (back.code, back.detail, back.data, back.session_id) == (code.value, "the detail", {"field": "x"}, SESSION)
    assert back.sub.detail == "inner"
    with pytest.raises(GatewayFault) as caught:
        parse_sync_response(message)
    assert caught.value.code == code.value


def test_a_fault_from_an_error_info_and_no_fault_in_an_answer():
    error = ErrorInfo(errorCode="Provider.NotFound", errorMessage="not found", errorDate=AT)
    message = fault(error, "SendMessage")
    assert_valid(message)
    assert body_child(message).findtext("faultcode") == "soap:Server"
    assert body_child(message).find("detail")[0].find("errorData") is None
    assert parse_fault(sync_response(success_info("m", None, AT))) is None
    with pytest.raises(ValueError, match="not an operation"):
        fault(error, "Nope")


# ---- the async channel ---------------------------------------------------------------------------------


@pytest.mark.parametrize("form", ["elements", "string"])
def test_async_send_message_round_trip(form):
    sent = info(messageType="NOTIFICATION", correlationId="c-9")
    message = async_send_request(sent, DATA, data_form=form)
    assert_valid(message)
    parsed = parse_async(message)
    assert parsed.operation == "sendMessage" and not parsed.message_id_assigned
    assert parsed.info == sent and parsed.data.value == DATA_READ
    assert parsed.as_request().requestInfo.messageType == "NOTIFICATION"


def test_async_send_message_without_message_id_gets_one_assigned():
    message = async_send_request(info(), "x", with_message_id=False)
    assert_valid(message)
    parsed = parse_async(message, new_message_id=lambda: "assigned-1")
    assert parsed.message_id_assigned and parsed.info.messageId == "assigned-1"
    assert parsed.info.messageType == "REQUEST"
    # by default the id comes from the signed Body: every hop (gateways, the provider) assigns the same one,
    # so a delivery tried again is the same message to the next hop's replay guard
    first, again = parse_async(message), parse_async(message)
    assert first.info.messageId == again.info.messageId == assigned_message_id(message)
    other = async_send_request(info(), "y", with_message_id=False)
    assert parse_async(other).info.messageId != first.info.messageId


def test_async_queries_parse():
    sender = Sender(senderId="TEST_IS", password="secret")
    status = parse_async(message_status_request("m-1", AT, sender, [Property(key="k", value="v")]))
    assert status.operation == "getMessageStatus"
    assert (status.query.messageId, status.query.requestDate, status.query.sender.senderId) == ("m-1", AT, "TEST_IS")
    assert status.query.properties == [Property(key="k", value="v")]

    error = ErrorInfo(errorCode="Provider.Refused", errorMessage="no", errorDate=AT, errorData={"why": "x"})
    notice = parse_async(delivery_notification_request("m-1", "svc", accepted=False, at=AT, error=error, sender=sender))
    assert notice.operation == "sendDeliveryNotification"
    status_info = notice.query.notification.deliveryStatus
    assert status_info.receiveStatus == "MESSAGE_NOT_ACCTEPTED" and status_info.resendMessage == "NOT_RESEND"
    assert status_info.error.errorCode == "Provider.Refused" and status_info.error.errorData == {"why": "x"}

    pulled = parse_async(get_messages_request("svc", amount=5, sender=sender))
    assert pulled.operation == "getMessages"
    assert (pulled.query.serviceId, pulled.query.amount, pulled.query.messageId) == ("svc", 5, None)
    for message in (message_status_request("m-1", AT, sender),
                    delivery_notification_request("m-1", "svc", accepted=True, at=AT),
                    get_messages_request("svc")):
        assert_valid(message)


@pytest.mark.parametrize("state", ["ON_DELIVERY", "DELIVERED", "NOT_DELIVERED", "DELIVERY_STOPPED"])
def test_message_status_answers(state):
    message = message_status_response(state, status_code="SCSS001", status_message="ok", status_date=AT,
                                      response_date=AT, session_id="free text")
    assert_valid(message)
    operation, fields = parse_async_response(message)
    assert operation == "getMessageStatus" and fields["messageState"] == state
    assert fields["status"]["statusCode"] == "SCSS001"


def test_the_other_async_answers_validate():
    accepted = send_message_response("m-1", None, AT, session_id=SESSION)
    assert_valid(accepted)
    assert parse_async_response(accepted)[1] == {
        "messageId": "m-1", "correlationId": "m-1", "responseDate": AT.isoformat(), "sessionId": SESSION,
    }
    noted = delivery_notification_response("n-1", AT)
    assert_valid(noted)
    assert parse_async_response(noted)[1]["sessionId"].startswith("{")
    listed = messages_response([(info(messageType="RESPONSE", correlationId="c"), DATA), (info(), "text")], AT)
    assert_valid(listed)
    operation, fields = parse_async_response(listed)
    assert operation == "getMessages"
    assert [m["messageData"]["data"] for m in fields["messages"]] == [DATA_READ, "text"]
    assert fields["messages"][0]["messageInfo"]["messageType"] == "RESPONSE"
    empty = messages_response([], AT)
    assert_valid(empty)
    assert "messages" not in parse_async_response(empty)[1]


# ---- refused input ---------------------------------------------------------------------------------------


def _with(old: bytes, new: bytes) -> bytes:
    assert old in JAXWS
    return JAXWS.replace(old, new, 1)


REFUSED = [
    ("missing messageId", _with(b"<messageId>6a1f3e52-9b0e-4c6d-8f51-1d2e3c4b5a69</messageId>", b""),
     "request/requestInfo/messageId: missing"),
    ("empty messageId", _with(b"6a1f3e52-9b0e-4c6d-8f51-1d2e3c4b5a69", b""), "request/requestInfo/messageId: missing or empty"),
    ("bad messageDate", _with(b"2026-12-05T12:20:34.539+06:00</messageDate>", b"yesterday</messageDate>"),
     "request/requestInfo/messageDate: 'yesterday' is not a valid value"),
    ("unknown element", _with(b"<serviceId>", b"<color>red</color><serviceId>"),
     "request/requestInfo/color: not expected here; expected correlationId or serviceId"),
    ("no sender", _with(b"<sender><senderId>TEST_IS</senderId><password>secret</password></sender>", b""),
     "request/requestInfo/sender: missing"),
    ("no password", _with(b"<password>secret</password>", b""), "request/requestInfo/sender/password: missing"),
    ("sessionId not a GUID", _with(b"</requestInfo>", b"<sessionId>abc</sessionId></requestInfo>"),
     "request/requestInfo/sessionId: [facet 'pattern']"),
    ("control character", _with(b"<serviceId>GBDFL_UniversalServiceSync", b"<serviceId>GBDFL&#x9;Sync"),
     "request/requestInfo/serviceId: String should match pattern"),
    ("no requestData", JAXWS.split(b"<requestData>")[0] + JAXWS.split(b"</requestData>")[1],
     "request/requestData: missing"),
    ("broken document in data", _with(b"&lt;iin&gt;", b"&lt;iin&gt;&lt;"), "request/requestData/data: the XML document in data is not well-formed"),
    ("DTD in data", _with(b"&lt;ns2:sendMessageRequest", b"&lt;!DOCTYPE x [&lt;!ENTITY e SYSTEM 'file:///etc/passwd'&gt;]&gt;&lt;ns2:sendMessageRequest"),
     "request/requestData/data: the XML document in data declares a DTD"),
    ("not XML", b"SendMessage please", "Envelope: the message is not well-formed XML"),
    ("empty", b"", "Envelope: the message is empty"),
    ("DTD with entities", b'<?xml version="1.0"?><!DOCTYPE S:Envelope [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;">]>'
     + JAXWS.split(b"?>", 1)[1].replace(b"TEST_IS</senderId>", b"&b;</senderId>"), "Envelope: the message declares a DTD"),
    ("SOAP 1.2", JAXWS.replace(b"http://schemas.xmlsoap.org/soap/envelope/", b"http://www.w3.org/2003/05/soap-envelope"),
     "Envelope: a SOAP 1.2 envelope"),
    ("not an envelope", b"<SendMessage/>", "Envelope: the root element is SendMessage, not a SOAP 1.1 Envelope"),
    ("another operation", JAXWS.replace(b"ns2:SendMessage", b"ns2:GetThings"), "Body: GetThings (namespace"),
    ("wrong namespace", JAXWS.replace(b'xmlns:ns2="http://bip.bee.kz/SyncChannel/v10/Types"', b'xmlns:ns2="urn:other"'),
     "SendMessage: in namespace urn:other"),
    ("nil request", _with(b"<request>", b'<request xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:nil="true">')
     .split(b"<requestInfo>")[0] + b"</request></ns2:SendMessage></S:Body></S:Envelope>", "request: missing (or nil)"),
    ("two operations", JAXWS.replace(b"</ns2:SendMessage>", b'</ns2:SendMessage><SendMessage xmlns="http://bip.bee.kz/SyncChannel/v10/Types"/>'), "Body: 2 elements"),
]


@pytest.mark.parametrize("body, where", [case[1:] for case in REFUSED], ids=[case[0] for case in REFUSED])
def test_a_broken_request_is_envelope_invalid_naming_the_field(body, where):
    with pytest.raises(GatewayFault) as caught:
        parse_sync_request(body)
    assert caught.value.code == ErrorCode.ENVELOPE_INVALID.value
    assert caught.value.detail.startswith(where), caught.value.detail


def test_a_message_over_16_mib_is_refused_before_reading():
    padding = b"<!--" + b"x" * (MAX_BYTES) + b"-->"
    with pytest.raises(GatewayFault) as caught:
        parse_sync_request(JAXWS + padding)
    assert caught.value.code == ErrorCode.ENVELOPE_INVALID.value
    assert "more than the 16777216 taken" in caught.value.detail


def test_an_async_request_names_its_field_and_operation():
    message = async_send_request(info(), "x").replace(b"<messageType>REQUEST</messageType>", b"<messageType>ASK</messageType>")
    with pytest.raises(GatewayFault) as caught:
        parse_async(message)
    assert caught.value.detail.startswith("request/messageInfo/messageType: [facet 'enumeration']"), caught.value.detail
    with pytest.raises(GatewayFault) as caught:
        parse_async(JAXWS)
    assert caught.value.detail.startswith("Body: SendMessage (namespace http://bip.bee.kz/SyncChannel/v10/Types) "
                                          "is not an operation of this channel; it has sendMessage")
    with pytest.raises(GatewayFault) as caught:
        parse_async(get_messages_request("svc").replace(b"<serviceId>svc</serviceId>", b""))
    assert caught.value.detail == "request/serviceId: missing", caught.value.detail


def test_a_response_date_out_of_its_type_in_an_answer_is_named():
    message = sync_response(ResponseInfo(messageId="m", responseDate=AT, status=Status(code="SCSS001", message="ok")))
    broken = message.replace(AT.isoformat().encode(), b"soon")
    with pytest.raises(GatewayFault) as caught:
        parse_sync_response(broken)
    assert caught.value.detail.startswith("response/responseInfo/responseDate: 'soon'"), caught.value.detail


def test_threads_parsing_at_once_each_get_their_own_verdict():
    from concurrent.futures import ThreadPoolExecutor

    cases = [(body, where) for _, body, where in REFUSED if where.startswith("request/")] + [(JAXWS, None)]

    def check(case):
        body, where = case
        try:
            parse_sync_request(body)
            return where is None
        except GatewayFault as raised:
            return where is not None and raised.detail.startswith(where)

    with ThreadPoolExecutor(4) as pool:
        assert all(pool.map(check, cases * 20))


# ---- review (issue 17 follow-up): the assigned id, comments, encodings --------------------------------


def test_the_assigned_id_comes_from_the_signed_body_only():
    message = async_send_request(info(), "x", with_message_id=False)
    assigned = assigned_message_id(message)
    declaration, rest = message.split(b"?>", 1)
    assert declaration.startswith(b"<?xml")
    variants = [
        rest.lstrip(),  # without the XML declaration
        b'<?xml version="1.0" encoding="utf-8"?>' + rest,  # another declaration
        message.replace(b"<soap:Header/>", b"<soap:Header>\n   \n</soap:Header>"),  # whitespace in the Header
        message.replace(b"<soap:Envelope ", b'<soap:Envelope xmlns:unused="urn:x" '),  # an unused namespace
    ]
    for variant in variants:
        assert variant != message
        assert assigned_message_id(variant) == assigned, variant[:120]
        parsed = parse_async(variant)
        assert parsed.message_id_assigned and parsed.info.messageId == assigned
    other = async_send_request(info(), "y", with_message_id=False)
    assert assigned_message_id(other) != assigned
    later = async_send_request(info(messageDate=AT + timedelta(seconds=1)), "x", with_message_id=False)
    assert assigned_message_id(later) != assigned


COMMENTED = [
    ("comment in data", JAXWS.replace(b"</data>", b"<!-- after signing --></data>"),
     "request/requestData/data: comments and processing instructions are not allowed"),
    ("instruction in requestInfo", JAXWS.replace(b"<messageId>", b"<?keep me?><messageId>"),
     "request/requestInfo: comments and processing instructions are not allowed"),
    ("comment in the Body", JAXWS.replace(b"<ns2:SendMessage", b"<!-- x --><ns2:SendMessage"),
     "Body: comments and processing instructions are not allowed"),
]


@pytest.mark.parametrize("body, where", [case[1:] for case in COMMENTED], ids=[case[0] for case in COMMENTED])
def test_comments_and_instructions_in_a_requests_body_are_refused(body, where):
    assert body != JAXWS
    with pytest.raises(GatewayFault) as caught:
        parse_sync_request(body)
    assert caught.value.code == ErrorCode.ENVELOPE_INVALID.value
    assert caught.value.detail == where, caught.value.detail


def test_a_comment_in_an_async_request_and_in_a_nested_data_element_is_refused():
    message = async_send_request(info(), {"person": {"iin": "900101300123"}})
    assert b"<iin>900101300123</iin>" in message
    with pytest.raises(GatewayFault) as caught:
        parse_async(message.replace(b"<iin>900101300123</iin>", b"<iin>900101300123</iin><!--x-->"))
    assert caught.value.code == ErrorCode.ENVELOPE_INVALID.value
    assert caught.value.detail == "request/messageData/data/person: comments and processing instructions are not allowed"
    # a comment in the Header is outside the Body: not refused here
    in_header = message.replace(b"<soap:Header/>", b"<soap:Header><!-- x --></soap:Header>")
    assert in_header != message and parse_async(in_header).info == parse_async(message).info


NOT_UTF8 = [
    ("windows-1251 declared", JAXWS.replace(b'<?xml version="1.0" encoding="UTF-8"?>', b'<?xml version="1.0" encoding="windows-1251"?>'),
     "it says encoding='windows-1251'"),
    ("windows-1251 bytes", JAXWS.replace(b"TEST_IS</senderId>", "ТЕСТ</senderId>".encode("windows-1251")),
     "it looks like another encoding: byte 0xd2"),
    ("UTF-16 with a BOM", JAXWS.decode().replace('encoding="UTF-8"', 'encoding="UTF-16"').encode("utf-16"),
     "it looks UTF-16"),
    ("UTF-16 without a BOM", JAXWS.decode().replace('encoding="UTF-8"', 'encoding="UTF-16"').encode("utf-16-le"),
     "it looks UTF-16 or UTF-32"),
    ("UTF-32", JAXWS.decode().replace('encoding="UTF-8"', 'encoding="UTF-32"').encode("utf-32"), "it looks UTF-32"),
]


@pytest.mark.parametrize("body, says", [case[1:] for case in NOT_UTF8], ids=[case[0] for case in NOT_UTF8])
def test_an_envelope_not_in_utf8_is_refused(body, says):
    assert body != JAXWS
    for parse in (parse_sync_request, parse_async, parse_sync_response):
        with pytest.raises(GatewayFault) as caught:
            parse(body)
        assert caught.value.code == ErrorCode.ENVELOPE_INVALID.value
        assert caught.value.detail.startswith("Envelope: the envelope must be UTF-8 ("), caught.value.detail
        assert says in caught.value.detail, caught.value.detail


def test_utf8_with_a_bom_or_a_lower_case_declaration_is_taken():
    assert parse_sync_request(b"\xef\xbb\xbf" + JAXWS).info == parse_sync_request(JAXWS).info
    lower = JAXWS.replace(b'encoding="UTF-8"?>', b"encoding='utf-8'?>", 1)
    assert lower != JAXWS and parse_sync_request(lower).info == parse_sync_request(JAXWS).info


def test_an_answer_not_in_utf8_is_refused_so_the_gateway_reports_the_provider():
    answer = sync_response(ResponseInfo(messageId="m", responseDate=AT, status=Status(code="SCSS001", message="ок")), "Әлия")
    assert parse_sync_response(answer).data.value == "Әлия"
    text = answer.decode("utf-8")
    for other in (text.replace("Әлия", "Алия").replace("UTF-8", "windows-1251").encode("windows-1251"), text.encode("utf-16")):
        for parse in (parse_fault, parse_sync_response):
            with pytest.raises(GatewayFault) as caught:
                parse(other)
            assert caught.value.detail.startswith("Envelope: the envelope must be UTF-8"), caught.value.detail
