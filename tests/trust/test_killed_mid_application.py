"""SIGKILL the provider's workstation while an application waits at it between staff steps: after
a restart on its own data the walk goes on from where it stood, every staff step is done once,
and the citizen gets the result at the State Corporation (docs/reliability.md, row F15)."""

from __future__ import annotations

import os
import signal
import sys
from collections import Counter

import httpx
import pytest

from egov_sim.ports import free_base_port
from egov_sim.up import Cluster
from simulation.access import TOKEN_HEADER
from simulation.credentials import RunCredentials
from simulation.database import drop_run
from simulation.settings import Settings
from simulation.topology import SYSTEMS
from tests.conftest import WORKING_MONDAY

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="forks and POSIX signals")
CEILING = 180.0
"""Seconds to wait for what the test needs before calling it a hang (never a timing assertion)."""
APPLICANT = "851102304571"
"""A person of the registries' fixtures whose almaty-queue application is approved."""


async def test_a_provider_killed_between_staff_steps_finishes_the_application_once(tmp_path):
    settings = Settings(data_dir=tmp_path / "run", base_port=free_base_port(), population_size=300,
                        clock_start=WORKING_MONDAY)
    cluster = Cluster(settings)
    try:
        cluster.start(first_timeout=CEILING)
        cluster.wait_healthy(CEILING)
        ws, control = settings.url_of("corporation_ws"), settings.url_of("control")
        admin = {TOKEN_HEADER: RunCredentials.of(settings).admin_token}  # read from the data directory
        with httpx.Client(timeout=CEILING, headers=admin) as http:
            session = http.post(f"{ws}/api/operator/sessions").json()["session"]
            operator = {"Authorization": f"Bearer {session}"}
            ticket = http.post(f"{ws}/api/tickets", params={"reglament": "almaty-queue"}).json()["ticket"]
            reply = http.post(f"{ws}/api/applications", headers=operator, json={
                "reglament": "almaty-queue", "ticket": ticket, "applicant_iin": APPLICANT,
                "presented_documents": ["identity", "family-composition", "incomes", "category"],
                "form": {"queueList": "socially-vulnerable"}})
            assert reply.status_code == 200, reply.text
            application_id = reply.json()["id"]

            def position() -> dict:
                answer = http.get(f"{control}/positions/{application_id}")
                assert answer.status_code == 200, answer.text
                return answer.json()

            # on to the provider, then one staff step further: the walk stands between two of them
            for _ in range(100):
                if position()["system"] == "provider_ws":
                    break
                assert http.post(f"{control}/clock/next").json()["moved"], position()
            else:
                pytest.fail(f"the application never reached the provider: {position()}")
            stood_at = position()["step"]
            while position()["step"] == stood_at:
                assert http.post(f"{control}/clock/next").json()["moved"], position()
            mid = position()
            assert mid["system"] == "provider_ws" and not mid["outcome"], mid

            killed = cluster.processes["provider_ws"]
            os.kill(killed.pid, signal.SIGKILL)  # a crash: no shutdown, nothing flushed
            killed.wait(CEILING)
            assert position()["step"] == mid["step"]  # the run's store kept where it stood
            cluster.restart("provider_ws")
            cluster.wait_healthy(CEILING, ["provider_ws"])

            assert http.post(f"{control}/clock/run", timeout=CEILING).status_code == 200
            done = position()
            assert done["outcome"] == "decided", done  # the walk's end at the State Corporation
            trace = http.get(f"{control}/trace/{application_id}").json()
            view = http.get(f"{ws}/api/applications/{application_id}", headers=operator).json()
        steps = Counter(event["step"] for event in trace if event.get("system") == "provider_ws" and event.get("step"))
        assert steps and set(steps.values()) == {1}, steps  # no staff step lost or done twice
        assert view["status"] == "result" and view["registrationNumber"], view
        assert view["result"]["document"]["queue"]["sequenceNumber"] == 1, view["result"]  # approved, queued once
    finally:
        cluster.stop()
        await drop_run(settings, (*SYSTEMS, "simulation"))
