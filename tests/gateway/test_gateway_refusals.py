"""The gateway refuses what it must, with its code, and delivers nothing it refused."""

from __future__ import annotations

import httpx
import pytest

from egov_sim.citizen import DEMO_CITIZEN, apply_on_portal
from egov_sim.citizen import ScenarioError
from gateway_protocol.client import build_signed_request
from gateway_protocol.envelope import SYNC_PATH


def _flip_one_byte(needle: bytes, replacement: bytes):
    """A man in the middle: alters one byte of the first envelope sent to the central gateway."""
    assert len(needle) == len(replacement)
    assert sum(a != b for a, b in zip(needle, replacement)) == 1
    seen: list[httpx.Request] = []

    def intercept(request: httpx.Request) -> httpx.Request | None:
        if request.url.port == 8702 and request.url.path == SYNC_PATH and not seen:
            body = request.content
            assert needle in body
            seen.append(request)
            return httpx.Request(
                request.method, request.url, headers=request.headers,
                content=body.replace(needle, replacement, 1),
            )
        return None

    return intercept, seen


async def _provider_cases(simulation) -> list:
    async with simulation.client("provider_ws") as provider:
        return (await provider.get("/api/cases")).json()


async def _gateway_log(simulation) -> list:
    async with simulation.client("gateway") as gateway:
        return (await gateway.get("/v1/messages")).json()


async def test_one_altered_byte_is_refused_and_nothing_is_delivered(simulation):
    # "socially-vulnerable" -> "socially-vulnerablE": the JSON stays valid, the signature does not.
    intercept, seen = _flip_one_byte(b'"socially-vulnerable"', b'"socially-vulnerablE"')
    simulation.transport.interceptors.append(intercept)
    with pytest.raises(ScenarioError) as refused:
        await apply_on_portal(simulation.client, "almaty-queue", DEMO_CITIZEN)
    assert seen, "the envelope never passed the man in the middle"
    assert "502" in str(refused.value)
    assert "Client.SignatureInvalid" in str(refused.value)
    assert await _provider_cases(simulation) == []
    [record] = await _gateway_log(simulation)
    assert record["status"] == "REFUSED"
    assert record["errorCode"] == "Client.SignatureInvalid"
    assert record["recipient"] is None
    async with simulation.client("control") as control:
        assert (await control.get("/timers")).json() == []


async def test_a_broken_envelope_is_refused_with_the_field(simulation):
    intercept, _ = _flip_one_byte(b'"serviceId"', b'"serviceIx"')
    simulation.transport.interceptors.append(intercept)
    with pytest.raises(ScenarioError) as refused:
        await apply_on_portal(simulation.client, "almaty-queue", DEMO_CITIZEN)
    assert "Client.EnvelopeInvalid" in str(refused.value)
    assert "serviceId" in str(refused.value)
    assert await _provider_cases(simulation) == []


async def _send(simulation, **overrides) -> httpx.Response:
    portal = simulation.runtime("portal")
    fields = {
        "sender_id": "portal",
        "password": portal.credentials.password_of("portal"),
        "service_id": "GBDFL_UniversalServiceSync",
        "data": {"iin": DEMO_CITIZEN.iin},
        "message_date": await portal.now(),
    }
    identity = overrides.pop("identity", portal.identity)
    fields.update(overrides)
    signed = build_signed_request(identity, **fields)
    async with simulation.client("gateway") as gateway:
        return await gateway.post(SYNC_PATH, json=signed.model_dump(mode="json", exclude_none=True))


async def test_a_valid_request_reaches_the_registry(simulation):
    reply = await _send(simulation)
    assert reply.status_code == 200, reply.text
    assert reply.json()["response"]["responseInfo"]["status"]["code"] == "SCSS001"
    assert reply.json()["response"]["responseData"]["data"]["person"]["iin"] == DEMO_CITIZEN.iin


@pytest.mark.parametrize(
    ("overrides", "status", "code"),
    [
        ({"sender_id": "nobody"}, 403, "Client.UnknownSender"),
        ({"password": "wrong"}, 403, "Client.AuthenticationFailed"),
        ({"service_id": "NoSuchService"}, 404, "Client.UnknownService"),
        ({"service_id": "EPORTAL_CabinetDelivery"}, 403, "Client.AccessDenied"),
        ({"service_id": "HousingQueueRegistration", "route_id": "mars"}, 404, "Client.UnknownRoute"),
        ({"data": {"iin": "900515401231"}}, 400, "Provider.RequestInvalid"),
        ({"data": {"iin": "85110230457"}}, 400, "Provider.RequestInvalid"),
    ],
)
async def test_refusals_carry_their_code(simulation, overrides, status, code):
    reply = await _send(simulation, **overrides)
    assert reply.status_code == status, reply.text
    info = reply.json()["errorInfo"]
    assert info["errorCode"] == code
    assert info["errorData"]["message_kk"]
    assert info["errorData"]["message_ru"]


async def test_a_signer_who_is_not_the_sender_is_refused(simulation):
    registries_identity = simulation.runtime("registries").identity
    reply = await _send(simulation, identity=registries_identity)
    assert reply.status_code == 403
    assert reply.json()["errorInfo"]["errorCode"] == "Client.SignatureInvalid"
    assert reply.json()["errorInfo"]["errorData"]["verdict"] == "SIGNER_NOT_SENDER"


async def test_unknown_person_is_not_found_not_unavailable(simulation):
    from simulation.identifiers import make_iin
    from datetime import date

    reply = await _send(simulation, data={"iin": make_iin(date(1999, 1, 1), 1, 4242)})
    assert reply.status_code == 404
    assert reply.json()["errorInfo"]["errorCode"] == "Provider.NotFound"


async def test_garbage_is_refused_without_a_server_error(simulation):
    async with simulation.client("gateway") as gateway:
        for body in (b"", b"not json", b"[]", b'{"request": 5, "signature": ""}'):
            reply = await gateway.post(SYNC_PATH, content=body)
            assert reply.status_code == 400, body
            assert reply.json()["errorInfo"]["errorCode"] == "Client.EnvelopeInvalid"


async def test_a_revoked_signer_is_refused(simulation):
    serial = format(simulation.runtime("portal").identity.certificate.serial_number, "x")
    async with simulation.client("signatures") as ca:
        await ca.post(f"/v1/certificates/{serial}/revoke", json={"reason": "keyCompromise"})
    reply = await _send(simulation)
    assert reply.status_code == 403
    info = reply.json()["errorInfo"]
    assert info["errorCode"] == "Client.SignatureInvalid"
    assert info["errorData"]["verdict"] == "REVOKED"
    assert "keyCompromise" in info["errorMessage"]


async def test_an_expired_signer_is_refused(simulation):
    from simulation.calendar import Duration

    await simulation.runtime("control").clock.advance(Duration.parse("1200 calendar days"))
    reply = await _send(simulation)
    assert reply.status_code == 403
    assert reply.json()["errorInfo"]["errorData"]["verdict"] == "CERT_EXPIRED"
