"""`egov-sim up` supervises its systems: a killed one comes back on its own data, one that keeps
failing makes up give up; `--only` starts a subset; every system's process logs JSON lines."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import sys
import uuid
from datetime import datetime

import httpx
import pytest
from up_process import UpProcess, alive

from egov_sim.citizen import DEMO_CITIZEN, apply_on_portal
from egov_sim.ports import free_base_port
from gateway_protocol.client import build_signed_request
from gateway_protocol.envelope import ASYNC_PATH, SYNC_PATH
from signatures.identity import Identity
from simulation.access import TOKEN_HEADER
from simulation.database import drop_run
from simulation.settings import Settings
from simulation.credentials import RunCredentials
from simulation.topology import SYSTEMS

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="forks and POSIX signals")


@pytest.fixture
async def settings(tmp_path):
    settings = Settings(data_dir=tmp_path / "run", base_port=free_base_port())
    yield settings
    await drop_run(settings, (*SYSTEMS, "simulation"))


def _up(settings: Settings, *args: str, env: dict[str, str] | None = None) -> UpProcess:
    return UpProcess("--base-port", str(settings.base_port), "--data-dir", str(settings.data_dir), *args, env=env)


async def test_a_killed_system_comes_back_on_its_data_and_a_later_application_completes(settings):
    up = _up(settings)
    try:
        up.wait_until_up()
        killed = up.pids()["portal"]
        key_storage = settings.data_dir.resolve() / "keys" / "portal.p12"
        identity = key_storage.read_bytes()
        since = up.mark()
        os.kill(killed, signal.SIGKILL)  # a crash, as abrupt as they come
        up.wait_for(r"portal exited with signal SIGKILL; restarting it in 1 s", since=since)
        back = int(up.wait_for(r"portal is up again \(pid (\d+)\)", since=since)[1])
        assert back != killed and alive(back) and not alive(killed)
        # its state is where it was: the same key storage, not a new enrolment
        assert key_storage.read_bytes() == identity

        admin = {TOKEN_HEADER: RunCredentials.of(settings).admin_token}  # from the data directory
        outcome = await apply_on_portal(
            lambda system: httpx.AsyncClient(base_url=settings.url_of(system), timeout=60, headers=admin),
            "almaty-queue", DEMO_CITIZEN,
        )
        if outcome.application["status"] != "result":  # say what the run left behind
            async with httpx.AsyncClient(base_url=settings.url_of("control"), headers=admin) as control:
                timers = (await control.get("/timers")).json()
            pytest.fail(f"application {outcome.application['status']}; timers: {timers}; "
                        f"trace: {outcome.trace}; up printed:\n{up.output()[-20000:]}")
        assert outcome.application["result"]["verdict"]["valid"] is True
        assert up.process.poll() is None  # the others ran on throughout
    finally:
        code = up.stop()
    assert code == 0, up.output()
    assert "All systems stopped." in up.output()


async def test_a_system_that_keeps_failing_makes_up_give_up(settings):
    # The portal's port is taken: each start of the portal ends with "address already in use".
    with socket.socket() as squatter:
        squatter.bind((settings.host, settings.port_of("portal")))
        squatter.listen()
        up = _up(settings, "--only", "signatures", "portal", "--max-restarts", "2", "--restart-window", "600")
        try:
            code = up.wait()
        finally:
            up.stop()
    out = up.output()
    assert code == 1, out
    # uvicorn ends a server that cannot bind with its own code (3); a pause that doubles
    assert re.search(r"portal exited with exit code [1-9]\d*; restarting it in 1 s", out), out
    assert re.search(r"portal exited with exit code [1-9]\d*; restarting it in 2 s", out), out
    assert re.search(r"portal exited 3 times within 600 s \(the last time with exit code [1-9]\d*\); "
                     r"giving up after 2 restart\(s\): stopping the others", out), out
    assert "All systems stopped." in out
    # the portal said why, in its own log lines
    portal_lines = [json.loads(line) for line in up.stderr if line.startswith("{")]
    assert any(line["system"] == "portal" and "address already in use" in line["message"] for line in portal_lines), out
    with httpx.Client(timeout=5) as client:  # signatures was stopped with it
        with pytest.raises(httpx.TransportError):
            client.get(settings.url_of("signatures") + "/health")


def test_only_refuses_an_unknown_system_naming_the_valid_ones(settings):
    up = _up(settings, "--only", "portal", "nosuch")
    assert up.wait() == 2
    assert "unknown system 'nosuch'; the systems are: control, signatures, gateway" in up.output()
    assert not settings.data_dir.exists()  # nothing was started


async def test_only_starts_a_subset_whose_processes_log_json_lines_for_each_message(settings):
    up = _up(settings, "--only", "signatures", "control", "gateway", "echo")
    try:
        up.wait_until_up()
        assert set(up.pids()) == {"signatures", "control", "gateway", "echo"}
        elsewhere = up.wait_for(r"^Not started here \(--only\): (.+), expected at the URLs above")
        assert "portal" in elsewhere[1] and "registries" in elsewhere[1]
        up.wait_for(rf"^portal\s+{settings.port_of('portal')}\s+{settings.url_of('portal')}\s+elsewhere")

        identity = Identity.load(settings.data_dir.resolve() / "keys" / "echo.p12")
        with httpx.Client(timeout=30) as http:
            now = datetime.fromisoformat(http.get(settings.url_of("control") + "/clock").json()["now"])
            refused, delivered = (
                build_signed_request(
                    identity, sender_id="echo", password=password, service_id="ECHO_Central",
                    data={"hello": "сәлем"}, message_date=now, correlation_id=f"case-{uuid.uuid4()}",
                    message_type="REQUEST" if path == ASYNC_PATH + "/sendMessage" else None,
                )
                for password, path in (("wrong", SYNC_PATH), (RunCredentials.of(settings).password_of("echo"), ASYNC_PATH + "/sendMessage"))
            )
            gateway = settings.url_of("gateway")
            assert http.post(gateway + SYNC_PATH, json=refused.model_dump(mode="json", exclude_none=True)).status_code == 403
            reply = http.post(gateway + ASYNC_PATH + "/sendMessage", json=delivered.model_dump(mode="json", exclude_none=True))
            assert reply.status_code == 200, reply.text

        for message, what in ((refused, "refused: "), (delivered, "async message ")):
            info = message.request.requestInfo
            line = json.loads(up.wait_for(rf'^\{{.*"correlationId": "{info.correlationId}".*\}}$', stream="stderr")[0])
            assert line["system"] == "gateway" and line["messageId"] == info.messageId, line
            assert line["message"].startswith(what), line
    finally:
        code = up.stop()
    assert code == 0, up.output()
