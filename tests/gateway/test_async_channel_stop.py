"""The async channel's stop: a delivery attempt under way ends before the gateway stops (its
database is disposed of only then), and the message it carried is tried again after the restart."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from conftest import CEILING, UNTIL_CLEARED, send_async, wait_for

from egov_sim.inprocess import Simulation


def _attempts() -> set[asyncio.Task]:
    return {task for task in asyncio.all_tasks()
            if getattr(task.get_coro(), "__qualname__", "") == "AsyncDelivery._attempt"}


@pytest.mark.parametrize("echo_run", [{"async_max_attempts": UNTIL_CLEARED}], indirect=True)
async def test_a_stopping_gateway_waits_for_its_delivery_under_way(echo_run: Simulation):
    echo_url = httpx.URL(echo_run.settings.url_of("echo"))
    reached, release = asyncio.Event(), asyncio.Event()

    async def hold_the_delivery(request: httpx.Request) -> None:
        if (request.url.host, request.url.port) == (echo_url.host, echo_url.port) and not release.is_set():
            reached.set()
            await release.wait()  # the provider takes for ever to answer

    echo_run.transport.interceptors.append(hold_the_delivery)
    message_id = await send_async(echo_run)
    await asyncio.wait_for(reached.wait(), CEILING)
    under_way = _attempts()
    assert under_way, "no delivery attempt is under way"

    await echo_run.restart("gateway")  # the old gateway's stop, then a new one on the same data
    assert all(task.done() for task in under_way), "an attempt outlived the gateway it belonged to"

    release.set()
    delivered = await wait_for(echo_run, message_id, "DELIVERED")  # taken up again after the restart
    assert delivered["attempts"] == 1
