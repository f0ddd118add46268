"""Issue 14, point 5: an answer is passed on only when the provider registered for the service
signed it, with a key that is not revoked."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest
from sqlmodel import select

from egov_sim.citizen import DEMO_CITIZEN
from egov_sim.inprocess import Simulation
from gateway.models import LogRecord
from gateway_protocol.client import build_signed_request
from gateway_protocol.envelope import SYNC_PATH, SignedRequest
from gateway_protocol.provider import sign_response
from simulation.database import drop_run
from simulation.settings import Settings
from simulation.topology import SYSTEMS

FORGED = {"person": {"iin": DEMO_CITIZEN.iin, "surname": "FORGED"}}
CEILING = 60.0
"""Seconds a test waits for a log record before calling it missing (never a timing assertion)."""


async def gateway_records(run: Simulation, message_id: str) -> list[LogRecord]:
    """The central gateway's log records of ``message_id``, once its answer is logged."""
    deadline = asyncio.get_running_loop().time() + CEILING
    while True:
        async with run.runtime("gateway").db.session() as session:
            rows = list((await session.exec(select(LogRecord).where(LogRecord.message_id == message_id))).all())
        if any(r.kind == "response" for r in rows):
            return rows
        assert asyncio.get_running_loop().time() < deadline, f"no answer logged of {message_id}"
        await asyncio.sleep(0.05)


@pytest.fixture
async def run(tmp_path):
    settings = Settings(data_dir=tmp_path / "run", population_size=200, seed_people=False,
                        clock_start="2026-11-02T10:00:00+05:00")
    simulation = Simulation(settings, extra=("echo",))
    simulation.systems = ("signatures", "gateway", "gateway-almaty", "registries", "portal", "echo")
    async with simulation:
        yield simulation
    await drop_run(settings, (*SYSTEMS, "simulation"))


async def ask(run: Simulation, service_id: str = "GBDFL_UniversalServiceSync", sender: str = "portal",
              **fields) -> tuple[str, httpx.Response]:
    runtime = run.runtime(sender)
    signed = build_signed_request(
        runtime.identity, sender_id=sender, password=runtime.credentials.password_of(sender), service_id=service_id,
        data=fields.pop("data", {"iin": DEMO_CITIZEN.iin}), message_date=await runtime.now(), **fields,
    )
    async with run.client("gateway", role=None) as gateway:
        reply = await gateway.post(SYNC_PATH, json=signed.model_dump(mode="json", exclude_none=True))
    return signed.request.requestInfo.messageId, reply


def answering_as(run: Simulation, system: str, signer: str) -> None:
    """Put a listener in ``system``'s place that answers every request signed by ``signer``'s
    CA-issued key (a system the CA did certify, but not the service's provider)."""
    identity = run.runtime(signer).identity

    async def answer(request: httpx.Request) -> httpx.Response:
        info = SignedRequest.model_validate_json(request.content).request.requestInfo
        return httpx.Response(200, json=sign_response(identity, info, FORGED, await run.runtime(signer).now()))

    url = httpx.URL(run.settings.url_of(system))
    run.transport._routes[(url.host, url.port or 80)] = httpx.MockTransport(answer)


async def test_an_answer_signed_by_echo_for_a_service_echo_does_not_serve_is_not_passed_on(run):
    answering_as(run, "registries", "echo")
    message_id, reply = await ask(run)
    assert reply.status_code == 502, reply.text
    info = reply.json()["errorInfo"]
    assert info["errorCode"] == "Server.ProviderResponseInvalid"
    assert (info["errorData"]["verdict"], info["errorData"]["signer"], info["errorData"]["expected"]) == (
        "SIGNER_NOT_PROVIDER", "echo", "registries")
    assert "FORGED" not in reply.text and info["errorData"]["message_ru"]
    answer = [r for r in await gateway_records(run, message_id) if r.kind == "response"]
    assert [(r.status, r.error_code) for r in answer] == [("NOT_DELIVERED", "Server.ProviderResponseInvalid")]
    assert "FORGED" not in answer[0].body


async def test_an_answer_signed_with_a_revoked_key_is_not_passed_on(run):
    serial = format(run.runtime("registries").identity.certificate.serial_number, "x")
    async with run.client("signatures") as ca:
        revoked = await ca.post(f"/v1/certificates/{serial}/revoke", json={"reason": "keyCompromise"})
        assert revoked.status_code == 200, revoked.text
    message_id, reply = await ask(run)
    assert reply.status_code == 502, reply.text
    info = reply.json()["errorInfo"]
    assert (info["errorCode"], info["errorData"]["verdict"]) == ("Server.ProviderResponseInvalid", "REVOKED")
    assert "responseData" not in reply.text
    answer = [r for r in await gateway_records(run, message_id) if r.kind == "response"]
    assert [r.error_code for r in answer] == ["Server.ProviderResponseInvalid"]


async def test_through_a_regional_gateway_the_answer_is_the_providers_behind_it(run):
    _, passed = await ask(run, "ECHO_Regional", sender="echo", route_id="almaty", data={"n": 1})
    assert passed.status_code == 200, passed.text
    assert passed.json()["response"]["responseData"]["data"] == {"echo": {"n": 1}}
    # the regional gateway passing on an answer its provider did not sign is caught at the centre too
    answering_as(run, "gateway-almaty", "portal")
    _, forged = await ask(run, "ECHO_Regional", sender="echo", route_id="almaty", data={"n": 2})
    info = forged.json()["errorInfo"]
    assert (info["errorCode"], info["errorData"]["signer"], info["errorData"]["expected"]) == (
        "Server.ProviderResponseInvalid", "portal", "echo")
    assert json.dumps(FORGED["person"]["surname"]) not in forged.text
