"""Issue 14, points 8 and 9: a body over ``max_body_bytes`` is answered 413 before it is read whole
(nothing reaches a handler or the message log), and a JSON endpoint answers a body of another
type 415 naming the type it takes -- the sync channel's fast lane as every other route; an
endpoint that takes another type (the CA's OCSP responder) still takes it."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509 import ocsp

from egov_sim.inprocess import Simulation
from gateway.service import MAX_ENVELOPE_BYTES
from gateway_protocol.client import build_signed_request
from gateway_protocol.envelope import ASYNC_PATH, SYNC_PATH
from simulation import bodies
from simulation.settings import Settings
from tests.conftest import RUN_SCHEMAS, WORKING_MONDAY

LIMIT = 64 * 1024


@pytest.fixture
async def limited(tmp_path) -> AsyncIterator[Simulation]:
    from simulation.database import drop_run

    settings = Settings(data_dir=tmp_path / "run", population_size=0, clock_start=WORKING_MONDAY,
                        max_body_bytes=LIMIT)
    async with Simulation(settings) as running:
        yield running
    await drop_run(settings, RUN_SCHEMAS)


async def _logged(simulation: Simulation, message_id: str) -> list:
    async with simulation.client("gateway") as gateway:
        reply = await gateway.get("/v1/messages", params={"messageId": message_id, "kind": "all"})
    assert reply.status_code == 200, reply.text
    return reply.json()


async def _oversized_envelope(simulation: Simulation) -> tuple[str, bytes]:
    """A well-formed signed envelope from an unknown sender, padded past the limit: what a
    gateway refuses (and logs) when it reads it."""
    portal = simulation.runtime("portal")
    signed = build_signed_request(
        portal.identity, sender_id="nobody", password="x" * 12, service_id="GBDFL_UniversalServiceSync",
        data={"padding": "а" * LIMIT}, message_date=await portal.now(),
    )
    body = signed.model_dump_json(exclude_none=True).encode()
    assert len(body) > LIMIT
    return signed.request.requestInfo.messageId, body


def _names_the_limit(reply) -> None:
    assert reply.status_code == 413, reply.text
    body = reply.json()
    assert body["error"] == "body_too_large" and body["limit"] == LIMIT
    assert body["setting"] == "EGOV_SIM_MAX_BODY_BYTES" and str(LIMIT) in body["message"]
    assert body["message_kk"] and body["message_ru"]


async def test_an_envelope_over_the_limit_is_refused_413_and_not_logged(limited):
    message_id, body = await _oversized_envelope(limited)
    async with limited.client("gateway") as gateway:
        for path in (SYNC_PATH, ASYNC_PATH + "/sendMessage"):
            _names_the_limit(await gateway.post(path, content=body, headers={"Content-Type": "application/json"}))

            async def streamed():  # no Content-Length: refused once the stream passes the limit
                for start in range(0, len(body), 8192):
                    yield body[start:start + 8192]

            _names_the_limit(await gateway.post(path, content=streamed(), headers={"Content-Type": "application/json"}))
    assert await _logged(limited, message_id) == []
    # the same envelope within the limit reaches the gateway, which refuses and logs it
    small = json.loads(body)
    small["request"]["requestData"]["data"]["padding"] = "а"
    async with limited.client("gateway") as gateway:
        refused = await gateway.post(SYNC_PATH, json=small)
    assert refused.status_code != 413 and "errorInfo" in refused.json()


async def test_a_body_over_the_limit_is_refused_413_at_any_system(limited):
    async with limited.client("control") as control:
        before = (await control.get("/clock")).json()["now"]
        huge = json.dumps({"by": "1 hour", "padding": "x" * LIMIT}).encode()
        _names_the_limit(await control.post("/clock/advance", content=huge,
                                            headers={"Content-Type": "application/json"}))

        async def streamed():
            yield huge[:1000]
            yield huge[1000:]

        _names_the_limit(await control.post("/clock/advance", content=streamed(),
                                            headers={"Content-Type": "application/json"}))
        assert (await control.get("/clock")).json()["now"] == before  # the handler never ran
        # within the limit, streamed or not, the request is served
        moved = await control.post("/clock/advance", content=streamed_of(b'{"by": "1 hour"}'),
                                   headers={"Content-Type": "application/json"})
        assert moved.status_code == 200 and moved.json()["now"] > before
    async with limited.client("portal", role=None) as portal:
        _names_the_limit(await portal.post("/api/accounts", json={"iin": "9" * LIMIT, "password": "x"}))


def streamed_of(content: bytes):
    async def chunks():
        yield content[:5]
        yield content[5:]

    return chunks()


async def test_a_json_endpoint_refuses_another_content_type_415(limited):
    message_id, body = await _oversized_envelope(limited)
    small = json.loads(body)
    small["request"]["requestData"]["data"]["padding"] = "а"
    envelope = json.dumps(small).encode()
    async with limited.client("gateway") as gateway:
        for path in (SYNC_PATH, ASYNC_PATH + "/sendMessage"):
            for wrong in ("text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"):
                reply = await gateway.post(path, content=envelope, headers={"Content-Type": wrong})
                assert reply.status_code == 415, (path, wrong, reply.text)
                assert reply.json()["error"] == "unsupported_media_type"
                assert reply.json()["expected"] == ["application/json"] and reply.json()["contentType"] == wrong
                assert reply.json()["message_kk"] and reply.json()["message_ru"]
    assert await _logged(limited, message_id) == []
    async with limited.client("control") as control:
        before = (await control.get("/clock")).json()["now"]
        reply = await control.post("/clock/advance", content=b'{"by": "1 hour"}', headers={"Content-Type": "text/plain"})
        assert reply.status_code == 415 and "application/json" in reply.json()["message"]
        assert (await control.get("/clock")).json()["now"] == before
        for good in ("application/json", "application/json; charset=utf-8", "application/vnd.egov+json"):
            reply = await control.post("/clock/advance", content=b'{"by": "1 minute"}', headers={"Content-Type": good})
            assert reply.status_code == 200, (good, reply.text)
    async with limited.client("gateway") as gateway:  # a body-less route declares no type to keep
        assert (await gateway.delete("/admin/faults", headers={"Content-Type": "text/plain"})).status_code == 200


async def test_the_ocsp_responder_still_takes_its_own_type(limited):
    identity = limited.runtime("gateway").identity
    request = ocsp.OCSPRequestBuilder().add_certificate(
        identity.certificate, identity.chain[1], hashes.SHA1()).build()
    async with limited.client("signatures", role=None) as ca:
        reply = await ca.post("/v1/ocsp", content=request.public_bytes(serialization.Encoding.DER),
                              headers={"Content-Type": "application/ocsp-request"})
    assert reply.status_code == 200, reply.text
    assert reply.headers["content-type"] == "application/ocsp-response"
    answer = ocsp.load_der_ocsp_response(reply.content)
    assert answer.response_status == ocsp.OCSPResponseStatus.SUCCESSFUL
    assert answer.certificate_status == ocsp.OCSPCertStatus.GOOD


def test_the_default_limit_leaves_the_gateway_its_own_envelope_rule():
    assert Settings().max_body_bytes > MAX_ENVELOPE_BYTES  # a message just over it: Client.EnvelopeInvalid


@pytest.mark.parametrize(("declared", "given", "ok"), [
    (["application/json"], "application/json", True),
    (["application/json"], "Application/JSON; charset=UTF-8", True),
    (["application/json"], "application/problem+json", True),
    (["application/json"], "text/plain", False),
    (["application/json"], "text/json", False),
    (["application/json"], "application/jsonp", False),
    (["application/ocsp-request"], "application/ocsp-request", True),
    (["application/ocsp-request"], "application/json", False),
    ([], "text/plain", True),
])
def test_which_content_types_an_endpoint_takes(declared, given, ok):
    assert bodies.accepts(declared, given) is ok
