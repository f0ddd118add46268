"""Failure cases of docs/reliability.md that no other test showed: the gateway's codes a caller
gets when a provider does not answer in time, answers something altered, cannot serve at all or
does not offer the service; an async message the gateway cannot read; and what the State
Corporation does when ЖТ МДҚ does not answer (2-шарт false, the no-data notice)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy import update

from egov_sim.inprocess import Simulation
from gateway.models import AsyncMessage
from gateway_protocol.client import build_signed_request
from gateway_protocol.envelope import ASYNC_PATH, SYNC_PATH
from gateway_protocol.errors import GatewayFault
from simulation.database import drop_run
from simulation.settings import Settings
from simulation.topology import SYSTEMS
from tests.conftest import gateway_fault

ALIYA = "900515401230"
"""A person of the registries' default fixtures."""
PERSON_SERVICE = "GBDFL_UniversalServiceSync"
CEILING = 120.0
"""Seconds a test waits for what it needs before calling it a hang (never a timing assertion)."""
FEW_SYSTEMS = ("signatures", "control", "gateway", "registries", "provider_ws")
"""Who asks (the provider's workstation), who carries (ЭҮШ) and who answers (the registries)."""


@pytest.fixture
async def few(tmp_path, request) -> AsyncIterator[Simulation]:
    """A run of :data:`FEW_SYSTEMS`; settings changed by ``indirect`` parametrisation."""
    fields: dict[str, Any] = {
        "data_dir": tmp_path / "run", "population_size": 50, "seed_people": False,
        "async_retry_base": 0.05, "async_retry_cap": 0.2,
    }
    settings = Settings(**{**fields, **getattr(request, "param", {})})
    simulation = Simulation(settings)
    simulation.systems = FEW_SYSTEMS
    try:
        async with simulation:
            yield simulation
    finally:
        await drop_run(settings, (*SYSTEMS, "simulation"))


async def _ask(run: Simulation, service_id: str, data: Any, sender: str = "provider_ws") -> httpx.Response:
    """A request signed by ``sender`` with its own gateway password, sent to ЭҮШ; the raw answer."""
    runtime = run.runtime(sender)
    signed = build_signed_request(
        runtime.identity, sender_id=sender, password=runtime.gateway().password, service_id=service_id,
        data=data, message_date=await runtime.now(),
    )
    async with run.client("gateway") as gateway:
        return await gateway.post(SYNC_PATH, json=signed.model_dump(mode="json", exclude_none=True))


def _is_hop_to(run: Simulation, system: str, request: httpx.Request) -> bool:
    """``request`` is a gateway's hop to ``system``'s sync endpoint."""
    url = httpx.URL(run.settings.url_of(system))
    return (request.url.host, request.url.port, request.url.path) == (url.host, url.port, SYNC_PATH)


async def _access_log(run: Simulation, iin: str) -> list[dict]:
    async with run.client("registries") as registries:
        reply = await registries.get("/api/access-log", params={"iin": iin})
    assert reply.status_code == 200, reply.text
    return reply.json()


def _no_answer_from_registries(run: Simulation) -> list[httpx.Request]:
    """The registries take no call in time: each hop to them ends in the network's read timeout
    (as the gateway's HTTP client raises it after ``request_timeout``)."""
    held: list[httpx.Request] = []

    def timeout(request: httpx.Request) -> None:
        if _is_hop_to(run, "registries", request):
            held.append(request)
            raise httpx.ReadTimeout("the registries did not answer in time (test)", request=request)

    run.transport.interceptors.append(timeout)
    return held


# ---- Server.ProviderTimeout -------------------------------------------------------------------

async def test_a_registry_that_does_not_answer_in_time_is_a_provider_timeout(few):
    held = _no_answer_from_registries(few)
    info = gateway_fault(await _ask(few, PERSON_SERVICE, {"iin": ALIYA}), 504, "Server.ProviderTimeout")
    assert held, "the gateway never called the registries"
    assert info["errorData"]["side"] == "gateway" and "registries" in info["errorMessage"]
    assert "person" not in json.dumps(info)
    few.transport.interceptors.clear()
    assert await _access_log(few, ALIYA) == []  # the registries served nobody


# ---- Server.ProviderResponseInvalid ------------------------------------------------------------

async def test_an_answer_altered_on_its_way_back_is_not_passed_on(few, monkeypatch):
    """A man in the middle between ЭҮШ and the registries changes the surname in the signed
    answer: the gateway checks the answer's signature and passes on a fault, not the data."""
    transport = few.transport
    forward = transport.handle_async_request
    altered: list[str] = []

    async def alter_the_answer(request: httpx.Request) -> httpx.Response:
        response = await forward(request)
        if not _is_hop_to(few, "registries", request) or response.status_code != 200:
            return response
        body = json.loads(await response.aread())
        person = body["response"]["responseData"]["data"]["person"]
        person["surname"] = "ӨЗГЕРТІЛГЕН"
        altered.append(body["response"]["responseInfo"]["messageId"])
        return httpx.Response(200, headers={"Content-Type": "application/json"},
                              content=json.dumps(body, ensure_ascii=False).encode(), request=request)

    monkeypatch.setattr(transport, "handle_async_request", alter_the_answer)
    reply = await _ask(few, PERSON_SERVICE, {"iin": ALIYA})
    assert altered, "no answer passed the man in the middle"
    info = gateway_fault(reply, 502, "Server.ProviderResponseInvalid")
    assert info["errorData"]["verdict"] == "SIGNATURE_MISMATCH"
    assert "ӨЗГЕРТІЛГЕН" not in reply.text and ALIYA not in json.dumps(info["errorData"])
    # The registry did answer (its access log says so); the caller got the fault instead.
    assert [row["outcome"] for row in await _access_log(few, ALIYA)] == ["found"]


# ---- Server.InternalError ----------------------------------------------------------------------

@pytest.fixture
def broken_fixtures(tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text('persons:\n  - {iin: "900515401231", surname: X}\n', encoding="utf-8")
    return path


async def test_registries_that_could_not_load_their_data_answer_an_internal_error(tmp_path, broken_fixtures):
    settings = Settings(data_dir=tmp_path / "run", population_size=20, seed_people=False,
                        registry_fixtures=[broken_fixtures])
    simulation = Simulation(settings)
    simulation.systems = FEW_SYSTEMS
    try:
        async with simulation:
            for _ in range(2):  # every look-up, not only the first
                info = gateway_fault(await _ask(simulation, PERSON_SERVICE, {"iin": ALIYA}), 500, "Server.InternalError")
                assert "could not load their data" in info["errorMessage"]
                assert "broken.yaml" in info["errorMessage"] and "check digit" in info["errorMessage"]
            # The system that asked sees the same code, not a hang or a traceback.
            with pytest.raises(GatewayFault) as raised:
                await simulation.runtime("provider_ws").gateway().send(PERSON_SERVICE, {"iin": ALIYA})
            assert raised.value.code == "Server.InternalError"
    finally:
        await drop_run(settings, (*SYSTEMS, "simulation"))


async def _status(run: Simulation, message_id: str) -> dict:
    [status] = await run.runtime("provider_ws").gateway().message_status([message_id])
    return status


@pytest.mark.parametrize("few", [{"async_max_attempts": 10**6}], indirect=True)
async def test_an_async_message_the_gateway_cannot_read_ends_not_delivered(few):
    """A stored async message spoilt in the gateway's store while it waits for its target ends
    NOT_DELIVERED with Server.InternalError at its next attempt, and is never delivered."""
    async with few.client("gateway") as gateway:
        assert (await gateway.put(f"/admin/faults/{PERSON_SERVICE}", json={"mode": "unreachable"})).status_code == 200
    sender = few.runtime("provider_ws").gateway()
    message_id = (await sender.send_async(PERSON_SERVICE, {"iin": ALIYA}))["messageId"]
    deadline = asyncio.get_running_loop().time() + CEILING
    while (status := await _status(few, message_id))["attempts"] < 1:
        assert asyncio.get_running_loop().time() < deadline, status
        await asyncio.sleep(0.05)
    assert status["state"] == "ON_DELIVERY" and status["lastError"].startswith("Server.ProviderUnavailable")

    async with few.runtime("gateway").db.session() as session:
        await session.exec(update(AsyncMessage).where(AsyncMessage.message_id == message_id).values(body="{spoilt"))
        await session.commit()
    # an attempt under way may have read the body before it was spoilt: the target stays down
    # until an attempt begun after it has ended (two more attempts, or the message stopped)
    spoilt_at = status["attempts"]
    while (status := await _status(few, message_id))["state"] == "ON_DELIVERY" and status["attempts"] < spoilt_at + 2:
        assert asyncio.get_running_loop().time() < deadline, status
        await asyncio.sleep(0.05)
    async with few.client("gateway") as gateway:
        await gateway.delete("/admin/faults")  # the target is back: only the spoilt message stops it
    while (status := await _status(few, message_id))["state"] == "ON_DELIVERY":
        assert asyncio.get_running_loop().time() < deadline, status
        await asyncio.sleep(0.05)
    assert status["state"] == "NOT_DELIVERED", status
    assert status["lastError"].startswith("Server.InternalError") and "cannot be read" in status["lastError"]
    assert await _access_log(few, ALIYA) == []  # nothing reached the registries
    async with few.client("gateway") as gateway:
        notices = await gateway.post(ASYNC_PATH + "/getDeliveryNotifications",
                                     json={"senderId": "provider_ws", "password": sender.password, "after": 0})
    assert [(n["messageId"], n["state"]) for n in notices.json()["notifications"]] == [(message_id, "NOT_DELIVERED")]


# ---- Provider.UnknownService -------------------------------------------------------------------

async def test_a_service_its_target_does_not_offer_is_refused_by_the_provider(few):
    """An administrator registers a service for the registries that they do not provide: the
    registries refuse it with Provider.UnknownService, naming it."""
    async with few.client("gateway") as gateway:
        config = (await gateway.get("/admin/config")).json()
        rights = config["participants"]["provider_ws"]["services"]
        assert (await gateway.put("/admin/services/GBDFL_NoSuchLookup", json={"system": "registries"})).status_code == 200
        granted = await gateway.put("/admin/participants/provider_ws", json={"services": [*rights, "GBDFL_NoSuchLookup"]})
        assert granted.status_code == 200, granted.text
    info = gateway_fault(await _ask(few, "GBDFL_NoSuchLookup", {"iin": ALIYA}), 404, "Provider.UnknownService")
    assert info["errorData"]["side"] == "provider" and "GBDFL_NoSuchLookup" in info["errorMessage"]
    assert await _access_log(few, ALIYA) == []


# ---- the State Corporation when ЖТ МДҚ does not answer ------------------------------------------

DOCUMENTS = ["identity", "family-composition", "incomes", "category"]


async def _unreachable(run: Simulation) -> str:
    async with run.client("gateway") as gateway:
        reply = await gateway.put(f"/admin/faults/{PERSON_SERVICE}", json={"mode": "unreachable"})
        assert reply.status_code == 200, reply.text
    return "Server.ProviderUnavailable"


async def _too_slow(run: Simulation) -> str:
    _no_answer_from_registries(run)
    return "Server.ProviderTimeout"


@pytest.mark.parametrize("fault", [_unreachable, _too_slow], ids=["unreachable", "timeout"])
async def test_the_state_corporation_gives_the_no_data_notice_when_the_person_registry_does_not_answer(
    simulation, fault
):
    code = await fault(simulation)
    async with simulation.client("corporation_ws") as ws:
        session = (await ws.post("/api/operator/sessions")).json()["session"]
        ticket = (await ws.post("/api/tickets", params={"reglament": "almaty-queue"})).json()["ticket"]
        reply = await ws.post("/api/applications", headers={"Authorization": f"Bearer {session}"}, json={
            "reglament": "almaty-queue", "ticket": ticket, "applicant_iin": ALIYA,
            "presented_documents": DOCUMENTS, "form": {"queueList": "socially-vulnerable"}})
    assert reply.status_code == 200, reply.text
    view = reply.json()
    assert view["status"] == "rejected" and view["registrationNumber"] is None
    notice = view["receipts"][-1]
    assert notice["type"] == "no-data-notice" and notice["kk"] and notice["ru"]
    assert notice["detail"] == f"ЖТ МДҚ жауап бермеді ({code})"
    async with simulation.client("control") as control:
        trace = (await control.get(f"/trace/{view['id']}")).json()
    conditions = [(e["label"], e["outcome"]) for e in trace if e["kind"] == "condition"]
    assert conditions == [("1-шарт", "true"), ("2-шарт", "false")]
    assert trace[-1]["detail"] == notice["kk"]
    async with simulation.client("provider_ws") as provider:
        assert (await provider.get("/api/cases")).json() == []  # nothing went on to the provider
