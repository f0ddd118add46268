"""The front office on the reglament engine: what the operator's entries lead to, each step at
its own moment, the channel taken from the definition, a request not delivered -- and the
operations in another order than almaty-queue's (a staff procedure first, no package check, no
separate signing step)."""

from __future__ import annotations

import base64
import json
import uuid
from datetime import date, datetime

import httpx
import yaml

from corporation_ws.models import FrontApplication
from corporation_ws.operations import OPERATIONS
from corporation_ws.schemas import FrontRequest
from corporation_ws.service import FrontOffice, front_channel
from gateway_protocol.errors import GatewayFault
from reglaments import Reglament, ReglamentError, StepKind, get_reglament
from signatures.jws import canonical_json
from simulation.clock import to_us
from simulation.engine import Engine, StepCall
from simulation.identifiers import make_iin

DEMO_IIN = "851102304571"
NOBODY_IIN = make_iin(date(1900, 1, 1), 1, 1)
DOCUMENTS = ["identity", "family-composition", "incomes", "category"]


async def _operator(ws: httpx.AsyncClient, reglament: str = "almaty-queue") -> tuple[dict[str, str], str]:
    session = (await ws.post("/api/operator/sessions")).json()["session"]
    ticket = (await ws.post("/api/tickets", params={"reglament": reglament})).json()["ticket"]
    return {"Authorization": f"Bearer {session}"}, ticket


async def _trace(simulation, application_id: str) -> list[dict]:
    async with simulation.client("control") as control:
        return (await control.get(f"/trace/{application_id}")).json()


def test_the_front_channel_is_the_one_that_starts_at_the_front_office():
    reglament = get_reglament("almaty-queue")
    channel = front_channel(reglament)
    assert channel.first.system == "corporation_ws" and channel.name in reglament.channels
    assert front_channel(reglament, channel.name) is channel
    other = next(c for c in reglament.channels.values() if c.first.system != "corporation_ws")
    try:
        front_channel(reglament, other.name)
    except ReglamentError as exc:
        assert other.name in str(exc) and other.first.system in str(exc)
    else:
        raise AssertionError("a channel that starts elsewhere was taken as the front office's")


async def test_an_incomplete_package_gets_the_refusal_receipt(simulation):
    async with simulation.client("corporation_ws") as ws:
        auth, ticket = await _operator(ws)
        reply = await ws.post("/api/applications", headers=auth, json={
            "reglament": "almaty-queue", "ticket": ticket, "applicant_iin": DEMO_IIN,
            "presented_documents": DOCUMENTS[:-1], "form": {"queueList": "socially-vulnerable"}})
    assert reply.status_code == 200, reply.text
    view = reply.json()
    assert view["status"] == "rejected" and view["registrationNumber"] is None
    [receipt] = view["receipts"]
    assert receipt["type"] == "refusal-receipt" and receipt["form"] == "Стандарттың 3-қосымшасы"
    assert [d["code"] for d in receipt["missing"]] == ["category"]
    trace = await _trace(simulation, view["id"])
    assert [e["outcome"] for e in trace] == ["done", "false", "done"]
    assert trace[1]["detail"].startswith("жетіспейді: ") and "санатқа" in trace[1]["detail"]
    assert trace[-1]["detail"] == receipt["kk"]


async def test_the_package_is_checked_against_the_documents_of_the_queue_list(simulation):
    """Income papers are asked only on the lists with the income test: orphans bring none."""
    async with simulation.client("corporation_ws") as ws:
        auth, ticket = await _operator(ws)
        reply = await ws.post("/api/applications", headers=auth, json={
            "reglament": "almaty-queue", "ticket": ticket, "applicant_iin": DEMO_IIN,
            "presented_documents": ["identity", "family-composition", "category"], "form": {"queueList": "orphans"}})
    assert reply.status_code == 200, reply.text
    view = reply.json()
    assert view["status"] == "in_progress", view
    [receipt] = view["receipts"]
    assert receipt["type"] == "acceptance-receipt" and receipt["registrationNumber"] == view["registrationNumber"]
    assert receipt["resultDue"] and receipt["ticket"] == ticket
    trace = await _trace(simulation, view["id"])
    front = [e for e in trace if e["system"] == "corporation_ws"]
    assert [e["outcome"] for e in front if e["kind"] == "condition"] == ["true", "true"]
    assert front[0]["detail"].startswith("оператор ")
    assert "оператордың ЭЦҚ-сы қойылды" in " ".join(e["detail"] for e in front)
    assert front[-1]["detail"].startswith("ЭҮШ арқылы HousingQueueRegistration")


async def test_the_operator_taking_the_applicant_is_stamped_when_the_application_starts(simulation):
    async with simulation.client("corporation_ws") as ws, simulation.client("control") as control:
        auth, ticket = await _operator(ws)
        logged_in = datetime.fromisoformat((await control.get("/clock")).json()["now"])
        moved = await control.post("/clock/advance", json={"by": "2 hours"})
        assert moved.status_code == 200, moved.text
        reply = await ws.post("/api/applications", headers=auth, json={
            "reglament": "almaty-queue", "ticket": ticket, "applicant_iin": NOBODY_IIN,
            "presented_documents": DOCUMENTS, "form": {"queueList": "socially-vulnerable"}})
    assert reply.status_code == 200, reply.text
    view = reply.json()
    assert view["status"] == "rejected" and view["receipts"][-1]["type"] == "no-data-notice"
    assert NOBODY_IIN in view["receipts"][-1]["detail"]
    trace = await _trace(simulation, view["id"])
    started = datetime.fromisoformat(trace[0]["sim_time"])
    assert started == datetime.fromisoformat(view["createdAt"])
    assert started > logged_in
    assert [e["outcome"] for e in trace if e["kind"] == "condition"] == ["true", "false"]


async def test_a_channel_that_does_not_start_here_is_refused_naming_the_field(simulation):
    reglament = get_reglament("almaty-queue")
    elsewhere = next(c.name for c in reglament.channels.values() if c.first.system != "corporation_ws")
    async with simulation.client("corporation_ws") as ws:
        auth, ticket = await _operator(ws)
        entry = {"reglament": "almaty-queue", "ticket": ticket, "applicant_iin": DEMO_IIN,
                 "presented_documents": DOCUMENTS, "form": {"queueList": "socially-vulnerable"}}
        for wrong in (elsewhere, "nonsense"):
            reply = await ws.post("/api/applications", headers=auth, json={**entry, "channel": wrong})
            assert reply.status_code == 422, reply.text
            assert reply.json()["field"] == "channel" and wrong in reply.json()["message"]


async def test_a_request_the_gateway_cannot_deliver_answers_502(simulation):
    provider = httpx.URL(simulation.settings.url_of("provider_ws"))

    def unreachable(request: httpx.Request) -> httpx.Request | None:
        if (request.url.host, request.url.port) == (provider.host, provider.port):
            return httpx.Request(request.method, request.url.copy_with(host="nowhere.invalid"),
                                 headers=request.headers, content=request.content)
        return None

    simulation.transport.interceptors.append(unreachable)
    async with simulation.client("corporation_ws") as ws:
        auth, ticket = await _operator(ws)
        reply = await ws.post("/api/applications", headers=auth, json={
            "reglament": "almaty-queue", "ticket": ticket, "applicant_iin": DEMO_IIN,
            "presented_documents": DOCUMENTS, "form": {"queueList": "socially-vulnerable"}})
        assert reply.status_code == 502, reply.text
        body = reply.json()
        assert body["error"] == "not_delivered" and body["gateway_error"] and body["message_kk"]
        view = (await ws.get(f"/api/applications/{body['application']}", headers=auth)).json()
    assert view["status"] == "not_delivered" and view["receipts"] == []


# ---- another order of the same operations ----------------------------------------------------

def _reordered() -> Reglament:
    """almaty-queue's data with a front-office channel in the order of seed 003: the employee's
    staff procedure first, the form, the registries (their verdict a minute later), the request
    sent without a package check or a signing step of its own."""
    base = yaml.safe_load(open(get_reglament("almaty-queue").path, encoding="utf-8"))
    procedure = {"number": 1, "actor": "sc-employee", "duration": "15 minutes", "operation": "accept-documents",
                 "name": {"kk": "құжаттарды қабылдау", "ru": "Приём документов", "en": "Documents accepted"},
                 "text_kk": "құжаттарды қабылдау"}

    def step(key: str, operation: str, **more):
        return {"key": key, "system": "corporation_ws", "operation": operation, "text_kk": key,
                "name": {"kk": key, "ru": key, "en": key}, **more}

    channel = {"item": 8, "result_service": "GK_ResultDelivery", "steps": [
        {"key": "action-1", "next": "process-1"},
        step("process-1", "operator-takes-applicant", next="process-2"),
        step("process-2", "fill-request-form", next="process-3"),
        step("process-3", "query-registries", next="condition-1"),
        step("condition-1", "registries-answered", duration="1 minute", then="process-5", **{"else": "process-4"}),
        step("process-4", "report-no-data", outcome="rejected"),
        step("process-5", "send-request", next="process-6"),
        {**step("process-6", "register-request", outcome="decided"), "system": "provider_ws"},
    ]}
    data = {**base, "id": "front-office-order", "path": "", "cases": {},
            "actors": {**base["actors"], "sc-employee": {"system": "corporation_ws", "kk": "ХҚКО қызметкері",
                                                          "ru": "работник Госкорпорации", "en": "SC employee"}},
            "staff": {**base["staff"], "procedures": [procedure]},
            "channels": {"front": channel}}
    return Reglament.model_validate(data)


async def _taken_by_hand(simulation, office: FrontOffice, reglament: Reglament, applicant: str) -> str:
    async with simulation.client("corporation_ws") as ws:
        session = (await ws.post("/api/operator/sessions")).json()["session"]
    request = FrontRequest(reglament=reglament.id, ticket="Т-900", applicant_iin=applicant,
                           presented_documents=["identity", "family-composition"], form={"queueList": "orphans"})
    application = FrontApplication(id=str(uuid.uuid4()), reglament=reglament.id, ticket=request.ticket,
                                   session_id=session, applicant_iin=applicant, entry=request.model_dump_json(),
                                   status="in_front_office", created_us=to_us(await office.runtime.now()))
    async with office.runtime.db.session() as db:
        db.add(application)
        await db.commit()
    return application.id


async def test_the_operations_follow_another_order(simulation):
    reglament = _reordered()
    runtime = simulation.runtime("corporation_ws")
    office = FrontOffice(runtime)
    await office.start()
    engine = Engine("corporation_ws", OPERATIONS, office, tracer=runtime.tracer, clock=runtime.clock,
                    timers=runtime.timers, store=runtime.store, reglaments=lambda _: reglament,
                    works_by_hand=lambda step: step.kind is StepKind.action)
    application_id = await _taken_by_hand(simulation, office, reglament, NOBODY_IIN)

    position = await engine.start(reglament, "front", application_id=application_id)
    assert (position.state, position.event) == ("waiting", "staff")  # the employee accepts the documents
    position = await engine.resume(application_id=application_id, event="staff")
    assert position.state == "timed"  # the registries' verdict comes a minute later, in another walk
    async with simulation.client("control") as control:
        assert (await control.post("/clock/run")).status_code == 200
    position = await engine.position(application_id=application_id)
    assert position is not None and position.done and position.outcome == "rejected"

    trace = await _trace(simulation, application_id)
    details = [e["detail"] for e in trace]
    assert "талон Т-900" in details[0] and "ХҚКО қызметкері" in details[0]
    assert details[1].startswith("оператор ") and details[2] == "өтініш беруші өзі"
    assert NOBODY_IIN in details[4] and trace[4]["outcome"] == "false"  # read after the timer, from memory
    view = await office.view(application_id)
    assert view["status"] == "rejected" and view["receipts"][-1]["type"] == "no-data-notice"
    stored = await office.taken(application_id)
    assert stored.application.request_signature is None  # the form filled in, nothing scanned or signed
    assert "attachments" not in json.loads(stored.application.request_document or "{}")


async def test_sending_signs_the_request_when_no_step_signed_it(simulation):
    reglament = _reordered()
    channel = reglament.channel("front")
    runtime = simulation.runtime("corporation_ws")
    office = FrontOffice(runtime)
    await office.start()
    application_id = await _taken_by_hand(simulation, office, reglament, DEMO_IIN)
    call = StepCall(reglament, channel, channel.step("process-5"), {}, await runtime.now(), application_id, None,
                    {}, {}, None)

    done = await OPERATIONS.get("send-request").function(office, call)

    assert done.detail.startswith("оператордың ЭЦҚ-сы қойылды; ЭҮШ арқылы HousingQueueRegistration")
    assert done.after is not None  # the gateway send, run by the engine once the step is recorded
    stored = (await office.taken(application_id)).application
    document = json.loads(stored.request_document or "{}")
    assert [a["code"] for a in document["attachments"]] == ["identity", "family-composition"]
    checked = await runtime.validator.cms(base64.b64decode(stored.request_signature or ""), canonical_json(document),
                                          at=await runtime.now(), usage="sign")
    assert checked.valid, checked.verdict
    again = await OPERATIONS.get("send-request").function(office, call)
    assert not again.detail.startswith("оператордың")  # signed once
    assert (await office.taken(application_id)).application.request_signature == stored.request_signature


async def test_a_result_is_refused_while_the_walk_stands_at_the_providers_step(simulation):
    async with simulation.client("corporation_ws") as ws:
        auth, ticket = await _operator(ws)
        taken = (await ws.post("/api/applications", headers=auth, json={
            "reglament": "almaty-queue", "ticket": ticket, "applicant_iin": DEMO_IIN,
            "presented_documents": DOCUMENTS, "form": {"queueList": "socially-vulnerable"}})).json()
        assert taken["status"] == "in_progress", taken
        provider = simulation.runtime("provider_ws")
        reglament = get_reglament("almaty-queue")
        try:
            await provider.gateway().send("GK_ResultDelivery", {
                "applicationId": taken["id"], "reglament": reglament.id, "channel": front_channel(reglament).name,
                "document": {"type": "notification"}, "signature": "AA=="}, correlation_id=taken["id"])
        except GatewayFault as fault:
            assert fault.code == "Provider.Refused" and "provider_ws" in fault.detail
        else:
            raise AssertionError("a result was taken while the provider still had the application")
        view = (await ws.get(f"/api/applications/{taken['id']}", headers=auth)).json()
    assert view["result"] is None and view["status"] == "in_progress"
