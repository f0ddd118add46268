"""SIGKILL the gateway while async messages are in flight: after a restart every accepted message
is delivered exactly once and reports DELIVERED."""

from __future__ import annotations

import os
import signal
import sys
import time
from datetime import datetime

import httpx
import pytest

from egov_sim.ports import free_base_port
from egov_sim.up import Cluster
from gateway_protocol.client import build_signed_request
from gateway_protocol.envelope import ASYNC_PATH
from signatures.identity import Identity
from simulation.database import drop_run
from simulation.settings import Settings
from simulation.access import TOKEN_HEADER
from simulation.credentials import RunCredentials
from simulation.topology import SYSTEMS

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="forks and signals")
SYSTEMS_NEEDED = ["signatures", "control", "gateway", "echo"]
CEILING = 120.0
"""Seconds to wait for what the test needs before calling it a hang (never a timing assertion)."""
DELIVERY_MS = 3000
"""How long the slow fault holds each delivery. The test kills the gateway as soon as it sees a
first message arrive, which is after the last one was accepted: that one (and those that wait for
a free delivery slot) is still on its way unless the test stalls this long between the two."""


def test_a_killed_gateway_delivers_every_accepted_message_once(tmp_path):
    settings = Settings(
        data_dir=tmp_path / "run", base_port=free_base_port(), seed_people=False,
        async_retry_base=0.1, async_retry_cap=0.5,
    )
    cluster = Cluster(settings, SYSTEMS_NEEDED)
    cluster.start(first_timeout=CEILING)
    try:
        cluster.wait_healthy(CEILING)
        gateway, control, echo = (settings.url_of(s) for s in ("gateway", "control", "echo"))
        identity = Identity.load(settings.data_dir.resolve() / "keys" / "echo.p12")
        run = RunCredentials.of(settings)
        CREDENTIALS = {"senderId": "echo", "password": run.password_of("echo")}
        with httpx.Client(timeout=CEILING, headers={TOKEN_HEADER: run.admin_token}) as http:
            assert http.put(f"{gateway}/admin/faults/ECHO_Central", json={"mode": "slow", "delay_ms": DELIVERY_MS}).status_code == 200
            now = datetime.fromisoformat(http.get(f"{control}/clock").json()["now"])
            accepted = []
            for n in range(60):
                message = build_signed_request(
                    identity, sender_id="echo", password=CREDENTIALS["password"], service_id="ECHO_Central",
                    data={"n": n}, message_date=now, message_type="REQUEST",
                )
                reply = http.post(f"{gateway}{ASYNC_PATH}/sendMessage", json=message.model_dump(mode="json", exclude_none=True))
                assert reply.status_code == 200, reply.text
                accepted.append(reply.json()["messageId"])
            # Kill it once some messages have been delivered and the rest are on their way.
            deadline = time.monotonic() + CEILING
            while not (before := {row["messageId"] for row in http.get(f"{echo}/api/processed").json()}):
                assert time.monotonic() < deadline, "nothing was delivered"
                time.sleep(0.02)

            killed = cluster.processes["gateway"]
            os.kill(killed.pid, signal.SIGKILL)
            killed.wait(CEILING)
            cluster.restart("gateway")
            cluster.wait_healthy(CEILING)
            http.delete(f"{gateway}/admin/faults")

            deadline = time.monotonic() + CEILING
            while True:
                states = http.post(f"{gateway}{ASYNC_PATH}/getMessageStatus", json={**CREDENTIALS, "messageIds": accepted}).json()["messages"]
                if all(s["state"] == "DELIVERED" for s in states):
                    break
                assert time.monotonic() < deadline, [s for s in states if s["state"] != "DELIVERED"][:3]
                time.sleep(0.2)
            processed = {row["messageId"]: row["times"] for row in http.get(f"{echo}/api/processed").json()}
        assert 0 < len(before) < len(accepted), "the kill should fall in the middle of the deliveries"
        assert set(processed) == set(accepted)
        assert set(processed.values()) == {1}, {k: v for k, v in processed.items() if v != 1}
    finally:
        cluster.stop()
        import asyncio

        asyncio.run(drop_run(settings, (*SYSTEMS, "simulation")))
