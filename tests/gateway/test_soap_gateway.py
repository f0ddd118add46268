"""Issue 17: every gateway serves the ШЭП SOAP interface (gateway/soapchannel.py) with the JSON
channel's checks, in its order, and keeps SOAP messages in the same log chain.

Senders here are simulated systems (the portal, the echo) signing their SOAP envelopes with their
own keys (signatures.xmldsig.sign_envelope, what an integrator's own signer does); the outside
client registered by a tester is tests/outside/test_soap_client.py's.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import uuid
from datetime import timedelta
from typing import Any

import httpx
import pytest
from lxml import etree

from egov_sim.inprocess import Simulation
from gateway_protocol.envelope import ASYNC_PATH, SYNC_PATH, RequestInfo, Sender
from gateway_protocol.soap import (
    ASYNC_SOAP_PATH, SOAP_ENV, SYNC_SOAP_PATH, async_send_request, delivery_notification_request,
    get_messages_request, message_status_request, parse_async_response, parse_fault, parse_sync_response,
    sync_request, xml_schema,
)
from gateway_protocol.soap.names import XSD, XSI
from signatures.xmldsig import sign_envelope
from tests.gateway.conftest import credentials, signed_message

SOAP = {"Content-Type": "text/xml; charset=utf-8"}


def info_of(run: Simulation, *, sender: str = "echo", service_id: str = "ECHO_Central", message_id: str | None = None,
            at=None, password: str | None = None, message_type: str | None = None,
            correlation_id: str | None = None, route_id: str | None = None) -> RequestInfo:
    runtime = run.runtime(sender)
    return RequestInfo(
        messageId=message_id or str(uuid.uuid4()), serviceId=service_id, messageDate=at, correlationId=correlation_id,
        routeId=route_id,
        sender=Sender(senderId=sender, password=password or runtime.credentials.password_of(sender)),
        messageType=message_type,
    )


async def soap_sync(run: Simulation, data: Any = None, *, signer: str = "echo", form: str = "elements",
                    **fields: Any) -> bytes:
    at = fields.pop("at", None) or await run.runtime("echo").now()
    envelope = sync_request(info_of(run, at=at, **fields), data if data is not None else {"hello": "сәлем"},
                            data_form=form)
    return sign_envelope(envelope, run.runtime(signer).identity)


async def post_soap(run: Simulation, body: bytes, path: str = SYNC_SOAP_PATH, gateway: str = "gateway") -> httpx.Response:
    async with run.client(gateway) as client:
        return await client.post(path, content=body, headers=SOAP)


def valid(message: bytes) -> etree._Element:
    """The Body's element of ``message``, validated against the interface's XSDs."""
    root = etree.fromstring(message)
    body = root.find(f"{{{SOAP_ENV}}}Body")
    element = body[0]
    if element.tag == f"{{{SOAP_ENV}}}Fault":
        element = element.find("detail")[0]
    assert xml_schema().validate(element), xml_schema().error_log
    return element


async def signed_by(run: Simulation, message: bytes, who: str) -> None:
    verdict = await run.runtime("gateway").validator.xmldsig(message, at=await run.runtime("gateway").now())
    assert verdict.valid, verdict.verdict.message
    assert verdict.verdict.signer["common_name"] == who


def fault_code(reply: httpx.Response) -> str:
    assert reply.status_code == 500, reply.text
    assert reply.headers["content-type"].startswith("text/xml")
    valid(reply.content)
    fault = parse_fault(reply.content)
    assert fault is not None
    return fault.code


async def test_a_signed_soap_message_is_forwarded_and_the_providers_signed_answer_passed_on(echo_run):
    body = await soap_sync(echo_run, {"hello": "сәлем"})
    reply = await post_soap(echo_run, body)
    assert reply.status_code == 200, reply.text
    assert reply.headers["content-type"] == "text/xml; charset=utf-8"
    valid(reply.content)
    await signed_by(echo_run, reply.content, "echo")  # the provider's answer, as it came
    answer = parse_sync_response(reply.content)
    assert answer.info.status.code == "SCSS001"
    assert answer.data.value == {"echo": {"hello": "сәлем"}}


async def test_an_escaped_xml_document_in_data_is_answered(echo_run):
    document = '<?xml version="1.0" encoding="UTF-8"?><request><iin>900515401230</iin></request>'
    envelope = sync_request(info_of(echo_run, at=await echo_run.runtime("echo").now()), None)
    root = etree.fromstring(envelope)
    data = root.find(f".//{{{SOAP_ENV}}}Body").find(".//data")
    holder = data.getparent()
    holder.remove(data)
    data = etree.SubElement(holder, "data", nsmap={"xs": XSD, "xsi": XSI})
    data.set(f"{{{XSI}}}type", "xs:string")
    data.text = document
    body = sign_envelope(etree.tostring(root), echo_run.runtime("echo").identity)
    assert b"&lt;iin&gt;900515401230" in body  # escaped, as real clients send it
    reply = await post_soap(echo_run, body)
    assert reply.status_code == 200, reply.text
    assert "900515401230" in json.dumps(parse_sync_response(reply.content).data.value)


async def test_refusals_are_signed_soap_faults_with_the_catalogues_codes(echo_run):
    now = await echo_run.runtime("echo").now()
    # a tampered body: the signature no longer covers it
    tampered = (await soap_sync(echo_run, {"amount": "100"})).replace(b"<amount>100<", b"<amount>900<")
    reply = await post_soap(echo_run, tampered)
    assert fault_code(reply) == "Client.SignatureInvalid"
    await signed_by(echo_run, reply.content, "gateway")
    # a wrong password
    assert fault_code(await post_soap(echo_run, await soap_sync(echo_run, password="not-the-password"))) \
        == "Client.AuthenticationFailed"
    # signed by another system than the sender
    reply = await post_soap(echo_run, await soap_sync(echo_run, signer="portal"))
    assert fault_code(reply) == "Client.SignatureInvalid"
    assert "SIGNER_NOT_SENDER" in reply.text
    # a date out of range, a service without the right, an unknown service
    late = await soap_sync(echo_run, at=now - timedelta(hours=3))
    assert fault_code(await post_soap(echo_run, late)) == "Client.MessageDateOutOfRange"
    assert fault_code(await post_soap(echo_run, await soap_sync(echo_run, service_id="GBDFL_UniversalServiceSync"))) \
        == "Client.AccessDenied"
    assert fault_code(await post_soap(echo_run, await soap_sync(echo_run, service_id="NO_SUCH_SERVICE"))) \
        == "Client.UnknownService"
    # not an envelope; a SOAP 1.2 one; the refusal names the field
    reply = await post_soap(echo_run, b"<not-soap/>")
    assert fault_code(reply) == "Client.EnvelopeInvalid"
    assert "Envelope" in parse_fault(reply.content).detail
    broken = (await soap_sync(echo_run)).replace(b"<serviceId>", b"<serviceIdentifier>").replace(
        b"</serviceId>", b"</serviceIdentifier>")
    reply = await post_soap(echo_run, broken)
    assert fault_code(reply) == "Client.EnvelopeInvalid"
    assert "requestInfo/serviceId" in parse_fault(reply.content).detail


async def test_a_gost_signed_request_gets_the_algorithm_fault(echo_run):
    body = await soap_sync(echo_run)
    gost = "http://www.w3.org/2001/04/xmldsig-more#gost34310-gost34311"
    body = body.replace(b"http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256", gost.encode())
    reply = await post_soap(echo_run, body)
    assert fault_code(reply) == "Client.SignatureInvalid"
    fault = parse_fault(reply.content)
    assert gost in fault.detail and "ecdsa-sha256" in fault.detail
    assert "ecdsa-sha256" in " ".join(fault.data["accepted"])
    assert fault.data["verdict"] == "MALFORMED"


async def test_a_replayed_soap_message_gets_the_first_answer_and_json_cannot_take_it(echo_run):
    message_id = str(uuid.uuid4())
    body = await soap_sync(echo_run, {"n": "1"}, message_id=message_id)
    first = await post_soap(echo_run, body)
    again = await post_soap(echo_run, body)
    assert first.status_code == again.status_code == 200
    assert first.content == again.content  # the first answer, as it was
    async with echo_run.client("echo") as client:
        times = {r["messageId"]: r["times"] for r in (await client.get("/api/processed")).json()}
    assert times[message_id] == 1
    # the same messageId over JSON is not answered with the SOAP answer
    message = await signed_message(echo_run, message_id=message_id)
    async with echo_run.client("gateway") as client:
        reply = await client.post(SYNC_PATH, json=message)
    assert reply.json()["errorInfo"]["errorCode"] == "Client.MessageReplayed"
    assert "SOAP" in reply.json()["errorInfo"]["errorMessage"]


async def test_soap_and_json_share_one_log_chain_that_verifies(echo_run):
    body = await soap_sync(echo_run)
    assert (await post_soap(echo_run, body)).status_code == 200
    async with echo_run.client("gateway") as client:
        assert (await client.post(SYNC_PATH, json=await signed_message(echo_run))).status_code == 200
        wrong = await soap_sync(echo_run, password="Wr0ng-Pa55-marker")
        await client.post(SYNC_SOAP_PATH, content=wrong, headers=SOAP)
        rows = (await client.get("/v1/messages", params={"kind": "all", "limit": 50})).json()
        report = (await client.get("/v1/messages/verify")).json()
    assert report["ok"], report
    assert report["records"] == len(rows) >= 5
    cli = await asyncio.to_thread(subprocess.run, [
        sys.executable, "-m", "egov_sim.cli", "gateway", "--data-dir", str(echo_run.settings.data_dir), "verify-log",
    ], capture_output=True, text=True, timeout=120)
    assert cli.returncode == 0 and f"holds ({report['records']} records" in cli.stdout, cli.stdout + cli.stderr
    records = await echo_run.apps["gateway"].state.gateway.log.query(limit=100)
    soap_rows = [json.loads(r.body) for r in records if r.body.startswith('{"format":"soap"')]
    assert len(soap_rows) == 2  # the request and the echo's answer
    request = next(r for r in soap_rows if "SendMessage>" in r["envelope"] and "<password>" in r["envelope"])
    assert "<password>***</password>" in request["envelope"]
    assert echo_run.runtime("echo").credentials.password_of("echo") not in request["envelope"]
    assert "SignatureValue" in request["envelope"]  # the signature kept as received
    assert request["receipt"]["signer"] == "echo" and request["receipt"]["verdict"] == "VALID"
    assert request["receipt"]["serial"]
    refused = [json.loads(r.body) for r in records if r.error_code == "Client.AuthenticationFailed"]
    assert refused and "Wr0ng-Pa55-marker" not in records[-1].body and refused[0]["refused"]["bytes"] == len(wrong)
    # the evidence export carries the SOAP rows
    correlation = str(uuid.uuid4())
    traced = await soap_sync(echo_run, correlation_id=correlation)
    assert (await post_soap(echo_run, traced)).status_code == 200
    async with echo_run.client("gateway") as client:
        evidence = (await client.get("/v1/messages/evidence", params={"correlationId": correlation})).json()
        assert (await client.get("/v1/messages/verify")).json()["ok"]
    kept = [r["message"] for r in evidence["records"]]
    assert [m["format"] for m in kept] == ["soap", "soap"]
    assert kept[0]["receipt"]["signer"] == "echo" and kept[1]["receipt"]["signer"] == "echo"


async def test_the_wsdl_is_served_for_the_url_requested(echo_run):
    async with echo_run.client("gateway") as client:
        for path in (SYNC_SOAP_PATH, ASYNC_SOAP_PATH):
            reply = await client.get(path + "?wsdl")
            assert reply.status_code == 200 and reply.headers["content-type"].startswith("text/xml")
            assert path.encode() in reply.content  # soap:address names the URL requested
            assert b"?wsdl=" in reply.content
        xsd = await client.get(SYNC_SOAP_PATH, params={"xsd": "common-v10-Types.xsd"})
        assert xsd.status_code == 200 and b"ErrorInfo" in xsd.content
        assert (await client.get(SYNC_SOAP_PATH, params={"xsd": "../../etc/passwd"})).status_code == 404
        assert (await client.get(SYNC_SOAP_PATH)).status_code == 400
        openapi = (await client.get("/openapi.json")).json()
    assert openapi["paths"][SYNC_SOAP_PATH]["post"]["tags"] == ["ШЭП SOAP"]
    assert "summary" in openapi["paths"][ASYNC_SOAP_PATH]["post"]


async def test_an_async_soap_message_is_delivered_and_its_status_says_so(echo_run):
    runtime = echo_run.runtime("echo")
    info = info_of(echo_run, at=await runtime.now(), message_type="REQUEST")
    body = sign_envelope(async_send_request(info, {"hello": "async"}, with_message_id=False), runtime.identity)
    reply = await post_soap(echo_run, body, ASYNC_SOAP_PATH)
    assert reply.status_code == 200, reply.text
    valid(reply.content)
    await signed_by(echo_run, reply.content, "gateway")
    operation, fields = parse_async_response(reply.content)
    assert operation == "sendMessage"
    message_id = fields["messageId"]  # assigned by the gateway
    assert message_id and message_id != info.messageId
    again = await post_soap(echo_run, body, ASYNC_SOAP_PATH)  # the same request sent again (its answer lost)
    assert parse_async_response(again.content)[1]["messageId"] == message_id  # the same message, taken once
    other = sign_envelope(async_send_request(info, {"hello": "async"}, with_message_id=False), runtime.identity)
    assert parse_async_response((await post_soap(echo_run, other, ASYNC_SOAP_PATH)).content)[1]["messageId"] \
        != message_id  # signed anew: another sending
    sender = Sender(senderId="echo", password=runtime.credentials.password_of("echo"))
    state = None
    for _ in range(200):
        status = await post_soap(echo_run, message_status_request(message_id, await runtime.now(), sender),
                                 ASYNC_SOAP_PATH)
        assert status.status_code == 200, status.text
        valid(status.content)
        state = parse_async_response(status.content)[1]["messageState"]
        if state != "ON_DELIVERY":
            break
        await asyncio.sleep(0.05)
    assert state == "DELIVERED"
    await signed_by(echo_run, status.content, "gateway")
    # the JSON channel's store says the same
    async with echo_run.client("gateway") as client:
        same = (await client.post(ASYNC_PATH + "/getMessageStatus",
                                  json={**credentials(echo_run), "messageIds": [message_id]})).json()
    assert same["messages"][0]["state"] == "DELIVERED"
    # a wrong password, an unknown message
    wrong = Sender(senderId="echo", password="wrong")
    assert fault_code(await post_soap(echo_run, message_status_request(message_id, await runtime.now(), wrong),
                                      ASYNC_SOAP_PATH)) == "Client.AuthenticationFailed"
    assert fault_code(await post_soap(echo_run, message_status_request("nope", await runtime.now(), sender),
                                      ASYNC_SOAP_PATH)) == "Client.UnknownMessage"


def test_a_soap_password_is_masked_in_the_log_and_in_a_refused_prefix():
    from gateway.service import mask_soap, refused_digest

    envelope = (b'<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><t:SendMessage '
                b'xmlns:t="urn:t"><request><requestInfo><sender><senderId>a</senderId><password>se&amp;cret'
                b'</password></sender></requestInfo></request></t:SendMessage></s:Body></s:Envelope>')
    assert "<password>***</password>" in mask_soap(envelope) and "cret" not in mask_soap(envelope)
    prefixed = envelope.replace(b"<password>", b"<ns:password xmlns:ns='urn:x'>").replace(b"</password>", b"</ns:password>")
    assert "cret" not in mask_soap(prefixed)
    assert "cret" not in refused_digest(envelope)["refused"]["prefix"]
    cut = envelope[: envelope.index(b"cret") + 2]  # the first KiB ends inside the password
    assert "se&amp;c" not in refused_digest(cut)["refused"]["prefix"]


async def test_a_soap_message_for_a_region_travels_through_the_regional_gateway_as_it_came(echo_run):
    body = await soap_sync(echo_run, {"region": "almaty"}, service_id="ECHO_Regional", route_id="almaty")
    reply = await post_soap(echo_run, body)
    assert reply.status_code == 200, reply.text
    await signed_by(echo_run, reply.content, "echo")
    assert parse_sync_response(reply.content).data.value == {"echo": {"region": "almaty"}}
    regional = await echo_run.apps["gateway-almaty"].state.gateway.log.query(limit=10)
    request = json.loads(next(r for r in regional if r.kind == "request").body)
    assert request["format"] == "soap" and request["receipt"]["signer"] == "echo"  # the sender's own signature
    assert next(r for r in regional if r.kind == "request").came_from == "gateway"  # the centre's signed hop
    # the regional gateway serves the interface itself
    direct = await post_soap(echo_run, await soap_sync(echo_run, {"n": "2"}, service_id="ECHO_Regional", route_id="almaty"),
                             gateway="gateway-almaty")
    assert direct.status_code == 200, direct.text
    # an async message for the region reaches DELIVERED through both gateways
    runtime = echo_run.runtime("echo")
    info = info_of(echo_run, at=await runtime.now(), message_type="REQUEST", service_id="ECHO_Regional", route_id="almaty")
    taken = await post_soap(echo_run, sign_envelope(async_send_request(info, {"n": "3"}, with_message_id=False),
                                                    runtime.identity), ASYNC_SOAP_PATH)
    assert taken.status_code == 200, taken.text
    assigned = parse_async_response(taken.content)[1]["messageId"]
    assert assigned != info.messageId
    info = info.model_copy(update={"messageId": assigned})
    sender = Sender(senderId="echo", password=runtime.credentials.password_of("echo"))
    for _ in range(200):
        status = await post_soap(echo_run, message_status_request(info.messageId, await runtime.now(), sender),
                                 ASYNC_SOAP_PATH)
        state = parse_async_response(status.content)[1]["messageState"]
        if state != "ON_DELIVERY":
            break
        await asyncio.sleep(0.05)
    assert state == "DELIVERED"
    # the regional gateway read the same messageId from the same bytes: a retry would be recognised
    regional = await echo_run.apps["gateway-almaty"].state.gateway.log.query(message_id=assigned)
    assert [r.kind for r in regional] == ["request", "response"]


async def test_operator_faults_act_on_soap_deliveries(echo_run):
    async with echo_run.client("gateway") as gateway:
        await gateway.put("/admin/faults/ECHO_Central", json={"mode": "error", "error_code": "Provider.Refused"})
        reply = await post_soap(echo_run, await soap_sync(echo_run))
        assert fault_code(reply) == "Provider.Refused"
        await signed_by(echo_run, reply.content, "gateway")
        await gateway.put("/admin/faults/ECHO_Central", json={"mode": "down"})
        assert fault_code(await post_soap(echo_run, await soap_sync(echo_run))) == "Server.ProviderUnavailable"
        await gateway.put("/admin/faults/ECHO_Central", json={"mode": "malformed"})
        assert fault_code(await post_soap(echo_run, await soap_sync(echo_run))) == "Server.ProviderResponseInvalid"
        await gateway.delete("/admin/faults")
    assert (await post_soap(echo_run, await soap_sync(echo_run))).status_code == 200


PULL_CONFIG = """
  acme_pull:
    password: Acme-Pull-2026!
    services: []
"""


@pytest.fixture
async def pull_run(tmp_path):
    """A run whose participant file (edited by hand) routes PULL_Orders to acme_pull, an outside
    participant without an address: its messages wait for it to take them."""
    from egov_sim.inprocess import Simulation as Run
    from gateway.config import DEFAULT_FILE
    from simulation.database import drop_run
    from simulation.topology import SYSTEMS
    from tests.gateway.conftest import echo_settings

    settings = echo_settings(tmp_path)
    text = DEFAULT_FILE.read_text(encoding="utf-8")
    text = text.replace("    services: [ECHO_Central, ECHO_Regional]", "    services: [ECHO_Central, ECHO_Regional, PULL_Orders]")
    text = text.replace("\nservices:\n", "\nservices:\n  PULL_Orders: {system: acme_pull}\n", 1)
    text = text.replace("\nparticipants:\n", "\nparticipants:" + PULL_CONFIG, 1)
    path = settings.data_dir / "gateway" / "participants.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    async with Run(settings, extra=("echo",)) as simulation:
        yield simulation
    await drop_run(settings, (*SYSTEMS, "simulation"))


async def test_a_recipient_takes_its_messages_and_says_it_received_them(pull_run):
    runtime = pull_run.runtime("echo")
    assert "PULL_Orders" in pull_run.apps["gateway"].state.gateway.config.services
    sent = []
    for n in range(3):
        info = info_of(pull_run, at=await runtime.now(), message_type="REQUEST", service_id="PULL_Orders")
        reply = await post_soap(pull_run, sign_envelope(async_send_request(info, {"order": str(n)}), runtime.identity),
                                ASYNC_SOAP_PATH)
        assert reply.status_code == 200, reply.text
        sent.append(info.messageId)
    echo = Sender(senderId="echo", password=runtime.credentials.password_of("echo"))
    puller = Sender(senderId="acme_pull", password="Acme-Pull-2026!")

    async def state_of(message_id: str) -> str:
        reply = await post_soap(pull_run, message_status_request(message_id, await runtime.now(), echo), ASYNC_SOAP_PATH)
        return parse_async_response(reply.content)[1]["messageState"]

    await asyncio.sleep(0.3)  # the delivery loop does not push them
    assert [await state_of(m) for m in sent] == ["ON_DELIVERY"] * 3
    # the recipient takes them (two at a time); the sender's password is not handed out
    reply = await post_soap(pull_run, get_messages_request("PULL_Orders", sender=puller, amount=2), ASYNC_SOAP_PATH)
    assert reply.status_code == 200, reply.text
    valid(reply.content)
    await signed_by(pull_run, reply.content, "gateway")
    messages = parse_async_response(reply.content)[1]["messages"]
    assert [m["messageInfo"]["messageId"] for m in messages] == sent[:2]
    assert messages[0]["messageData"]["data"] == {"order": "0"}
    assert runtime.credentials.password_of("echo") not in reply.text
    # nobody else takes them: another participant gets none, a wrong password a fault
    other = await post_soap(pull_run, get_messages_request("PULL_Orders", sender=echo), ASYNC_SOAP_PATH)
    assert parse_async_response(other.content)[1].get("messages", []) == []
    wrong = Sender(senderId="acme_pull", password="nope")
    assert fault_code(await post_soap(pull_run, get_messages_request("PULL_Orders", sender=wrong), ASYNC_SOAP_PATH)) \
        == "Client.AuthenticationFailed"
    # it says it received the first, refuses the second for good, asks the third again
    now = await runtime.now()
    for message_id, accepted, resend in ((sent[0], True, False), (sent[1], False, False), (sent[2], False, True)):
        said = await post_soap(pull_run, delivery_notification_request(
            message_id, "PULL_Orders", accepted=accepted, resend=resend, at=now, sender=puller), ASYNC_SOAP_PATH)
        assert said.status_code == 200, said.text
        valid(said.content)
    assert [await state_of(m) for m in sent] == ["DELIVERED", "NOT_DELIVERED", "ON_DELIVERY"]
    # a final state is not changed; only the recipient may say so
    again = await post_soap(pull_run, delivery_notification_request(
        sent[0], "PULL_Orders", accepted=False, at=now, sender=puller), ASYNC_SOAP_PATH)
    assert fault_code(again) == "Client.QueryInvalid"
    assert fault_code(await post_soap(pull_run, delivery_notification_request(
        sent[2], "PULL_Orders", accepted=True, at=now, sender=echo), ASYNC_SOAP_PATH)) == "Client.UnknownMessage"
    left = await post_soap(pull_run, get_messages_request("PULL_Orders", sender=puller), ASYNC_SOAP_PATH)
    assert [m["messageInfo"]["messageId"] for m in parse_async_response(left.content)[1]["messages"]] == [sent[2]]


async def test_the_trainers_flow_shows_soap_messages_with_the_verdict_at_receipt(echo_run):
    from egov_sim.trainer.flow import _messages

    correlation = str(uuid.uuid4())
    assert (await post_soap(echo_run, await soap_sync(echo_run, {"hello": "flow"}, correlation_id=correlation))).status_code == 200
    tampered = (await soap_sync(echo_run, {"hello": "x"}, correlation_id=correlation)).replace(b">x<", b">y<")
    assert fault_code(await post_soap(echo_run, tampered)) == "Client.SignatureInvalid"
    async with echo_run.client("gateway") as client:
        evidence = (await client.get("/v1/messages/evidence", params={"correlationId": correlation})).json()
    messages = _messages({"gateway": evidence["records"]}, [], {})
    answered = next(m for m in messages if m["status"] == "DELIVERED")
    assert answered["request"] == {"hello": "flow"} and answered["response"] == {"echo": {"hello": "flow"}}
    assert [(s["of"], s["signer"], s["verdict"], s["atReceipt"]) for s in answered["signatures"]] == [
        ("request", "echo", "VALID", True), ("response", "echo", "VALID", True)]
    assert all(s["serial"] for s in answered["signatures"])
    json.dumps(messages)


async def test_after_a_restart_a_repeated_soap_message_still_gets_its_first_answer(echo_run):
    from gateway_protocol.replay import ReplayGuard

    message_id = str(uuid.uuid4())
    body = await soap_sync(echo_run, {"n": "restart"}, message_id=message_id)
    first = await post_soap(echo_run, body)
    assert first.status_code == 200
    gateway = echo_run.apps["gateway"].state.gateway
    await gateway.log.flush()
    gateway.replay = ReplayGuard()  # what a restarted gateway has: its memory gone ...
    await gateway.recall_answers()  # ... and taken again from the log, as its start does
    again = await post_soap(echo_run, body)
    assert again.status_code == 200 and again.content == first.content
    logged = await gateway.log.query(message_id=message_id)
    assert [(r.kind, r.status) for r in logged] == [
        ("request", "RECEIVED"), ("response", "DELIVERED"), ("request", "REPLAYED")]  # the gateway answered it
