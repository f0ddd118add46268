"""Issue 14, points 1, 2, 8 and 9: nobody gets around the gateway.

A hop is proven by the forwarding gateway's signature (gateway_protocol/hops.py), not by a
password anyone derives from the source; a provider checks the message's own signature with the
run's validator and logs the hop; passwords are drawn per run; a refusal before authentication
is logged as a digest; a replay is answered only within the window.
"""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlmodel import select

from egov_sim.citizen import DEMO_CITIZEN
from egov_sim.inprocess import Simulation
from gateway.config import GatewayConfig, Participant
from gateway.models import LogRecord
from gateway_protocol.client import build_signed_request
from gateway_protocol.envelope import SYNC_PATH
from gateway_protocol.hops import sign_hop
from gateway_protocol.replay import HopRecord, ReplayGuard
from gateway_protocol.errors import GatewayFault
from registries.models import AccessRecord
from simulation.credentials import RunCredentials
from simulation.database import drop_run
from simulation.settings import Settings
from simulation.topology import SYSTEMS

WORKING_MONDAY = "2026-11-02T10:00:00+05:00"
OLD_HOP = {"X-Egov-Gateway": "gateway", "X-Egov-Gateway-Password": "gateway-shep-2026"}
"""What a hop sent before: a password anyone derives from the source."""
CEILING = 60.0
"""Seconds a test waits for a log record before calling it missing (never a timing assertion)."""


@pytest.fixture
async def run(tmp_path):
    settings = Settings(data_dir=tmp_path / "run", population_size=200, seed_people=False, clock_start=WORKING_MONDAY)
    simulation = Simulation(settings, extra=("echo",))
    simulation.systems = ("signatures", "gateway", "gateway-almaty", "registries", "portal", "echo")
    async with simulation:
        yield simulation
    await drop_run(settings, (*SYSTEMS, "simulation"))


async def person_request(run: Simulation, sender: str = "portal", **overrides: Any) -> bytes:
    runtime = run.runtime(sender)
    fields: dict[str, Any] = {
        "sender_id": sender, "password": runtime.credentials.password_of(sender),
        "service_id": "GBDFL_UniversalServiceSync", "data": {"iin": DEMO_CITIZEN.iin},
        "message_date": await runtime.now(),
    }
    fields.update(overrides)
    identity = fields.pop("identity", runtime.identity)
    return json.dumps(build_signed_request(identity, **fields).model_dump(mode="json", exclude_none=True)).encode()


async def post(run: Simulation, system: str, body: bytes, headers: dict[str, str] | None = None) -> httpx.Response:
    async with run.client(system, role=None) as client:
        return await client.post(SYNC_PATH, content=body, headers={"Content-Type": "application/json", **(headers or {})})


def refused(reply: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert reply.status_code == status, reply.text
    info = reply.json()["errorInfo"]
    assert info["errorCode"] == code, info
    assert "responseData" not in reply.text and DEMO_CITIZEN.iin not in reply.text
    return info


async def hop_log(run: Simulation, system: str) -> list[HopRecord]:
    async with run.runtime(system).db.session() as session:
        return list((await session.exec(select(HopRecord).order_by(HopRecord.id))).all())


async def gateway_records(run: Simulation, message_id: str, gateway: str = "gateway") -> list[LogRecord]:
    """The gateway's log records of ``message_id`` (the log writes in batches: waited for)."""
    deadline = asyncio.get_running_loop().time() + CEILING
    while True:
        async with run.runtime(gateway).db.session() as session:
            rows = list((await session.exec(select(LogRecord).where(LogRecord.message_id == message_id))).all())
        if rows:
            return rows
        assert asyncio.get_running_loop().time() < deadline, f"nothing logged of {message_id}"
        await asyncio.sleep(0.05)


# ---- point 1: the hop ---------------------------------------------------------------------


async def _forgeries(run: Simulation, body: bytes) -> dict[str, dict[str, str]]:
    gateway, portal = run.runtime("gateway"), run.runtime("portal")
    now = await gateway.now()
    return {
        "no hop": {},
        "hop signature": {**OLD_HOP, **sign_hop(gateway.identity, "gateway", "registries", body, now),
                          "X-Egov-Hop-Signature": "eyJhbGciOiJFUzI1NiJ9..bm90IGEgc2lnbmF0dXJl"},
        "hop certificate": {**OLD_HOP, **sign_hop(portal.identity, "gateway", "registries", body, now)},
        "hop target": {**OLD_HOP, **sign_hop(gateway.identity, "gateway", "portal", body, now)},
        "hop digest": {**OLD_HOP, **sign_hop(gateway.identity, "gateway", "registries", body + b" ", now)},
        "hop date": {**OLD_HOP, **sign_hop(gateway.identity, "gateway", "registries", body, now - timedelta(hours=1))},
    }


async def test_a_request_straight_to_the_registries_with_the_old_or_a_made_up_hop_is_refused(run):
    body = await person_request(run)
    replies = {"old headers": await post(run, "registries", body, OLD_HOP)}
    for check, headers in (await _forgeries(run, body)).items():
        replies[check] = await post(run, "registries", body, headers)
    checks = {}
    for what, reply in replies.items():
        checks[what] = refused(reply, 403, "Client.HopNotTrusted")["errorData"]["check"]
    assert checks == {
        "old headers": "hop signature", "no hop": "no hop", "hop signature": "hop signature",
        "hop certificate": "hop certificate", "hop target": "hop target", "hop digest": "hop digest",
        "hop date": "hop date",
    }
    # every refusal is in the provider's hop log, with what was claimed
    logged = await hop_log(run, "registries")
    assert [r.verdict for r in logged] == ["Client.HopNotTrusted"] * len(replies)
    assert all(r.signer is None for r in logged)
    # a genuine hop captured on the wire and sent again within the window is a copy
    gateway = run.runtime("gateway")
    genuine = sign_hop(gateway.identity, "gateway", "registries", body, await gateway.now())
    assert (await post(run, "registries", body, genuine)).status_code == 200
    copy = refused(await post(run, "registries", body, genuine), 403, "Client.HopNotTrusted")
    assert copy["errorData"]["check"] == "hop replayed" and DEMO_CITIZEN.iin not in str(copy)


async def test_a_peer_gateway_takes_only_a_hop_its_peer_signed(run):
    echo = run.runtime("echo")
    body = json.dumps(build_signed_request(
        echo.identity, sender_id="echo", password=echo.credentials.password_of("echo"), service_id="ECHO_Regional",
        route_id="almaty", data={"n": 1}, message_date=await echo.now(),
    ).model_dump(mode="json", exclude_none=True)).encode()
    info = refused(await post(run, "gateway-almaty", body, OLD_HOP), 403, "Client.HopNotTrusted")
    assert info["errorData"]["check"] == "hop signature"
    central = run.runtime("gateway")
    signed = sign_hop(central.identity, "gateway", "gateway-almaty", body, await central.now())
    reply = await post(run, "gateway-almaty", body, signed)
    assert reply.status_code == 200, reply.text
    assert reply.json()["response"]["responseData"]["data"] == {"echo": {"n": 1}}


async def test_a_revoked_sender_relayed_to_a_provider_is_refused_by_the_provider_too(run):
    serial = format(run.runtime("portal").identity.certificate.serial_number, "x")
    async with run.client("signatures") as ca:
        revoked = await ca.post(f"/v1/certificates/{serial}/revoke", json={"reason": "keyCompromise"})
        assert revoked.status_code == 200, revoked.text
    body = await person_request(run)
    gateway = run.runtime("gateway")
    # a gateway that relays it anyway (its own signature over the hop is good)
    headers = {**OLD_HOP, **sign_hop(gateway.identity, "gateway", "registries", body, await gateway.now())}
    info = refused(await post(run, "registries", body, headers), 403, "Client.SignatureInvalid")
    assert info["errorData"]["verdict"] == "REVOKED"
    [logged] = await hop_log(run, "registries")
    assert (logged.hop, logged.sender_id, logged.verdict) == ("gateway", "portal", "Client.SignatureInvalid")


async def test_a_message_dated_ten_years_ago_is_refused_by_the_provider(run):
    portal, gateway = run.runtime("portal"), run.runtime("gateway")
    body = await person_request(run, message_date=await portal.now() - timedelta(days=3650))
    headers = {**OLD_HOP, **sign_hop(gateway.identity, "gateway", "registries", body, await gateway.now())}
    refused(await post(run, "registries", body, headers), 400, "Client.MessageDateOutOfRange")


async def test_the_provider_logs_the_hop_and_the_access_log_names_the_verified_signer(run):
    body = await person_request(run, correlation_id="hop-case")
    reply = await post(run, "gateway", body)
    assert reply.status_code == 200, reply.text
    message_id = json.loads(body)["request"]["requestInfo"]["messageId"]
    [logged] = await hop_log(run, "registries")
    assert (logged.hop, logged.sender_id, logged.signer, logged.message_id, logged.service_id, logged.verdict) == (
        "gateway", "portal", "portal", message_id, "GBDFL_UniversalServiceSync", "ACCEPTED")
    async with run.runtime("registries").db.session() as session:
        [access] = (await session.exec(select(AccessRecord).where(AccessRecord.correlation_id == "hop-case"))).all()
    assert (access.requester, access.hop) == ("portal", "gateway")


# ---- point 2: passwords ---------------------------------------------------------------------


async def test_a_systems_password_is_drawn_per_run_and_the_derived_one_is_refused(run, tmp_path):
    first = run.credentials.password_of("portal")
    other = RunCredentials(tmp_path / "another-run").password_of("portal")
    assert first != "portal-shep-2026" and other != first and len(first) >= 20
    refused(await post(run, "gateway", await person_request(run, password="portal-shep-2026")), 403,
            "Client.AuthenticationFailed")
    assert (await post(run, "gateway", await person_request(run, password=first))).status_code == 200

    # an outside participant authenticates with the password the file gives it, and needs one
    services = {"ECHO_Central": {"system": "echo"}}
    config = GatewayConfig.model_validate({
        "participants": {"outsider": {"services": ["ECHO_Central"], "password": "its-own"},
                         "echo": {"services": ["ECHO_Central"]}},
        "services": services, "regions": {},
    })
    assert config.password_of("outsider") == "its-own"
    assert config.password_of("echo") is None  # no run's credentials: cannot authenticate
    assert config.password_of("echo", run.credentials) == run.credentials.password_of("echo")
    config.participants["nopassword"] = Participant(services=[])
    assert [p.field for p in config.integrity_problems()] == ["participants.nopassword.password"]


# ---- point 8: what the log keeps of a refusal before authentication ------------------------


async def test_an_unauthenticated_refusal_is_logged_as_a_digest_and_a_prefix(run):
    padding = "x" * 600_000
    unknown = await person_request(run, sender="portal", sender_id="nobody", data={"pad": padding})
    wrong = await person_request(run, password="wrong", data={"pad": padding})
    refused(await post(run, "gateway", unknown), 403, "Client.UnknownSender")
    refused(await post(run, "gateway", wrong), 403, "Client.AuthenticationFailed")
    for body in (unknown, wrong):
        [record] = await gateway_records(run, json.loads(body)["request"]["requestInfo"]["messageId"])
        assert record.status == "REFUSED" and len(record.body) < 2048, len(record.body)
        kept = json.loads(record.body)["refused"]
        assert kept["bytes"] == len(body) and len(kept["sha256"]) == 64
        assert padding not in record.body and len(kept["prefix"]) <= 1024
        assert '"password":"***"' in kept["prefix"].replace(" ", "")
    # refused after authentication: the whole request, password masked
    denied = await person_request(run, service_id="EPORTAL_CabinetDelivery", data={"pad": padding})
    refused(await post(run, "gateway", denied), 403, "Client.AccessDenied")
    [record] = [r for r in await gateway_records(run, json.loads(denied)["request"]["requestInfo"]["messageId"])
                if r.kind == "request"]
    assert padding in record.body and run.credentials.password_of("portal") not in record.body


# ---- point 9: replays ----------------------------------------------------------------------


async def test_a_replay_gets_the_first_answer_only_within_the_window(run):
    body = await person_request(run)
    first = await post(run, "gateway", body)
    assert first.status_code == 200, first.text
    again = await post(run, "gateway", body)
    assert again.json() == first.json()
    gateway = run.runtime("gateway")
    redelivered = await post(run, "registries", body, sign_hop(gateway.identity, "gateway", "registries", body,
                                                               await gateway.now()))
    assert redelivered.json()["response"]["responseData"] == first.json()["response"]["responseData"]
    await run.runtime("gateway").clock.advance(timedelta(seconds=run.settings.message_date_skew + 60))
    refused(await post(run, "gateway", body), 409, "Client.MessageReplayed")
    # nor does the provider give it again, whoever relays it
    headers = sign_hop(gateway.identity, "gateway", "registries", body, await gateway.now())
    reply = await post(run, "registries", body, headers)
    assert reply.status_code in (400, 409) and DEMO_CITIZEN.iin not in reply.text
    # the provider's hop log: one row a request, saying what became of it
    message_id = json.loads(body)["request"]["requestInfo"]["messageId"]
    verdicts = [r.verdict for r in await hop_log(run, "registries") if r.message_id == message_id]
    assert verdicts == ["ACCEPTED", "REPLAYED", reply.json()["errorInfo"]["errorCode"]], verdicts


async def test_the_replay_guard_answers_only_the_same_sender_within_its_window():
    from datetime import datetime, timezone

    guard = ReplayGuard()
    at = datetime(2026, 11, 2, 5, tzinfo=timezone.utc)
    window = timedelta(seconds=300)
    calls = []

    async def produce(answer):
        calls.append(answer)
        return 200, {"data": answer}

    assert await guard.answer(("portal", "m1"), lambda: produce("first"), at=at, window=window) == ((200, {"data": "first"}), False)
    assert await guard.answer(("portal", "m1"), lambda: produce("x"), at=at + window, window=window) == ((200, {"data": "first"}), True)
    assert (await guard.answer(("echo", "m1"), lambda: produce("echo's own"), at=at, window=window))[0][1] == {"data": "echo's own"}
    with pytest.raises(GatewayFault) as late:
        await guard.answer(("portal", "m1"), lambda: produce("y"), at=at + window + timedelta(seconds=1), window=window)
    assert late.value.code == "Client.MessageReplayed"
    assert calls == ["first", "echo's own"]
