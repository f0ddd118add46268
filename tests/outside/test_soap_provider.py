"""Issue 17: an outside provider that speaks SOAP (gateway/soapadapter.py, `protocol: soap`).

A tester registers it with ``protocol="soap"``; the central gateway turns a JSON caller's request
into a SendMessage signed with the gateway's key (the sender's password left out, the sender's JWS
along in properties) and the provider's WS-Security signed answer into the JSON answer, signed by
the gateway, after checking it is the registered provider's. The provider here is an ASGI app
written in the test, checking what an integrator's provider would check.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request, Response

from egov_sim.outside import OutsideSystem, new_csr, register_provider
from gateway.soapadapter import (
    PASSWORD_PLACEHOLDER, json_answer_from, sender_content, sender_signature, soap_request_for,
)
from gateway_protocol.client import build_signed_request
from gateway_protocol.envelope import SignedRequest, signed_content
from gateway_protocol.errors import ErrorCode, GatewayFault
from gateway_protocol.soap import fault, parse_sync_request, success_info, sync_response, xml_schema
from signatures.identity import Identity
from signatures.jws import verify_detached
from signatures.validation import SignatureValidator
from signatures.xmldsig import sign_envelope

SERVICE = "ACME_SoapScore"
SOAP_PATH = "/bip-sync-wss-gost/"


def soap_provider(system: OutsideSystem, seen: list[dict[str, Any]], *, signer: Identity | None = None) -> FastAPI:
    """A SOAP provider as an integrator writes it: it takes a request only when the gateway signed
    it, checks the sender's JWS carried in properties, and answers WS-Security signed."""
    # the KeyIdentifier carries the signer's certificate only: the issuing CAs are the provider's to know
    validator = SignatureValidator(trusted_roots=system.roots, issuing_cas=system.identity.chain[1:], revocation=None)
    app = FastAPI()

    @app.post(SOAP_PATH)
    async def take(request: Request) -> Response:
        body = await request.body()
        parsed = parse_sync_request(body)
        info = parsed.info
        at = info.messageDate
        checked = await validator.xmldsig(body, at=at)
        token = sender_signature(info.properties)
        content = sender_content(token)
        header, _, signature = token.split(".")
        sender = verify_detached(f"{header}..{signature}", content, trusted_roots=system.roots, at=at)
        seen.append({"envelope_signer": (checked.verdict.signer or {}).get("common_name"), "valid": checked.valid,
                     "password": info.sender.password, "sender_signer": (sender.signer or {}).get("common_name"),
                     "sender_valid": sender.valid, "signed_info": content["requestInfo"], "data": parsed.data.value})
        if not checked.valid or (checked.verdict.signer or {}).get("common_name") != "gateway":
            refusal = GatewayFault(ErrorCode.SIGNATURE_INVALID, "not signed by the gateway")
            return Response(fault(refusal, "SendMessage", at=at), status_code=500, media_type="text/xml")
        iin = (parsed.data.value or {}).get("iin")
        if iin == "000000000000":
            refusal = GatewayFault(ErrorCode.PROVIDER_NOT_FOUND, f"no score for {iin}")
            return Response(fault(refusal, "SendMessage", at=at), status_code=500, media_type="text/xml")
        answer = sync_response(success_info(str(uuid.uuid4()), info.messageId, at),
                               {"iin": iin, "score": 712, "grades": [{"year": 2025}, {"year": 2026}]})
        return Response(sign_envelope(answer, signer or system.identity), media_type="text/xml")

    return app


@pytest.fixture
async def world(simulation):
    async with simulation.client("gateway") as gateway, simulation.client("signatures") as ca:
        system = await register_provider(gateway, ca, "acme_soap", [SERVICE], "http://127.0.0.1:9",
                                         csr=new_csr("acme_soap"), protocol="soap")
        config = (await gateway.get("/admin/config")).json()
    return simulation, system, config


async def json_request(simulation, data: dict[str, Any]) -> SignedRequest:
    portal = simulation.runtime("portal")
    return build_signed_request(portal.identity, sender_id="portal", password=portal.credentials.password_of("portal"),
                                service_id=SERVICE, data=data, message_date=await portal.now(),
                                properties={"purpose": "scoring"})


async def round_trip(simulation, app: FastAPI, signed: SignedRequest, provider: str = "acme_soap"):
    gateway = simulation.runtime("gateway")
    envelope = soap_request_for(signed, gateway.identity)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://acme") as client:
        reply = await client.post(SOAP_PATH, content=envelope, headers={"Content-Type": "text/xml; charset=utf-8"})
    return envelope, reply, await json_answer_from(reply.content, provider=provider, validator=gateway.validator,
                                                   at=await gateway.now(), gateway=gateway.identity)


async def test_a_json_request_reaches_a_soap_provider_and_its_answer_comes_back_as_json_signed_by_the_gateway(world):
    simulation, system, config = world
    assert config["services"][SERVICE] == {"system": "acme_soap", "url": "http://127.0.0.1:9", "regional": False,
                                           "protocol": "soap"}
    seen: list[dict[str, Any]] = []
    signed = await json_request(simulation, {"iin": "900515401230"})
    envelope, reply, (status, answer) = await round_trip(simulation, soap_provider(system, seen), signed)

    # what the provider got: the gateway's signature, no password, the sender's own signed request
    password = simulation.runtime("portal").credentials.password_of("portal")
    assert password.encode() not in envelope
    [got] = seen
    assert (got["envelope_signer"], got["valid"], got["password"]) == ("gateway", True, PASSWORD_PLACEHOLDER)
    assert (got["sender_signer"], got["sender_valid"]) == ("portal", True)
    assert got["signed_info"] == signed_content(signed.request)["requestInfo"]
    assert got["data"] == {"iin": "900515401230"}
    body = xml_schema()  # the adapted request validates against the interface's XSDs
    from lxml import etree
    wrapper = etree.fromstring(envelope).find("{http://schemas.xmlsoap.org/soap/envelope/}Body")[0]
    assert body.validate(wrapper), body.error_log

    # what the JSON caller gets: the provider's fields, signed by the gateway
    assert status == 200, answer
    assert answer["response"]["responseData"]["data"] == {
        "iin": "900515401230", "score": "712", "grades": [{"year": "2025"}, {"year": "2026"}]}
    assert answer["response"]["responseInfo"]["correlationId"] == signed.request.requestInfo.messageId
    portal = simulation.runtime("portal")
    verdict = await portal.validator.jws(answer["signature"], answer["response"], at=await portal.now())
    assert verdict.valid and verdict.signer["common_name"] == "gateway"
    assert json.dumps(answer)  # plain JSON


async def test_the_sender_signature_is_cut_into_properties_the_xsd_takes(world):
    simulation, system, _ = world
    signed = await json_request(simulation, {"iin": "900515401230", "note": "ә" * 2000})
    envelope = soap_request_for(signed, simulation.runtime("gateway").identity)
    info = parse_sync_request(envelope).info  # validated against the XSDs (value maxLength 500)
    keys = [p.key for p in info.properties]
    assert keys[0] == "purpose" and len(keys) > 3
    assert all(p.key.startswith("senderSignature.") and len(p.value) <= 500 for p in info.properties[1:])
    assert sender_content(sender_signature(info.properties))["requestData"]["data"]["note"] == "ә" * 2000


async def test_an_answer_not_signed_by_the_registered_provider_is_not_passed_on(world):
    simulation, system, _ = world
    stranger = simulation.runtime("portal").identity
    with pytest.raises(GatewayFault) as refused:
        await round_trip(simulation, soap_provider(system, [], signer=stranger), await json_request(
            simulation, {"iin": "900515401230"}))
    assert refused.value.code == "Server.ProviderResponseInvalid"
    assert refused.value.data["verdict"] == "SIGNER_NOT_PROVIDER" and refused.value.data["signer"] == "portal"


async def test_a_tampered_answer_and_one_that_is_no_soap_are_not_passed_on(world):
    simulation, system, _ = world
    gateway = simulation.runtime("gateway")
    _, reply, _ = await round_trip(simulation, soap_provider(system, []), await json_request(
        simulation, {"iin": "900515401230"}))
    tampered = reply.content.replace(b"<score>712</score>", b"<score>999</score>")
    assert tampered != reply.content
    for answer, verdict in ((tampered, "SIGNATURE_MISMATCH"), (b"{\"not\": \"xml\"}", None)):
        with pytest.raises(GatewayFault) as refused:
            await json_answer_from(answer, provider="acme_soap", validator=gateway.validator, at=await gateway.now(),
                                   gateway=gateway.identity)
        assert refused.value.code == "Server.ProviderResponseInvalid"
        if verdict:
            assert refused.value.data["verdict"] == verdict


async def test_the_providers_fault_is_passed_on_with_its_code(world):
    simulation, system, _ = world
    _, reply, (status, answer) = await round_trip(simulation, soap_provider(system, []), await json_request(
        simulation, {"iin": "000000000000"}))
    assert reply.status_code == 500
    assert status == 404 and answer["errorInfo"]["errorCode"] == "Provider.NotFound"


async def test_protocol_is_an_outside_providers_and_json_or_soap(simulation):
    async with simulation.client("gateway") as gateway:
        for body in ({"system": "registries", "protocol": "soap"},
                     {"system": "acme_x", "url": "http://127.0.0.1:9", "protocol": "xml"}):
            reply = await gateway.put(f"/admin/services/{SERVICE}", json=body)
            assert reply.status_code == 422, reply.text
        reply = await gateway.put(f"/admin/services/{SERVICE}", json={"system": "acme_x", "url": "http://127.0.0.1:9"})
        assert reply.status_code == 200, reply.text
        config = (await gateway.get("/admin/config")).json()
        assert "protocol" not in config["services"][SERVICE]  # JSON, as before
    from gateway.config import GatewayConfig
    parsed = GatewayConfig.model_validate(config)
    assert parsed.outside_protocol("acme_x") == "json" and parsed.outside_protocol("registries") is None


async def test_a_refusal_in_the_gateways_own_json_is_passed_on(world):
    """What an operator's fault switch answers in place of the provider (gateway/faults.py)."""
    simulation, _, _ = world
    gateway = simulation.runtime("gateway")
    at = await gateway.now()
    switched = json.dumps(GatewayFault(ErrorCode.PROVIDER_UNAVAILABLE, "acme_soap").to_body(at)).encode()
    status, answer = await json_answer_from(switched, provider="acme_soap", validator=gateway.validator, at=at,
                                            gateway=gateway.identity)
    assert (status, answer["errorInfo"]["errorCode"]) == (502, "Server.ProviderUnavailable")
    with pytest.raises(GatewayFault) as refused:
        await json_answer_from(b'{"response": {}}', provider="acme_soap", validator=gateway.validator, at=at,
                               gateway=gateway.identity)
    assert refused.value.code == "Server.ProviderResponseInvalid"
