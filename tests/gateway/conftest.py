"""A run with the echo provider behind the gateways, and a way to send it signed messages."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import pytest

from egov_sim.inprocess import Simulation
from gateway_protocol.client import build_signed_request
from gateway_protocol.envelope import ASYNC_PATH, SYNC_PATH
from simulation.settings import Settings
from simulation.topology import sender_password


@pytest.fixture
async def echo_run(tmp_path) -> AsyncIterator[Simulation]:
    from simulation.database import drop_run
    from simulation.topology import SYSTEMS

    settings = Settings(
        data_dir=tmp_path / "echo-run", seed_people=False,
        async_retry_base=0.05, async_retry_cap=0.2, async_max_attempts=4,
    )
    async with Simulation(settings, extra=("echo",)) as simulation:
        yield simulation
    await drop_run(settings, (*SYSTEMS, "simulation"))


async def signed_message(simulation: Simulation, *, late: timedelta = timedelta(0), **overrides: Any) -> dict:
    echo = simulation.runtime("echo")
    fields: dict[str, Any] = {
        "sender_id": "echo",
        "password": sender_password("echo"),
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
