"""A system's outbox (runtime.outbox): a delivery through the gateway that meets a transient fault is
tried again in virtual time, each attempt a new message in the gateway's log; it is given up after
``outbox_attempts`` with one error line; a refusal is not tried again; the waiting message survives
a restart of its sender; a result whose first answer was lost (a connection reset) is taken once."""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator

import pytest

from egov_sim.citizen import DEMO_CITIZEN, register_citizen
from egov_sim.faults import apply_faults, clear_faults
from egov_sim.inprocess import Simulation
from gateway_protocol.errors import GatewayFault
from runtime.outbox import TIMER_KIND, pause_after
from simulation.database import drop_run
from simulation.settings import Settings
from tests.conftest import RUN_SCHEMAS, WORKING_MONDAY

PERSON = "851102304571"
"""A person of the registries' fixtures: ЖТ МДҚ answers about them."""
NOBODY = "000101500011"
SERVICE = "GBDFL_UniversalServiceSync"
"""What the tests deliver (corporation_ws may call it through the central gateway): the outbox
does not care what the message is."""
DOWN = {"system": "registries", "service": SERVICE, "mode": "down"}


@pytest.fixture
async def run(tmp_path) -> AsyncIterator[Simulation]:
    settings = Settings(data_dir=tmp_path / "run", population_size=200, clock_start=WORKING_MONDAY, outbox_attempts=3)
    async with Simulation(settings) as simulation:
        yield simulation
    await drop_run(settings, RUN_SCHEMAS)


async def _log(run: Simulation, correlation_id: str, service: str = SERVICE) -> list[dict]:
    """The central gateway's answers to the attempts (a response row each, its messageId the
    request's), in order."""
    async with run.client("gateway") as gateway:
        reply = await gateway.get("/v1/messages", params={"correlationId": correlation_id, "serviceId": service,
                                                          "kind": "response"})
    assert reply.status_code == 200, reply.text
    return sorted(reply.json(), key=lambda m: m["seq"])


async def _run_clock(run: Simulation) -> None:
    async with run.client("control") as control:
        reply = await control.post("/clock/run")
    assert reply.status_code == 200, reply.text


async def _waiting(run: Simulation) -> list:
    return [t for t in await run.runtime("control").clock.timers("pending") if t.kind == TIMER_KIND]


def test_the_pauses_double_up_to_an_hour():
    assert [pause_after(n).total_seconds() / 60 for n in range(1, 9)] == [1, 2, 4, 8, 16, 32, 60, 60]


async def test_a_transient_fault_is_tried_again_in_virtual_time(run):
    correlation = str(uuid.uuid4())
    await apply_faults(run.client, [DOWN])
    sender = run.runtime("corporation_ws")
    sent_at = await sender.now()
    assert await sender.deliver(SERVICE, {"iin": PERSON}, correlation_id=correlation) is None
    [waiting] = await _waiting(run)
    assert waiting.owner == "corporation_ws" and waiting.application_id == correlation
    assert (waiting.due_us - int(sent_at.timestamp() * 1_000_000)) == 60_000_000  # a minute of virtual time
    await clear_faults(run.client)
    await _run_clock(run)
    log = await _log(run, correlation)
    assert [m["status"] for m in log][-1] == "DELIVERED" and "DELIVERED" not in [m["status"] for m in log][:-1], log
    assert len(log) == 2 and len({m["messageId"] for m in log}) == 2, log
    assert not await _waiting(run)


async def test_a_delivery_is_given_up_after_the_last_attempt_with_one_error_line(run, caplog):
    correlation = str(uuid.uuid4())
    await apply_faults(run.client, [DOWN])
    with caplog.at_level(logging.WARNING, logger="runtime.outbox"):
        assert await run.runtime("corporation_ws").deliver(SERVICE, {"iin": PERSON}, correlation_id=correlation) is None
        await _run_clock(run)
    log = await _log(run, correlation)
    assert len(log) == 3 and "DELIVERED" not in {m["status"] for m in log}, log  # outbox_attempts
    assert not await _waiting(run)
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR and r.name == "runtime.outbox"]
    assert len(errors) == 1, [r.getMessage() for r in errors]
    line = errors[0].getMessage()
    assert correlation in line and SERVICE in line and "Server.ProviderUnavailable" in line, line
    assert errors[0].exc_info is None
    assert not [r for r in caplog.records if r.name == "simulation.clock" and r.levelno >= logging.ERROR]


async def test_a_refusal_is_not_tried_again(run):
    correlation = str(uuid.uuid4())
    with pytest.raises(GatewayFault) as refused:
        await run.runtime("corporation_ws").deliver(SERVICE, {"iin": NOBODY}, correlation_id=correlation)
    assert refused.value.code.startswith("Provider."), refused.value
    assert not await _waiting(run)
    await _run_clock(run)
    assert len(await _log(run, correlation)) == 1


async def test_a_waiting_message_survives_a_restart_of_its_sender(run):
    correlation = str(uuid.uuid4())
    await apply_faults(run.client, [DOWN])
    assert await run.runtime("corporation_ws").deliver(SERVICE, {"iin": PERSON}, correlation_id=correlation) is None
    await run.restart("corporation_ws")
    await clear_faults(run.client)
    await _run_clock(run)
    log = await _log(run, correlation)
    assert [m["status"] for m in log][-1] == "DELIVERED" and len(log) == 2, log
    assert all(m["sender"] == "corporation_ws" for m in log)


async def test_a_result_whose_answer_was_lost_is_taken_once(run, caplog):
    """The cabinet takes the result, the answer is lost (reset: seeded, the first attempt is
    struck): the provider tries again, and the cabinet answers it has that result already -- the
    application's history says "result" once."""
    await apply_faults(run.client, [{"system": "portal", "service": "EPORTAL_CabinetDelivery", "mode": "reset",
                                     "probability": 0.5, "seed": 1}])
    async with run.client("portal") as portal, run.client("signatures") as ncalayer:
        await register_citizen(run.client, DEMO_CITIZEN, data_dir=run.settings.data_dir)
        session = (await portal.post("/api/sessions", json={"iin": DEMO_CITIZEN.iin,
                                                            "password": DEMO_CITIZEN.password})).json()
        auth = {"Authorization": f"Bearer {session['session']}"}
        prepared = await portal.post("/api/services/almaty-queue/document", headers=auth, json={
            "form": {"queueList": "socially-vulnerable"},
            "attachments": [{"code": code, "name": f"{code}.pdf", "content": "c2Nhbg=="}
                            for code in ("identity", "family-composition", "incomes", "category")]})
        assert prepared.status_code == 200, prepared.text
        signed = await ncalayer.post("/ncalayer", json={
            **prepared.json()["ncalayer"], "dialog": {"iin": DEMO_CITIZEN.iin, "password": "Qwerty12"}})
        filed = await portal.post("/api/applications", headers=auth, json={
            "document": prepared.json()["document"], "signature": signed.json()["body"]["result"][0]})
        assert filed.status_code == 200, filed.text
        application = filed.json()["id"]
        with caplog.at_level(logging.WARNING, logger="runtime.outbox"):
            await _run_clock(run)
        view = (await portal.get(f"/api/cabinet/applications/{application}", headers=auth)).json()
    log = await _log(run, application, "EPORTAL_CabinetDelivery")
    assert len(log) == 2 and log[0]["status"] != "DELIVERED" and log[1]["status"] == "DELIVERED", log
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], [r.getMessage() for r in caplog.records]
    assert view["status"] == "result", view
    assert [e["status"] for e in view["history"]].count("result") == 1, view["history"]
