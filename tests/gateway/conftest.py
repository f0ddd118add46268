"""A run with the echo provider behind the gateways, and a way to send it signed messages."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from typing import Any

import httpx
import pytest

from egov_sim.inprocess import Simulation
from gateway_protocol.client import build_signed_request
from gateway_protocol.envelope import ASYNC_PATH, SYNC_PATH
from simulation.settings import Settings


UNTIL_CLEARED = 10**6
"""async_max_attempts for a test whose message must still be ON_DELIVERY when it acts on it: at
most 0.2 s between attempts, the attempts last days, not the 0.35 s four of them take."""


def echo_settings(tmp_path, **overrides: Any) -> Settings:
    fields: dict[str, Any] = {
        # no synthetic population: the registries' fixtures are who the gateway tests look up,
        # and loading 10,000 persons was about half of each gateway test's CPU (py-spy)
        "data_dir": tmp_path / "echo-run", "seed_people": False, "population_size": 0,
        "async_retry_base": 0.05, "async_retry_cap": 0.2, "async_max_attempts": 4,
    }
    return Settings(**{**fields, **overrides})


@pytest.fixture
async def echo_run(tmp_path, request) -> AsyncIterator[Simulation]:
    """A run with the echo provider; settings changed by ``indirect`` parametrisation, e.g.
    ``@pytest.mark.parametrize("echo_run", [{"async_max_attempts": UNTIL_CLEARED}], indirect=True)``."""
    from simulation.database import drop_run
    from simulation.topology import SYSTEMS

    settings = echo_settings(tmp_path, **getattr(request, "param", {}))
    async with Simulation(settings, extra=("echo",)) as simulation:
        yield simulation
    await drop_run(settings, (*SYSTEMS, "simulation"))


async def signed_message(simulation: Simulation, *, late: timedelta = timedelta(0), **overrides: Any) -> dict:
    echo = simulation.runtime("echo")
    fields: dict[str, Any] = {
        "sender_id": "echo",
        "password": echo.credentials.password_of("echo"),
        "service_id": "ECHO_Central",
        "data": {"hello": "сәлем"},
        "message_date": await echo.now() - late,
    }
    fields.update(overrides)
    return build_signed_request(echo.identity, **fields).model_dump(mode="json", exclude_none=True)


async def post(simulation: Simulation, message: dict, *, channel: str = "sync", gateway: str = "gateway") -> httpx.Response:
    path = SYNC_PATH if channel == "sync" else ASYNC_PATH + "/sendMessage"
    async with simulation.client(gateway) as client:
        return await client.post(path, json=message)


async def processed(simulation: Simulation) -> dict[str, int]:
    async with simulation.client("echo") as client:
        return {row["messageId"]: row["times"] for row in (await client.get("/api/processed")).json()}


def credentials(run: Simulation) -> dict[str, str]:
    """The echo's sender credentials in ``run`` (its password is the run's own)."""
    return {"senderId": "echo", "password": run.credentials.password_of("echo")}


async def status_of(run, message_ids: list[str]) -> list[dict]:
    async with run.client("gateway") as gateway:
        reply = await gateway.post(ASYNC_PATH + "/getMessageStatus", json={**credentials(run), "messageIds": message_ids})
        assert reply.status_code == 200, reply.text
        return reply.json()["messages"]


CEILING = 120.0
"""Seconds a test waits for what it needs before calling it a hang (never a timing assertion)."""


async def wait_until(run, message_id: str, condition: Callable[[dict], bool], what: str) -> dict:
    """Poll the message's status until ``condition`` holds; fail only after :data:`CEILING`."""
    deadline = asyncio.get_running_loop().time() + CEILING
    while True:
        [status] = await status_of(run, [message_id])
        if condition(status):
            return status
        assert asyncio.get_running_loop().time() < deadline, f"still not {what} after {CEILING:g} s: {status}"
        await asyncio.sleep(0.05)


async def wait_for(run, message_id: str, state: str) -> dict:
    return await wait_until(run, message_id, lambda status: status["state"] == state, state)


async def send_async(run, **overrides) -> str:
    message = await signed_message(run, message_type=overrides.pop("message_type", "REQUEST"), **overrides)
    reply = await post(run, message, channel="async")
    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert body["deliveryState"] == "ON_DELIVERY" and body["status"]["code"] == "SCSS001"
    return body["messageId"]
