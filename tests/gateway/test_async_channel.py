"""The async channel: accepted at once, delivered later, with states, retries and notices."""

from __future__ import annotations

import asyncio

import pytest
from conftest import (
    UNTIL_CLEARED, credentials, post, processed, send_async, signed_message, status_of, wait_for, wait_until,
)

from gateway_protocol.envelope import ASYNC_PATH


async def test_accepted_then_delivered_with_a_notice(echo_run):
    message_id = await send_async(echo_run, correlation_id="corr-1")
    delivered = await wait_for(echo_run, message_id, "DELIVERED")
    assert delivered["attempts"] == 1
    assert delivered["response"]["response"]["responseData"]["data"]["echo"] == {"hello": "сәлем"}
    assert (await processed(echo_run))[message_id] == 1
    async with echo_run.client("gateway") as gateway:
        notices = (await gateway.post(ASYNC_PATH + "/getDeliveryNotifications", json={**credentials(echo_run), "after": 0})).json()
        log = (await gateway.get("/v1/messages", params={"correlationId": "corr-1", "kind": "all"})).json()
    [notice] = notices["notifications"]
    assert notice["messageId"] == message_id and notice["state"] == "DELIVERED"
    assert [(r["kind"], r["status"]) for r in log] == [("request", "ON_DELIVERY"), ("response", "DELIVERED")]


@pytest.mark.parametrize("echo_run", [{"async_max_attempts": UNTIL_CLEARED}], indirect=True)
async def test_retries_while_the_target_is_down(echo_run):
    async with echo_run.client("gateway") as gateway:
        await gateway.put("/admin/faults/ECHO_Central", json={"mode": "unreachable"})
        message_id = await send_async(echo_run)
        pending = await wait_until(
            echo_run, message_id, lambda status: status["attempts"] >= 1 and status["lastError"], "tried once"
        )
        assert pending["state"] == "ON_DELIVERY"
        assert pending["lastError"].startswith("Server.ProviderUnavailable")
        assert message_id not in await processed(echo_run)
        await gateway.delete("/admin/faults/ECHO_Central")
    delivered = await wait_for(echo_run, message_id, "DELIVERED")
    assert delivered["attempts"] >= 2


async def test_not_delivered_when_attempts_run_out_or_the_target_refuses(echo_run):
    async with echo_run.client("gateway") as gateway:
        await gateway.put("/admin/faults/ECHO_Central", json={"mode": "unreachable"})
        exhausted = await send_async(echo_run)
        status = await wait_for(echo_run, exhausted, "NOT_DELIVERED")
        assert status["attempts"] == 4  # async_max_attempts of the test run
        await gateway.put("/admin/faults/ECHO_Central", json={"mode": "error", "error_code": "Provider.RequestInvalid"})
        refused = await send_async(echo_run)
        status = await wait_for(echo_run, refused, "NOT_DELIVERED")
        assert status["attempts"] == 1 and status["lastError"].startswith("Provider.RequestInvalid")


@pytest.mark.parametrize("echo_run", [{"async_max_attempts": UNTIL_CLEARED}], indirect=True)
async def test_an_operator_stops_delivery(echo_run):
    async with echo_run.client("gateway") as gateway:
        await gateway.put("/admin/faults/ECHO_Central", json={"mode": "unreachable"})
        message_id = await send_async(echo_run)
        stopped = await gateway.post(f"/admin/async/echo/{message_id}/stop")
        assert stopped.json()["state"] == "DELIVERY_STOPPED"
        await gateway.delete("/admin/faults")
        await asyncio.sleep(0.4)
        unknown = await gateway.post("/admin/async/echo/nope/stop")
        assert unknown.status_code == 404 and unknown.json()["errorInfo"]["errorCode"] == "Client.UnknownMessage"
    [status] = await status_of(echo_run, [message_id])
    assert status["state"] == "DELIVERY_STOPPED"
    assert message_id not in await processed(echo_run)


async def test_refusals_on_the_async_channel(echo_run):
    no_type = await signed_message(echo_run)
    reply = await post(echo_run, no_type, channel="async")
    assert reply.status_code == 400 and reply.json()["errorInfo"]["errorCode"] == "Client.MessageTypeMissing"
    forged = await signed_message(echo_run, message_type="REQUEST")
    forged["request"]["requestData"]["data"]["hello"] = "forged"
    reply = await post(echo_run, forged, channel="async")
    assert reply.json()["errorInfo"]["errorCode"] == "Client.SignatureInvalid"
    async with echo_run.client("gateway") as gateway:
        wrong = await gateway.post(ASYNC_PATH + "/getMessageStatus",
                                   json={"senderId": "echo", "password": "x", "messageIds": ["a"]})
        assert wrong.json()["errorInfo"]["errorCode"] == "Client.AuthenticationFailed"
    [unknown] = await status_of(echo_run, ["never-sent"])
    assert unknown["state"] is None and unknown["error"] == "Client.UnknownMessage"


async def test_a_repeated_async_message_is_accepted_once(echo_run):
    message = await signed_message(echo_run, message_type="NOTIFICATION")
    first, again = await post(echo_run, message, channel="async"), await post(echo_run, message, channel="async")
    assert first.json() == again.json()
    message_id = message["request"]["requestInfo"]["messageId"]
    await wait_for(echo_run, message_id, "DELIVERED")
    assert (await processed(echo_run))[message_id] == 1
