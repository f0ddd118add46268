"""`egov-sim up`: every system its own process on loopback; an application goes end to end
over real HTTP; SIGTERM leaves no process behind."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import datetime

import httpx
import pytest
from up_process import CEILING, UpProcess, alive

from egov_sim.citizen import DEMO_CITIZEN, apply_on_portal
from egov_sim.ports import free_base_port
from gateway_protocol.client import build_signed_request
from gateway_protocol.envelope import SYNC_PATH
from signatures.identity import Identity
from simulation.access import TOKEN_HEADER
from simulation.settings import Settings
from simulation.credentials import RunCredentials
from simulation.topology import START_ORDER, SYSTEMS
from simulation.database import drop_run

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")


async def test_up_serves_every_system_and_stops_cleanly(tmp_path):
    settings = Settings(data_dir=tmp_path / "run", base_port=free_base_port())
    try:
        await _run_up_and_apply(settings)
    finally:
        await drop_run(settings, (*SYSTEMS, "simulation"))


async def _run_up_and_apply(settings: Settings) -> None:
    up = UpProcess("--base-port", str(settings.base_port), "--data-dir", str(settings.data_dir))
    try:
        up.wait_until_up()  # printed once every system answered its /health
        with httpx.Client(timeout=30) as client:
            for system in START_ORDER:
                assert client.get(settings.url_of(system) + "/health").status_code == 200, system
        pids = set(up.pids().values())
        assert len(pids) == len(START_ORDER)

        # the tester's token, read from the data directory up announced it in
        token_file = settings.data_dir.resolve() / "admin.token"
        assert f"The admin token is in {token_file}" in up.output()
        assert token_file.stat().st_mode & 0o077 == 0
        admin = {TOKEN_HEADER: token_file.read_text().strip()}
        with httpx.Client(base_url=settings.url_of("control"), timeout=30) as anonymous:
            assert anonymous.post("/clock/run").status_code == 401
        outcome = await apply_on_portal(
            lambda system: httpx.AsyncClient(base_url=settings.url_of(system), timeout=60, headers=admin),
            "almaty-queue", DEMO_CITIZEN,
        )
        assert outcome.application["status"] == "result"
        assert outcome.application["result"]["document"]["queue"]["sequenceNumber"] == 1
        assert outcome.application["result"]["verdict"]["valid"] is True
        assert [e["label"] for e in outcome.trace if e["kind"] != "action"] == [
            "1-процесс", "1-шарт", "3-процесс", "2-шарт", "5-процесс", "6-процесс", "3-шарт", "8-процесс"
        ]
        with httpx.Client(base_url=settings.url_of("gateway"), timeout=30, headers=admin) as gateway:
            log = gateway.get("/v1/messages", params={"correlationId": outcome.application_id, "kind": "all"}).json()
            chain = gateway.get("/v1/messages/verify").json()
        assert {m["serviceId"] for m in log} == {
            "HousingQueueRegistration", "GBDFL_UniversalServiceSync", "AR_AddressRegistrationHistory",
            "GBDRN_RealEstateRights",
            "KZHF_CommunalTenancy", "GCVP_IncomesAndStatus", "EPORTAL_CabinetDelivery",
        }
        assert {(m["kind"], m["status"]) for m in log} == {("request", "RECEIVED"), ("response", "DELIVERED")}
        assert chain["ok"] is True and chain["records"] >= 6
        _reach_the_regional_providers(settings)
        _play_a_scenario_against_them(settings)
        _faults_and_a_recording_from_the_command_line(settings, outcome.application_id)
    finally:
        code = up.stop(signal.SIGTERM)
    assert code == 0, up.output()
    assert "All systems stopped." in up.output()
    # up waits for its children before it ends; none may be left running (a ceiling, not a limit)
    deadline = time.monotonic() + CEILING
    while any(alive(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not [pid for pid in pids if alive(pid)], "service processes were left behind"


SCENARIO = """\
name: a front office application against running systems
when: {reglament: almaty-queue, channel: corporation, case: refused}
then:
  signature: VALID
  messages:
    - {serviceId: GBDFL_UniversalServiceSync, sender: corporation_ws, status: DELIVERED}
    - {serviceId: HousingQueueRegistration, sender: corporation_ws, status: DELIVERED}
"""


def _play_a_scenario_against_them(settings: Settings) -> None:
    """`egov-sim scenario run --target`: the scenario plays in the running world, over its sockets,
    with the admin token read from the world's data directory."""
    scenario = settings.data_dir / "target-scenario.yaml"
    scenario.write_text(SCENARIO, encoding="utf-8")
    played = subprocess.run(
        [sys.executable, "-m", "egov_sim.cli", "scenario", "run", str(scenario), "--target", settings.url_of("control"),
         "--data-dir", str(settings.data_dir), "--junit", str(settings.data_dir / "junit.xml")],
        capture_output=True, text=True, timeout=CEILING)
    assert played.returncode == 0, played.stdout + played.stderr
    assert "PASS  almaty-queue / corporation: a front office application against running systems" in played.stdout
    refused = subprocess.run(
        [sys.executable, "-m", "egov_sim.cli", "scenario", "run", str(scenario), "--target", settings.url_of("control"),
         "--token", "not-the-token"], capture_output=True, text=True, timeout=CEILING)
    assert refused.returncode == 1 and "the admin token is refused" in refused.stdout, refused.stdout


NO_DATA_SCENARIO = """\
name: the persons registry down, set from the command line
when: {reglament: almaty-queue, channel: corporation, applicant: "851102304571", queue_list: socially-vulnerable}
then:
  outcome: rejected
  steps: ["1-процесс", "1-шарт", "3-процесс", "4-процесс", "2-шарт", "5-процесс"]
"""


def _egov_sim(settings: Settings, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "egov_sim.cli", *args], capture_output=True, text=True,
                          timeout=CEILING, env={**os.environ, "EGOV_SIM_DATA_DIR": str(settings.data_dir),
                                                "EGOV_SIM_BASE_PORT": str(settings.base_port)})


def _faults_and_a_recording_from_the_command_line(settings: Settings, application_id: str) -> None:
    """`egov-sim gateway fault set|list|clear` on the running gateway: ЖТ МДҚ down gives the
    reglament's no-data step; `egov-sim gateway record` writes an application's exchanges."""
    put = _egov_sim(settings, "gateway", "fault", "set", "--system", "registries", "--service",
                    "GBDFL_UniversalServiceSync", "--mode", "down")
    assert put.returncode == 0, put.stderr
    listed = _egov_sim(settings, "gateway", "fault", "list")
    assert "GBDFL_UniversalServiceSync" in listed.stdout, listed.stdout + listed.stderr
    bad = _egov_sim(settings, "gateway", "fault", "set", "--system", "registries", "--mode", "slow")
    assert bad.returncode == 2 and "needs a latency" in bad.stderr, bad.stderr
    scenario = settings.data_dir / "no-data.yaml"
    scenario.write_text(NO_DATA_SCENARIO, encoding="utf-8")
    played = _egov_sim(settings, "scenario", "run", str(scenario), "--target", settings.url_of("control"),
                       "--data-dir", str(settings.data_dir))
    assert played.returncode == 0, played.stdout + played.stderr
    cleared = _egov_sim(settings, "gateway", "fault", "clear")
    assert cleared.returncode == 0 and "GBDFL" not in _egov_sim(settings, "gateway", "fault", "list").stdout
    recorded = settings.data_dir / "recording.json"
    done = _egov_sim(settings, "gateway", "record", "--correlation-id", application_id, "--out", str(recorded))
    assert done.returncode == 0, done.stderr
    exchanges = json.loads(recorded.read_text(encoding="utf-8"))["exchanges"]
    assert "GBDFL_UniversalServiceSync" in {e["service_id"] for e in exchanges}, exchanges[:1]


def _reach_the_regional_providers(settings: Settings) -> None:
    """Е-әкімдік behind ЭҮАШ and Е-собес behind ЭҮӨШ answer through the gateways over real sockets."""
    with httpx.Client(timeout=30) as http:
        now = datetime.fromisoformat(http.get(settings.url_of("control") + "/clock").json()["now"])
        month = f"{now:%Y-%m}"
        requests = {
            ("provider_ws", "EAKIMDIK_DocumentRegistration", "wko"): {
                "applicationId": "up-1", "reglament": "wko-queue", "applicantIin": DEMO_CITIZEN.iin,
                "documentKind": "application", "title": "Өтініш",
            },
            ("portal", "ESOBES_HousingAidApplication", "almaty"): {
                "applicationId": "up-1", "applicantIin": DEMO_CITIZEN.iin, "period": {"from": month, "to": month},
                "housing": {"area": 40.0, "costs": [{"kind": "maintenance", "month": month, "amount": 3600}]},
            },
        }
        for (sender, service, route), data in requests.items():
            identity = Identity.load(settings.data_dir.resolve() / "keys" / f"{sender}.p12")
            signed = build_signed_request(
                identity, sender_id=sender, password=RunCredentials.of(settings).password_of(sender), service_id=service,
                data=data, message_date=now, route_id=route,
            )
            reply = http.post(settings.url_of("gateway") + SYNC_PATH, json=signed.model_dump(mode="json", exclude_none=True))
            assert reply.status_code == 200, reply.text
            assert reply.json()["response"]["responseData"]["data"]["registrationNumber"].endswith("-000001")
