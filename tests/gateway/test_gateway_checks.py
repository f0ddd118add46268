"""Replays, messageDate, access rights through the admin API, fault switches, metrics, logs."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import time
from datetime import timedelta

from conftest import post, processed, signed_message

from simulation.observability import JsonFormatter


async def test_a_replayed_message_gets_the_first_answer_and_is_processed_once(echo_run):
    message = await signed_message(echo_run)
    first = await post(echo_run, message)
    again = await post(echo_run, message)
    assert first.status_code == again.status_code == 200
    assert first.json() == again.json()
    message_id = message["request"]["requestInfo"]["messageId"]
    assert (await processed(echo_run))[message_id] == 1
    async with echo_run.client("gateway") as gateway:
        log = (await gateway.get("/v1/messages", params={"messageId": message_id})).json()
        metrics = (await gateway.get("/metrics")).text
    assert [r["status"] for r in log] == ["RECEIVED", "REPLAYED"]
    assert "egov_gateway_replays_total 1.0" in metrics


async def test_twins_sent_at_once_are_processed_once(echo_run):
    message = await signed_message(echo_run)
    replies = await asyncio.gather(*(post(echo_run, message) for _ in range(5)))
    assert len({json.dumps(r.json(), sort_keys=True) for r in replies}) == 1
    assert (await processed(echo_run))[message["request"]["requestInfo"]["messageId"]] == 1


async def test_a_stale_or_future_message_date_is_refused(echo_run):
    for late in (timedelta(minutes=10), timedelta(minutes=-10)):
        reply = await post(echo_run, await signed_message(echo_run, late=late))
        assert reply.status_code == 400
        assert reply.json()["errorInfo"]["errorCode"] == "Client.MessageDateOutOfRange"
    within = await post(echo_run, await signed_message(echo_run, late=timedelta(minutes=2)))
    assert within.status_code == 200


async def test_the_regional_path(echo_run):
    reply = await post(echo_run, await signed_message(echo_run, service_id="ECHO_Regional", route_id="almaty"))
    assert reply.status_code == 200, reply.text
    assert reply.json()["response"]["responseData"]["data"] == {"echo": {"hello": "сәлем"}}
    async with echo_run.client("gateway-almaty") as regional:
        [record] = (await regional.get("/v1/messages", params={"serviceId": "ECHO_Regional"})).json()
    assert record["cameFrom"] == "gateway" and record["recipient"] == "echo"


async def test_access_rights_change_through_the_admin_api(echo_run):
    async with echo_run.client("gateway") as gateway:
        config = (await gateway.get("/admin/config")).json()
        assert "password" not in json.dumps(config["participants"])
        narrowed = await gateway.put("/admin/participants/echo", json={"services": ["ECHO_Regional"]})
        assert narrowed.status_code == 200
        refused = await post(echo_run, await signed_message(echo_run))
        assert refused.json()["errorInfo"]["errorCode"] == "Client.AccessDenied"
        # The regional gateway shares the participant file and sees the change too.
        via_regional = await post(echo_run, await signed_message(echo_run), gateway="gateway-almaty")
        assert via_regional.json()["errorInfo"]["errorCode"] == "Client.AccessDenied"
        bad = await gateway.put("/admin/participants/echo", json={"services": ["NoSuchService"]})
        assert bad.status_code == 422 and "NoSuchService" in bad.json()["message"]
        await gateway.put("/admin/participants/echo", json={"services": ["ECHO_Central", "ECHO_Regional"]})
    assert (await post(echo_run, await signed_message(echo_run))).status_code == 200


async def test_fault_switches(echo_run):
    async with echo_run.client("gateway") as gateway:
        await gateway.put("/admin/faults/ECHO_Central", json={"mode": "unreachable"})
        down = await post(echo_run, await signed_message(echo_run))
        assert down.status_code == 502 and down.json()["errorInfo"]["errorCode"] == "Server.ProviderUnavailable"
        await gateway.put("/admin/faults/ECHO_Central", json={"mode": "error", "error_code": "Provider.Refused"})
        failing = await post(echo_run, await signed_message(echo_run))
        assert failing.json()["errorInfo"]["errorCode"] == "Provider.Refused"
        await gateway.put("/admin/faults/ECHO_Central", json={"mode": "slow", "delay_ms": 300})
        started = time.perf_counter()
        slow = await post(echo_run, await signed_message(echo_run))
        assert slow.status_code == 200 and time.perf_counter() - started >= 0.3
        assert (await gateway.get("/admin/faults")).json()["ECHO_Central"]["mode"] == "slow"
        assert (await gateway.put("/admin/faults/ECHO_Central", json={"mode": "slow"})).status_code == 422
        assert (await gateway.put("/admin/faults/Nope", json={"mode": "unreachable"})).status_code == 422
        assert (await gateway.put("/admin/faults/ECHO_Central", json={"mode": "error", "error_code": "X"})).status_code == 422
        assert (await gateway.delete("/admin/faults")).json() == {"cleared": 1}
    assert (await post(echo_run, await signed_message(echo_run))).status_code == 200


async def test_metrics_and_the_error_catalogue(echo_run):
    await post(echo_run, await signed_message(echo_run))
    await post(echo_run, await signed_message(echo_run, password="wrong"))
    async with echo_run.client("gateway") as gateway:
        metrics = (await gateway.get("/metrics")).text
        catalogue = (await gateway.get("/v1/errors")).json()
    assert 'egov_gateway_messages_total{channel="sync",service_id="ECHO_Central",status="DELIVERED"} 1.0' in metrics
    assert 'status="Client.AuthenticationFailed"' in metrics
    assert "egov_gateway_latency_seconds_bucket" in metrics
    assert "egov_gateway_async_queue_depth" in metrics
    codes = {entry["code"]: entry for entry in catalogue}
    assert codes["Client.SignatureInvalid"]["side"] == "caller"
    assert codes["Server.ProviderUnavailable"]["side"] == "gateway"
    assert all(entry["kk"] and entry["ru"] and entry["en"] for entry in catalogue)


async def test_log_lines_carry_the_correlation_id(echo_run):
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("gateway")
    logger.addHandler(handler)
    level = logger.level
    logger.setLevel(logging.INFO)
    try:
        message = await signed_message(echo_run, password="wrong", correlation_id="case-42")
        await post(echo_run, message)
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    refused = [line for line in lines if line.get("errorCode") == "Client.AuthenticationFailed"]
    assert refused and refused[0]["correlationId"] == "case-42"
    assert refused[0]["messageId"] == message["request"]["requestInfo"]["messageId"]
