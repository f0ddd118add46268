"""The gateway's faults (gateway/faults.py): per service and per target system, each mode acted
out at the gateway's client so its own code answers, seeded probabilities and latencies, kept
across a restart (a data directory's faults of the first shape moved to the new table)."""

from __future__ import annotations

import math
import random

import pytest
from conftest import UNTIL_CLEARED, post, processed, send_async, signed_message, wait_for, wait_until

from gateway.faults import Fault
from gateway.models import FaultRule, FaultSwitch
from gateway.schemas import FaultRequest
from sqlmodel import select
from tests.conftest import gateway_fault


def _code(reply) -> str | None:
    return reply.json().get("errorInfo", {}).get("errorCode") if reply.status_code != 200 else None


@pytest.mark.parametrize("echo_run", [{"request_timeout": 1.0}], indirect=True)
async def test_each_mode_on_a_system_is_answered_by_the_gateways_own_code(echo_run):
    async with echo_run.client("gateway") as gateway:
        async def through(fault: dict):
            assert (await gateway.put("/admin/faults/systems/echo", json=fault)).status_code == 200
            message = await signed_message(echo_run)
            return message["request"]["requestInfo"]["messageId"], await post(echo_run, message)

        _, down = await through({"mode": "down"})
        assert "echo (fault switch on system:echo: down)" in gateway_fault(down, 502, "Server.ProviderUnavailable")["errorData"]["detail"]
        reset_id, reset = await through({"mode": "reset"})
        gateway_fault(reset, 502, "Server.ProviderUnavailable")
        assert (await processed(echo_run))[reset_id] == 1  # it went out: only the answer was lost
        _, malformed = await through({"mode": "malformed"})
        gateway_fault(malformed, 502, "Server.ProviderResponseInvalid")
        _, refused = await through({"mode": "error", "error_code": "Provider.NotFound"})
        gateway_fault(refused, 404, "Provider.NotFound")
        _, slow = await through({"mode": "slow", "latency": {"kind": "fixed", "ms": 50}})
        assert slow.status_code == 200, slow.text
        _, late = await through({"mode": "slow", "latency": {"kind": "fixed", "ms": 600_000}})
        gateway_fault(late, 504, "Server.ProviderTimeout")  # beyond request_timeout: the gateway gives up
        log = (await gateway.get("/v1/messages", params={"serviceId": "ECHO_Central", "kind": "response"})).json()
        assert [r["errorCode"] for r in log] == [
            "Server.ProviderUnavailable", "Server.ProviderUnavailable", "Server.ProviderResponseInvalid",
            "Provider.NotFound", None, "Server.ProviderTimeout",
        ]
        assert (await gateway.delete("/admin/faults/systems/echo")).json() == {"cleared": 1}
    assert (await post(echo_run, await signed_message(echo_run))).status_code == 200


async def test_a_service_fault_comes_before_its_systems_and_a_system_fault_reaches_the_regional_provider(echo_run):
    async with echo_run.client("gateway") as gateway, echo_run.client("gateway-almaty") as regional:
        await gateway.put("/admin/faults/systems/echo", json={"mode": "down"})
        await gateway.put("/admin/faults/ECHO_Central", json={"mode": "error", "error_code": "Provider.Refused"})
        gateway_fault(await post(echo_run, await signed_message(echo_run)), 409, "Provider.Refused")
        listed = (await gateway.get("/admin/faults")).json()
        assert listed["ECHO_Central"]["mode"] == "error" and listed["ECHO_Central"]["scope"] == "service"
        assert listed["system:echo"] == {"scope": "system", "name": "echo", "mode": "down", "latency": None,
                                         "error_code": None, "probability": 1.0, "seed": 0}
        # ECHO_Regional goes central -> gateway-almaty -> echo: its provider is echo at the centre too
        regional_message = await signed_message(echo_run, service_id="ECHO_Regional", route_id="almaty")
        gateway_fault(await post(echo_run, regional_message), 502, "Server.ProviderUnavailable")
        assert (await gateway.delete("/admin/faults")).json() == {"cleared": 2}
        # the same fault at the regional gateway only
        assert (await regional.put("/admin/faults/systems/echo", json={"mode": "malformed"})).status_code == 200
        assert (await post(echo_run, await signed_message(echo_run))).status_code == 200
        regional_message = await signed_message(echo_run, service_id="ECHO_Regional", route_id="almaty")
        gateway_fault(await post(echo_run, regional_message), 502, "Server.ProviderResponseInvalid")
        await regional.delete("/admin/faults")


async def test_a_fault_that_is_not_one_is_refused_naming_why(echo_run):
    async with echo_run.client("gateway") as gateway:
        for body, words in [
            ({"mode": "slow"}, "needs a latency"),
            ({"mode": "slow", "latency": {"kind": "uniform", "min_ms": 500, "max_ms": 100}}, "min_ms (500) is more than max_ms"),
            ({"mode": "slow", "latency": {"kind": "lognormal", "median_ms": 100, "sigma": 9}}, "sigma"),
            ({"mode": "slow", "latency": {"kind": "gamma", "ms": 5}}, "kind"),
            ({"mode": "down", "latency": {"kind": "fixed", "ms": 5}}, "latency (or delay_ms) is for mode 'slow'"),
            ({"mode": "slow", "delay_ms": 10, "error_code": "Provider.Refused"}, "error_code is for mode 'error'"),
            ({"mode": "error", "error_code": "Provider.Sorry"}, "not in the error catalogue"),
            ({"mode": "down", "probability": 1.5}, "probability"),
            ({"mode": "down", "seed": -1}, "seed"),
            ({"mode": "sideways"}, "mode"),
            ({"mode": "down", "colour": "red"}, "colour"),
        ]:
            for path in ("/admin/faults/ECHO_Central", "/admin/faults/systems/echo"):
                reply = await gateway.put(path, json=body)
                assert reply.status_code == 422 and words in reply.text, (path, body, reply.text)
        unknown = await gateway.put("/admin/faults/systems/nowhere", json={"mode": "down"})
        assert unknown.status_code == 422 and unknown.json()["fields"][0]["field"] == "system", unknown.text
        assert (await gateway.get("/admin/faults")).json() == {}


async def test_a_fault_with_a_probability_strikes_as_its_seed_draws(echo_run):
    draws = random.Random(7)
    expected = [draws.random() < 0.5 for _ in range(12)]
    assert any(expected) and not all(expected)  # the seed gives both outcomes
    async with echo_run.client("gateway") as gateway:
        for _ in range(2):  # set again: the draws start again from the seed
            fault = {"mode": "error", "error_code": "Provider.Refused", "probability": 0.5, "seed": 7}
            assert (await gateway.put("/admin/faults/ECHO_Central", json=fault)).status_code == 200
            struck = [_code(await post(echo_run, await signed_message(echo_run))) == "Provider.Refused"
                      for _ in range(12)]
            assert struck == expected
        await gateway.put("/admin/faults/ECHO_Central", json={"mode": "down", "probability": 0})
        assert (await post(echo_run, await signed_message(echo_run))).status_code == 200


def test_latencies_are_drawn_from_the_seeded_generator():
    def fault(latency: dict, seed: int = 3) -> Fault:
        return Fault("service", "X", FaultRequest(mode="slow", latency=latency, seed=seed))

    fixed = fault({"kind": "fixed", "ms": 250})
    assert [fixed.latency_s() for _ in range(3)] == [0.25] * 3
    uniform = fault({"kind": "uniform", "min_ms": 100, "max_ms": 300})
    reference = random.Random(3)
    drawn = [uniform.latency_s() for _ in range(50)]
    assert drawn == [reference.uniform(100, 300) / 1000 for _ in range(50)]
    assert all(0.1 <= d <= 0.3 for d in drawn)
    lognormal = fault({"kind": "lognormal", "median_ms": 200, "sigma": 0.5}, seed=11)
    reference = random.Random(11)
    assert [lognormal.latency_s() for _ in range(20)] == [
        reference.lognormvariate(math.log(200), 0.5) / 1000 for _ in range(20)
    ]
    # the older shape: delay_ms is a fixed latency, unreachable is down
    old = FaultRequest(mode="slow", delay_ms=300)
    assert old.latency is not None and old.latency.ms == 300 and "delay_ms" not in old.described()
    assert FaultRequest(mode="unreachable").mode == "down"


@pytest.mark.parametrize("echo_run", [{"async_max_attempts": UNTIL_CLEARED}], indirect=True)
async def test_an_async_delivery_reset_half_the_time_is_delivered_and_processed_once(echo_run):
    seed = next(s for s in range(100) if random.Random(s).random() < 0.5)  # the first attempt is struck
    async with echo_run.client("gateway") as gateway:
        fault = {"mode": "reset", "probability": 0.5, "seed": seed}
        assert (await gateway.put("/admin/faults/systems/echo", json=fault)).status_code == 200
        message_id = await send_async(echo_run)
        delivered = await wait_for(echo_run, message_id, "DELIVERED")
        await gateway.delete("/admin/faults")
    assert delivered["attempts"] >= 2
    assert (await processed(echo_run))[message_id] == 1  # each retry found its first answer


@pytest.mark.parametrize("echo_run", [{"async_max_attempts": UNTIL_CLEARED}], indirect=True)
async def test_an_async_delivery_is_retried_through_a_malformed_answer_until_cleared(echo_run):
    async with echo_run.client("gateway") as gateway:
        await gateway.put("/admin/faults/ECHO_Central", json={"mode": "malformed"})
        message_id = await send_async(echo_run)
        pending = await wait_until(echo_run, message_id, lambda s: s["attempts"] >= 2, "tried twice")
        assert pending["state"] == "ON_DELIVERY" and pending["lastError"].startswith("Server.ProviderResponseInvalid")
        await gateway.delete("/admin/faults/ECHO_Central")
    assert (await wait_for(echo_run, message_id, "DELIVERED"))["attempts"] >= 3
    assert (await processed(echo_run))[message_id] == 1


async def test_faults_survive_a_restart_and_old_ones_move_to_the_new_table(echo_run):
    runtime = echo_run.runtime("gateway")
    async with runtime.db.session() as session:  # as a data directory of the first shape holds it
        session.add(FaultSwitch(service_id="ECHO_Regional", mode="slow", delay_ms=40))
        session.add(FaultSwitch(service_id="GK_ResultDelivery", mode="slow", delay_ms=0))  # never valid: dropped
        await session.commit()
    async with echo_run.client("gateway") as gateway:
        fault = {"mode": "error", "error_code": "Provider.Refused", "probability": 0.5, "seed": 7}
        await gateway.put("/admin/faults/ECHO_Central", json=fault)
        await gateway.put("/admin/faults/systems/registries", json={"mode": "down"})
    await echo_run.restart("gateway")
    async with echo_run.client("gateway") as gateway:
        listed = (await gateway.get("/admin/faults")).json()
    assert set(listed) == {"ECHO_Central", "system:registries", "ECHO_Regional"}
    assert listed["ECHO_Central"]["probability"] == 0.5 and listed["ECHO_Central"]["seed"] == 7
    assert listed["ECHO_Regional"]["mode"] == "slow" and listed["ECHO_Regional"]["latency"] == {"kind": "fixed", "ms": 40}
    draws = random.Random(7)
    first = _code(await post(echo_run, await signed_message(echo_run)))
    assert (first == "Provider.Refused") == (draws.random() < 0.5)  # the draws start from the seed again
    async with echo_run.runtime("gateway").db.session() as session:
        assert (await session.exec(select(FaultSwitch))).all() == []
        assert len((await session.exec(select(FaultRule))).all()) == 3


async def test_only_the_admin_sets_faults(echo_run):
    for role, status in [(None, 401), ("auditor", 403)]:
        async with echo_run.client("gateway", role=role) as gateway:
            assert (await gateway.put("/admin/faults/systems/echo", json={"mode": "down"})).status_code == status
            assert (await gateway.delete("/admin/faults/systems/echo")).status_code == status
    async with echo_run.client("gateway", role="auditor") as gateway:
        assert (await gateway.get("/admin/faults")).json() == {}
