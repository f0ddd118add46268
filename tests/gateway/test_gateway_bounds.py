"""No input answers 500: every number and string the gateway takes has bounds and is refused,
naming the field, beyond them; a service needs a reachable target; a message whose target cannot
be reached ends with its reason, on both channels, and stays ended."""

from __future__ import annotations

import httpx
from conftest import (
    UNTIL_CLEARED, credentials, echo_settings, post, processed, send_async, signed_message, status_of, wait_for,
    wait_until,
)
from sqlalchemy import update

from egov_sim.inprocess import Simulation
from gateway.schemas import MAX_NOTICE
from gateway.models import AsyncMessage
from gateway.service import MAX_ENVELOPE_BYTES
from gateway_protocol.envelope import ASYNC_PATH, SYNC_PATH
from simulation.database import Database, drop_run
from simulation.topology import SYSTEMS

HUGE = 1180591620717411303424  # 2**70: the number of the report, beyond SQLite's integers


def _query_refusal(reply: httpx.Response, field: str) -> dict:
    """A refused async-channel query: Client.QueryInvalid, texts in three languages, the field."""
    assert reply.status_code == 400, reply.text
    info = reply.json()["errorInfo"]
    assert info["errorCode"] == "Client.QueryInvalid"
    assert info["errorData"]["message_kk"] and info["errorData"]["message_ru"]
    assert field in [f["field"] for f in info["errorData"]["fields"]], info
    assert field in info["errorMessage"]
    return info


def _refusal(reply: httpx.Response, field: str, status: int = 422) -> dict:
    """A refused request to the log or administration API: invalid_request with the field."""
    assert reply.status_code == status, reply.text
    body = reply.json()
    assert body["message_kk"] and body["message_ru"]
    assert field in [f["field"] for f in body["fields"]], body
    return body


async def test_a_notice_number_beyond_its_bounds_is_refused_naming_it(echo_run):
    async with echo_run.client("gateway") as gateway:
        notices = ASYNC_PATH + "/getDeliveryNotifications"
        for after in (HUGE, 2**63, MAX_NOTICE + 1, -1, "7", 1.5, True):
            _query_refusal(await gateway.post(notices, json={**credentials(echo_run), "after": after}), "after")
        last = await gateway.post(notices, json={**credentials(echo_run), "after": MAX_NOTICE})
        assert last.status_code == 200 and last.json() == {"notifications": []}
        _query_refusal(await gateway.post(notices, content=b"not json"), "body")
        _query_refusal(await gateway.post(notices, json={"senderId": "echo", "after": 0}), "password")
        _query_refusal(await gateway.post(notices, json={**credentials(echo_run), "senderId": "e" * 101}), "senderId")


async def test_a_status_query_beyond_its_bounds_is_refused_naming_the_field(echo_run):
    async with echo_run.client("gateway") as gateway:
        status = ASYNC_PATH + "/getMessageStatus"
        for ids, field in (
            ([], "messageIds"), (["m"] * 1001, "messageIds"), (["m" * 101], "messageIds.0"),
            (["ok", "a\x00b"], "messageIds.1"), ([HUGE], "messageIds.0"),
        ):
            _query_refusal(await gateway.post(status, json={**credentials(echo_run), "messageIds": ids}), field)
    [unknown] = await status_of(echo_run, ["m" * 100])
    assert unknown["error"] == "Client.UnknownMessage"


async def test_the_log_and_administration_refuse_what_is_out_of_bounds(echo_run):
    async with echo_run.client("gateway") as gateway:
        for params, field in (
            ({"limit": HUGE}, "limit"), ({"limit": 0}, "limit"), ({"kind": "everything"}, "kind"),
            ({"since": "2026-01-01T00:00:00"}, "since"), ({"messageId": "m" * 101}, "messageId"),
            ({"correlationId": "\x00"}, "correlationId"),
        ):
            _refusal(await gateway.get("/v1/messages", params=params), field)
        _refusal(await gateway.get("/v1/messages/evidence", params={"correlationId": "c" * 101}), "correlationId")
        _refusal(await gateway.put("/admin/faults/ECHO_Central", json={"mode": "slow", "delay_ms": HUGE}), "delay_ms")
        _refusal(await gateway.put("/admin/participants/echo", json={"services": ["ECHO_Central"] * 1001}), "services")
        _refusal(await gateway.put("/admin/participants/echo", json={"services": [], "password": "p" * 201}), "password")
        _refusal(await gateway.post(f"/admin/async/echo/{'m' * 101}/stop"), "message_id")
        _refusal(await gateway.put(f"/admin/services/{'S' * 101}", json={"system": "echo"}), "service_id")
        _refusal(await gateway.delete("/admin/participants/registries"), "sender_id", 404)
        _refusal(await gateway.delete("/admin/services/NoSuchService"), "service_id", 404)
        # what is within the bounds still works
        assert (await gateway.get("/v1/messages", params={"limit": 10_000, "since": "2026-01-01T00:00:00+05:00"})).status_code == 200
        assert (await gateway.get("/admin/faults")).json() == {}


async def test_an_envelope_with_a_control_character_or_too_big_is_refused(echo_run):
    message = await signed_message(echo_run)
    message["request"]["requestInfo"]["messageId"] = "a\x00b"
    for channel in ("sync", "async"):
        reply = await post(echo_run, message, channel=channel)
        assert reply.status_code == 400, reply.text
        assert reply.json()["errorInfo"]["errorCode"] == "Client.EnvelopeInvalid"
        assert "messageId" in reply.json()["errorInfo"]["errorMessage"]
    async with echo_run.client("gateway") as gateway:
        reply = await gateway.post(SYNC_PATH, content=b" " * (MAX_ENVELOPE_BYTES + 1))
    assert reply.status_code == 400 and reply.json()["errorInfo"]["errorCode"] == "Client.EnvelopeInvalid"
    assert "body" in reply.json()["errorInfo"]["errorMessage"]


async def test_a_service_without_a_reachable_target_is_refused_naming_the_field(echo_run):
    async with echo_run.client("gateway") as gateway:
        before = (await gateway.get("/admin/config")).json()
        body = _refusal(await gateway.put("/admin/services/ECHO_Central", json={"system": "nosuch"}),
                        "services.ECHO_Central.system")
        assert "nosuch" in body["message"]
        _refusal(await gateway.put("/admin/services/NEW_Service", json={"system": "gateway-almaty"}),
                 "services.NEW_Service.system")
        _refusal(await gateway.put("/admin/services/NEW_Service", json={"regional": True}), "services.NEW_Service.regional")
        _refusal(await gateway.put("/admin/services/ECHO_Regional", json={"system": "echo"}),
                 "regions.almaty.services.ECHO_Regional")
        _refusal(await gateway.delete("/admin/services/ECHO_Regional"), "participants.echo.services")
        assert (await gateway.get("/admin/config")).json() == before
        # a target that takes gateway messages is taken
        assert (await gateway.put("/admin/services/NEW_Service", json={"system": "echo"})).json() == {"saved": True}
    assert (await post(echo_run, await signed_message(echo_run))).status_code == 200


def _hand_edit(run, old: str, new: str) -> None:
    path = run.settings.data_dir.resolve() / "gateway" / "participants.yaml"
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new), encoding="utf-8")


async def test_a_hand_edited_target_ends_each_message_with_its_reason(echo_run):
    _hand_edit(echo_run, "ECHO_Central: {system: echo}", "ECHO_Central: {system: nosuch}")
    sync = await post(echo_run, await signed_message(echo_run))
    assert sync.status_code == 502, sync.text
    info = sync.json()["errorInfo"]
    assert info["errorCode"] == "Server.TargetUnknown" and "'nosuch'" in info["errorMessage"]
    assert info["errorData"]["side"] == "gateway" and info["errorData"]["message_kk"]

    message_id = await send_async(echo_run)
    ended = await wait_until(echo_run, message_id, lambda s: s["state"] != "ON_DELIVERY", "ended")
    assert ended["state"] == "NOT_DELIVERED" and ended["attempts"] == 1
    assert ended["lastError"].startswith("Server.TargetUnknown") and "'nosuch'" in ended["lastError"]
    async with echo_run.client("gateway") as gateway:
        notices = (await gateway.post(ASYNC_PATH + "/getDeliveryNotifications", json={**credentials(echo_run), "after": 0})).json()
        assert [(n["messageId"], n["state"]) for n in notices["notifications"]] == [(message_id, "NOT_DELIVERED")]
        # The regional path fails the same way when its provider is edited away.
        _hand_edit(echo_run, "ECHO_Regional: echo", "ECHO_Regional: nosuch")
        regional = await post(echo_run, await signed_message(echo_run, service_id="ECHO_Regional", route_id="almaty"))
        assert regional.status_code == 502 and regional.json()["errorInfo"]["errorCode"] == "Server.TargetUnknown"
        # Problems already in the file do not block an unrelated change; the change that fixes one is taken.
        unrelated = await gateway.put("/admin/participants/echo", json={"services": ["ECHO_Central", "ECHO_Regional"]})
        assert unrelated.status_code == 200, unrelated.text
        assert (await gateway.put("/admin/services/ECHO_Central", json={"system": "echo"})).status_code == 200
    assert (await post(echo_run, await signed_message(echo_run))).status_code == 200
    assert message_id not in await processed(echo_run)


async def test_a_stuck_message_ends_not_delivered_and_is_not_tried_after_a_restart(tmp_path):
    """A message stored for a target the gateway cannot reach (as the admin API let a service be
    set to before) ends NOT_DELIVERED with its reason once the gateway starts, and stays so."""
    settings = echo_settings(tmp_path, async_max_attempts=UNTIL_CLEARED)
    try:
        async with Simulation(settings, extra=("echo",)) as run:
            async with run.client("gateway") as gateway:
                await gateway.put("/admin/faults/ECHO_Central", json={"mode": "unreachable"})
            stuck = await send_async(run)
            await wait_until(run, stuck, lambda s: s["attempts"] >= 1, "tried once")
        database = Database(settings, "gateway")
        try:
            async with database.session() as session:
                await session.exec(
                    update(AsyncMessage).where(AsyncMessage.message_id == stuck).values(recipient="nosuch", next_attempt=0)
                )
                await session.commit()
        finally:
            await database.dispose()

        async with Simulation(settings, extra=("echo",)) as run:
            ended = await wait_until(run, stuck, lambda s: s["state"] != "ON_DELIVERY", "ended")
            assert ended["state"] == "NOT_DELIVERED"
            assert ended["lastError"].startswith("Server.TargetUnknown") and "'nosuch'" in ended["lastError"]

        async with Simulation(settings, extra=("echo",)) as run:
            async with run.client("gateway") as gateway:
                await gateway.delete("/admin/faults")
            # once a later message is delivered, the delivery loop has been through the store
            await wait_for(run, await send_async(run), "DELIVERED")
            [after_restart] = await status_of(run, [stuck])
            assert after_restart == ended
            assert stuck not in await processed(run)
    finally:
        await drop_run(settings, (*SYSTEMS, "simulation"))
