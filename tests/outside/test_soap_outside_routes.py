"""Review 2 of the gateway's SOAP path: a client's SOAP request for an OUTSIDE provider a tester
registered. Its signed Body holds the sender's password, so it never goes as it came: to a SOAP
provider the gateway sends it made again (password ``***``, signed by the gateway, the data as it
came) and passes the provider's signed answer on as the provider signed it; to a provider that
takes JSON only it is refused before anything is sent (``Client.UnknownRoute``).
"""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import FastAPI, Request, Response

from egov_sim.outside import OutsideSystem, grant, new_csr, register_provider
from gateway_protocol.envelope import RequestInfo, Sender
from gateway_protocol.soap import (
    SYNC_SOAP_PATH, parse_fault, parse_sync_request, parse_sync_response, success_info, sync_request, sync_response,
)
from signatures.validation import SignatureValidator
from signatures.xmldsig import sign_envelope
from tests.outside.test_soap_client import serving

SERVICE = "ACME_SoapScore"
SOAP = {"Content-Type": "text/xml; charset=utf-8"}
DOCUMENT = ('<?xml version="1.0" encoding="UTF-8"?><ns2:Request xmlns:ns2="http://message.persistence.interactive.nat">'
            "<iin>900515401230</iin><note>SendMessage &lt;password&gt;</note></ns2:Request>")


def recording_provider(system: OutsideSystem, seen: list[dict[str, Any]]) -> FastAPI:
    """A SOAP provider that keeps what it got and answers WS-Security signed with its own key."""
    validator = SignatureValidator(trusted_roots=system.roots, issuing_cas=system.identity.chain[1:], revocation=None)
    app = FastAPI()

    @app.post(SYNC_SOAP_PATH)
    async def take(request: Request) -> Response:
        body = await request.body()
        parsed = parse_sync_request(body)
        checked = await validator.xmldsig(body, at=parsed.info.messageDate)
        seen.append({"body": body, "info": parsed.info, "data": parsed.data, "valid": checked.valid,
                     "signer": (checked.verdict.signer or {}).get("common_name")})
        answer = sync_response(success_info(str(uuid.uuid4()), parsed.info.messageId, parsed.info.messageDate),
                               {"score": 712})
        return Response(sign_envelope(answer, system.identity), media_type="text/xml")

    return app


def any_hit(hits: list[str]) -> FastAPI:
    """A JSON-only provider that only counts what reaches it, at any path."""
    async def app(scope, receive, send):
        if scope["type"] != "http":
            return
        hits.append(scope["path"])
        await send({"type": "http.response.start", "status": 404, "headers": []})
        await send({"type": "http.response.body", "body": b""})
    return app


async def soap_request(simulation, *, data: Any, form: str = "elements") -> tuple[bytes, RequestInfo, str]:
    portal = simulation.runtime("portal")
    password = portal.credentials.password_of("portal")
    info = RequestInfo(messageId=str(uuid.uuid4()), serviceId=SERVICE, messageDate=await portal.now(),
                       sender=Sender(senderId="portal", password=password))
    return sign_envelope(sync_request(info, data, data_form=form), portal.identity), info, password


async def test_a_soap_request_reaches_an_outside_soap_provider_without_the_password(simulation):
    seen: list[dict[str, Any]] = []
    async with simulation.client("gateway") as gateway, simulation.client("signatures") as ca:
        holder: dict[str, Any] = {}

        async def late(scope, receive, send):  # the provider's app, once its certificate is known
            await holder["app"](scope, receive, send)

        async with serving(late) as url:
            system = await register_provider(gateway, ca, "acme_soap", [SERVICE], url, csr=new_csr("acme_soap"),
                                             protocol="soap")
            holder["app"] = recording_provider(system, seen)
            await grant(gateway, "portal", [SERVICE])
            for form, data in (("string", DOCUMENT), ("elements", {"iin": "900515401230", "list": ["a", "b"]})):
                seen.clear()
                body, info, password = await soap_request(simulation, data=data, form=form)
                reply = await gateway.post(SYNC_SOAP_PATH, content=body, headers=SOAP)
                assert reply.status_code == 200, reply.text
                [got] = seen
                # the provider never sees the sender's password, nor the sender's own envelope
                assert password.encode() not in got["body"] and got["info"].sender.password == "***"
                assert got["body"] != body and got["valid"] and got["signer"] == "gateway"
                assert (got["info"].messageId, got["info"].serviceId, got["info"].sender.senderId) == (
                    info.messageId, SERVICE, "portal")
                # the data as it came: a document in xs:string stays one, elements stay elements
                sent = parse_sync_request(body).data
                assert got["data"].value == sent.value and got["data"].document == sent.document
                assert got["data"].xsi_type == sent.xsi_type
                # the caller gets the provider's answer as the provider signed it
                verdict = await simulation.runtime("portal").validator.xmldsig(
                    reply.content, at=await simulation.runtime("portal").now())
                assert verdict.valid and verdict.verdict.signer["common_name"] == "acme_soap"
                assert parse_sync_response(reply.content).data.value == {"score": "712"}


async def test_a_soap_request_for_an_outside_json_provider_is_refused_before_anything_is_sent(simulation):
    hits: list[str] = []
    async with simulation.client("gateway") as gateway, simulation.client("signatures") as ca:
        async with serving(any_hit(hits)) as url:
            await register_provider(gateway, ca, "acme_json", [SERVICE], url, csr=new_csr("acme_json"))
            await grant(gateway, "portal", [SERVICE])
            body, info, _ = await soap_request(simulation, data={"iin": "900515401230"})
            reply = await gateway.post(SYNC_SOAP_PATH, content=body, headers=SOAP)
            assert reply.status_code == 500, reply.text
            refusal = parse_fault(reply.content)
            assert refusal is not None and refusal.code == "Client.UnknownRoute"
            assert "JSON channel only" in refusal.detail and "/bip/sync/v10" in refusal.detail
            assert "acme_json" in refusal.detail and SERVICE in refusal.detail
            assert hits == []  # nothing reached the provider
            rows = await simulation.apps["gateway"].state.gateway.log.query(message_id=info.messageId)
            assert any(r.error_code == "Client.UnknownRoute" for r in rows)
