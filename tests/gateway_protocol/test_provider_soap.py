"""Issue 17: providers answer SOAP callers (gateway_protocol/provider.py at SYNC_SOAP_PATH).

A provider behind a (here: test-signed) gateway hop takes a WS-Security signed SOAP request through
the same checks as a JSON one -- hop, sender's signature, signer is the sender, date, service,
replay -- and answers a signed SendMessageResponse that validates against the interface's XSDs,
with the same fields as its JSON answer; refusals are SOAP faults with the catalogue's codes.
"""

from __future__ import annotations

import base64
import json
import uuid
from datetime import timedelta
from typing import Any

import httpx
import pytest
from lxml import etree
from sqlmodel import select

from egov_sim.citizen import DEMO_CITIZEN
from egov_sim.given import give_certificate
from egov_sim.inprocess import Simulation
from gateway_protocol.client import build_signed_request
from gateway_protocol.envelope import SYNC_PATH, RequestInfo, Sender
from gateway_protocol.hops import sign_hop
from gateway_protocol.replay import HopRecord
from gateway_protocol.soap import (
    SOAP_ENV, SYNC_SOAP_PATH, async_send_request, parse_fault, parse_sync_response, sync_request, xml_schema,
)
from signatures.cms import sign_cms
from signatures.jws import canonical_json
from signatures.xmldsig import sign_envelope
from simulation.database import drop_run
from simulation.settings import Settings
from simulation.topology import SYSTEMS

WORKING_MONDAY = "2026-11-02T10:00:00+05:00"
GBDFL = "GBDFL_UniversalServiceSync"


@pytest.fixture
async def run(tmp_path):
    settings = Settings(data_dir=tmp_path / "run", population_size=200, seed_people=False, clock_start=WORKING_MONDAY)
    simulation = Simulation(settings, extra=("echo",))
    simulation.systems = ("control", "signatures", "gateway", "registries", "portal", "echo")
    async with simulation:
        yield simulation
    await drop_run(settings, (*SYSTEMS, "simulation"))


async def soap_request(run: Simulation, sender: str = "portal", *, service_id: str = GBDFL, data: Any = None,
                       message_id: str | None = None, signer: str | None = None, form: str = "elements",
                       message_type: str | None = None, message_date=None) -> bytes:
    runtime = run.runtime(sender)
    info = RequestInfo(
        messageId=message_id or str(uuid.uuid4()), serviceId=service_id,
        messageDate=message_date or await runtime.now(),
        sender=Sender(senderId=sender, password=runtime.credentials.password_of(sender)),
        messageType=message_type,
    )
    data = {"iin": DEMO_CITIZEN.iin} if data is None else data
    envelope = async_send_request(info, data, data_form=form) if message_type else \
        sync_request(info, data, data_form=form)
    return sign_envelope(envelope, run.runtime(signer or sender).identity)


async def deliver(run: Simulation, body: bytes, target: str = "registries", *, hop: bool = True,
                  path: str = SYNC_SOAP_PATH, content_type: str = "text/xml; charset=utf-8") -> httpx.Response:
    """``body`` handed to ``target`` as the central gateway hands it (its hop signed with its key)."""
    gateway = run.runtime("gateway")
    headers = {"Content-Type": content_type}
    if hop:
        headers.update(sign_hop(gateway.identity, "gateway", target, body, await gateway.now()))
    async with run.client(target, role=None) as client:
        return await client.post(path, content=body, headers=headers)


def assert_valid(message: bytes) -> etree._Element:
    """The Body's one element (the answer's wrapper, or the fault's detail entry) validates against the XSDs."""
    body = etree.fromstring(message).find(f"{{{SOAP_ENV}}}Body")
    (child,) = list(body)
    if child.tag == f"{{{SOAP_ENV}}}Fault":
        (child,) = list(child.find("detail"))
    schema = xml_schema()
    assert schema.validate(child), schema.error_log
    return child


def fault_of(reply: httpx.Response, code: str) -> dict[str, Any]:
    assert reply.status_code == 500, reply.text
    assert reply.headers["content-type"].startswith("text/xml")
    assert_valid(reply.content)
    fault = parse_fault(reply.content)
    assert fault is not None and fault.code == code, reply.text
    assert DEMO_CITIZEN.iin not in reply.text or code == "Client.EnvelopeInvalid"
    return fault.data


async def verified_answer(run: Simulation, reply: httpx.Response, provider: str = "registries") -> Any:
    """The data of a signed SOAP answer, after its signature verified as ``provider``'s."""
    assert reply.status_code == 200, reply.text
    assert reply.headers["content-type"].startswith("text/xml")
    assert_valid(reply.content)
    verdict = await run.runtime("gateway").validator.xmldsig(reply.content, at=await run.runtime("gateway").now())
    assert verdict.valid, verdict.verdict.message
    assert verdict.verdict.signer["common_name"] == provider
    return parse_sync_response(reply.content)


async def hop_log(run: Simulation, system: str) -> list[HopRecord]:
    async with run.runtime(system).db.session() as session:
        return list((await session.exec(select(HopRecord).order_by(HopRecord.id))).all())


def as_xml_text(value: Any) -> Any:
    """What a JSON value reads as once it went through XML (no types: numbers and booleans are
    text, an empty list is no element, a list of one is its one value; None stays None)."""
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if isinstance(item, list) and not item:
                continue
            out[key] = as_xml_text(item)
        return out
    if isinstance(value, list):
        items = [as_xml_text(item) for item in value]
        return items[0] if len(items) == 1 else items
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return None
    return str(value)


# ---- answered ----------------------------------------------------------------------------------


async def test_gbdfl_over_soap_answers_the_fields_it_answers_over_json_signed_by_the_registry(run):
    body = await soap_request(run)
    answer = await verified_answer(run, await deliver(run, body))
    assert answer.info.status.code == "SCSS001"

    portal = run.runtime("portal")
    signed = build_signed_request(
        portal.identity, sender_id="portal", password=portal.credentials.password_of("portal"), service_id=GBDFL,
        data={"iin": DEMO_CITIZEN.iin}, message_date=await portal.now())
    json_body = json.dumps(signed.model_dump(mode="json", exclude_none=True)).encode()
    reply = await deliver(run, json_body, path=SYNC_PATH, content_type="application/json")
    assert reply.status_code == 200, reply.text
    over_json = reply.json()["response"]["responseData"]["data"]

    assert over_json["person"]["iin"] == DEMO_CITIZEN.iin
    assert answer.data.value["person"]["iin"] == DEMO_CITIZEN.iin
    assert answer.data.value == as_xml_text(over_json)
    [first, second] = await hop_log(run, "registries")
    assert (first.hop, first.sender_id, first.signer, first.verdict) == ("gateway", "portal", "portal", "ACCEPTED")
    assert second.verdict == "ACCEPTED"


async def test_an_escaped_xml_document_in_data_as_integrators_send_it_is_answered(run):
    document = {"Request": {"messageId": str(uuid.uuid4()), "messageDate": "2026-11-02T10:00:00+05:00",
                            "senderCode": "portal", "iin": DEMO_CITIZEN.iin}}
    body = await soap_request(run, data=document, form="string")
    assert b'xsi:type="xs:string"' in body and b"&lt;Request&gt;" in body
    answer = await verified_answer(run, await deliver(run, body))
    assert answer.data.value["person"]["iin"] == DEMO_CITIZEN.iin


async def test_an_async_send_message_delivered_over_soap_is_taken_without_the_sync_date_check(run):
    old = await run.runtime("echo").now() - timedelta(hours=2)  # waited in the gateway's store
    body = await soap_request(run, "echo", service_id="ECHO_Central", data={"n": "1"}, message_type="REQUEST",
                              message_date=old)
    answer = await verified_answer(run, await deliver(run, body, "echo"), "echo")
    assert answer.data.value == {"echo": {"n": "1"}}
    # the same, dated so, as a sync SendMessage is out of range
    sync = await soap_request(run, "echo", service_id="ECHO_Central", data={"n": "1"}, message_date=old)
    fault_of(await deliver(run, sync, "echo"), "Client.MessageDateOutOfRange")


# ---- refused -------------------------------------------------------------------------------------


async def test_a_tampered_body_is_a_signature_fault(run):
    body = await soap_request(run)
    tampered = body.replace(DEMO_CITIZEN.iin.encode(), b"870914300732")
    assert tampered != body
    data = fault_of(await deliver(run, tampered), "Client.SignatureInvalid")
    assert data["verdict"] == "SIGNATURE_MISMATCH"
    [logged] = await hop_log(run, "registries")
    assert (logged.sender_id, logged.signer, logged.verdict) == ("portal", None, "Client.SignatureInvalid")


async def test_a_request_signed_by_another_system_than_its_sender_is_refused(run):
    body = await soap_request(run, "portal", signer="echo")
    data = fault_of(await deliver(run, body), "Client.SignatureInvalid")
    assert data["verdict"] == "SIGNER_NOT_SENDER"


async def test_an_unsigned_request_and_one_without_a_gateways_hop_are_refused(run):
    portal = run.runtime("portal")
    info = RequestInfo(messageId=str(uuid.uuid4()), serviceId=GBDFL, messageDate=await portal.now(),
                       sender=Sender(senderId="portal", password="x"))
    data = fault_of(await deliver(run, sync_request(info, {"iin": DEMO_CITIZEN.iin})), "Client.SignatureInvalid")
    assert data["verdict"] == "MALFORMED"
    data = fault_of(await deliver(run, await soap_request(run), hop=False), "Client.HopNotTrusted")
    assert data["check"] == "no hop"


async def test_an_unknown_service_and_a_broken_envelope_get_their_faults(run):
    fault_of(await deliver(run, await soap_request(run, service_id="NO_SuchService")), "Provider.UnknownService")
    reply = await deliver(run, b"<soap:Envelope xmlns:soap='http://schemas.xmlsoap.org/soap/envelope/'>"
                               b"<soap:Body><x/></soap:Body></soap:Envelope>")
    fault_of(reply, "Client.EnvelopeInvalid")


async def test_a_provider_refusal_is_a_soap_fault_with_its_code(run):
    body = await soap_request(run, data={"iin": "000000000000"})
    data = fault_of(await deliver(run, body), "Provider.RequestInvalid")
    assert data["field"] == "iin"


async def test_a_repeat_gets_the_first_answer_and_after_the_window_a_replay_fault(run):
    message_id = str(uuid.uuid4())
    body = await soap_request(run, message_id=message_id)
    first = await deliver(run, body)
    again = await deliver(run, body)  # a new hop (the gateway's retry), the same message
    assert first.status_code == again.status_code == 200
    assert again.content == first.content
    # the same messageId over JSON gets the same response, signed for JSON
    portal = run.runtime("portal")
    signed = build_signed_request(
        portal.identity, sender_id="portal", password=portal.credentials.password_of("portal"), service_id=GBDFL,
        data={"iin": DEMO_CITIZEN.iin}, message_date=await portal.now(), message_id=message_id)
    reply = await deliver(run, json.dumps(signed.model_dump(mode="json", exclude_none=True)).encode(),
                          path=SYNC_PATH, content_type="application/json")
    assert reply.status_code == 200, reply.text
    soap_first = parse_sync_response(first.content)
    assert reply.json()["response"]["responseInfo"]["messageId"] == soap_first.info.messageId
    verdict = await portal.validator.jws(reply.json()["signature"], reply.json()["response"], at=await portal.now())
    assert verdict.valid and verdict.signer["common_name"] == "registries"
    assert [r.verdict for r in await hop_log(run, "registries")] == ["ACCEPTED", "REPLAYED", "REPLAYED"]

    async with run.client("control") as control:
        assert (await control.post("/clock/advance", json={"by": "1 hour"})).status_code == 200
    late = await soap_request(run, message_id=message_id)  # dated now: only the replay rule refuses it
    fault_of(await deliver(run, late), "Client.MessageReplayed")


# ---- the registries' other services over SOAP ----------------------------------------------------


async def test_a_consent_recorded_over_soap_opens_the_incomes_registry_over_soap(run):
    """CONSENT_Record takes its lists as one element each and the evidence as its JSON text (the
    signature covers canonical JSON, which XML elements cannot give back); the reference it
    gives is then accepted by GCVP_IncomesAndStatus, asked over SOAP as well."""
    async with run.client("signatures") as ca:
        citizen = await give_certificate(ca, DEMO_CITIZEN)
    document = {"applicant": {"iin": DEMO_CITIZEN.iin}, "form": {"consent": True}}
    now = await run.runtime("portal").now()
    signature = base64.b64encode(sign_cms(canonical_json(document), citizen.key, citizen.chain, at=now,
                                          detached=True)).decode()
    record = {"subjectIin": DEMO_CITIZEN.iin, "coveredIins": DEMO_CITIZEN.iin, "services": "GCVP_IncomesAndStatus",
              "purpose": "soap test", "document": json.dumps(document), "signature": signature}
    answer = await verified_answer(run, await deliver(run, await soap_request(
        run, service_id="CONSENT_Record", data=record)))
    consent = answer.data.value
    assert consent["consentRef"].startswith("CNS-")
    assert (consent["services"], consent["coveredIins"], consent["grantedTo"]) == (
        "GCVP_IncomesAndStatus", DEMO_CITIZEN.iin, "portal")

    incomes = await verified_answer(run, await deliver(run, await soap_request(
        run, service_id="GCVP_IncomesAndStatus", data={"iin": DEMO_CITIZEN.iin, "consentRef": consent["consentRef"]})))
    assert incomes.data.value["iin"] == DEMO_CITIZEN.iin
    fault_of(await deliver(run, await soap_request(run, service_id="GCVP_IncomesAndStatus",
                                                   data={"iin": DEMO_CITIZEN.iin})), "Provider.ConsentRequired")
    # a document that is neither an object nor JSON text is named
    broken = {**record, "document": "<not json>"}
    data = fault_of(await deliver(run, await soap_request(run, service_id="CONSENT_Record", data=broken)),
                    "Provider.RequestInvalid")
    assert data["field"] == "document"


@pytest.mark.parametrize("service_id, data, field", [
    ("ENIS_PowerOfAttorneyCheck", {"number": "NO-SUCH-1", "principalIin": DEMO_CITIZEN.iin,
                                   "attorneyIin": DEMO_CITIZEN.iin, "serviceId": GBDFL}, "status"),
    ("AR_AddressRegistrationHistory", {"iin": DEMO_CITIZEN.iin}, "addresses"),
    ("GBDRN_RealEstateRights", {"iin": DEMO_CITIZEN.iin, "consentRef": "declared-on-paper"}, "owns"),
    ("KZHF_CommunalTenancy", {"iin": DEMO_CITIZEN.iin}, "iin"),
])
async def test_the_other_registries_answer_over_soap_as_over_json(run, service_id, data, field):
    portal = run.runtime("portal")
    soap = await deliver(run, await soap_request(run, service_id=service_id, data=data))
    signed = build_signed_request(
        portal.identity, sender_id="portal", password=portal.credentials.password_of("portal"), service_id=service_id,
        data=data, message_date=await portal.now())
    reply = await deliver(run, json.dumps(signed.model_dump(mode="json", exclude_none=True)).encode(),
                          path=SYNC_PATH, content_type="application/json")
    if reply.status_code != 200:  # refused over JSON: refused over SOAP with the same code
        fault_of(soap, reply.json()["errorInfo"]["errorCode"])
        return
    over_json = reply.json()["response"]["responseData"]["data"]
    over_soap = (await verified_answer(run, soap)).data.value
    assert field in over_json
    assert over_soap == as_xml_text(over_json)
