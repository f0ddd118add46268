"""Each reglament's documented reaction to a registry's fault: ЖТ МДҚ unreachable (down, failing,
reset, malformed, slower than the gateway waits) when the State Corporation asks about the
applicant -> almaty-queue's condition-2 takes its `else`, process-5 "the data cannot be obtained"
(a no-data notice), and nothing goes on to the provider. The faults are set as a scenario sets
them (egov_sim.faults.apply_faults)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from egov_sim.faults import apply_faults, clear_faults
from egov_sim.inprocess import Simulation
from simulation.database import drop_run
from simulation.settings import Settings
from tests.conftest import RUN_SCHEMAS, WORKING_MONDAY

APPLICANT = "851102304571"
"""A person of the registries' fixtures whose almaty-queue application goes through when nothing fails."""
DOCUMENTS = ["identity", "family-composition", "incomes", "category"]

FAULTS = {
    "down": {"mode": "down"},
    "error": {"mode": "error", "error_code": "Server.ProviderUnavailable"},
    "reset": {"mode": "reset"},
    "malformed": {"mode": "malformed"},
    "slow": {"mode": "slow", "latency": {"kind": "lognormal", "median_ms": 60_000, "sigma": 0.2}, "seed": 1},
}
EXPECTED_CODE = {
    "down": "Server.ProviderUnavailable", "error": "Server.ProviderUnavailable", "reset": "Server.ProviderUnavailable",
    "malformed": "Server.ProviderResponseInvalid", "slow": "Server.ProviderTimeout",
}


@pytest.fixture
async def run(tmp_path) -> AsyncIterator[Simulation]:
    """request_timeout 1 s: the slow fault's minute is beyond what the gateway waits."""
    settings = Settings(data_dir=tmp_path / "run", population_size=300, clock_start=WORKING_MONDAY, request_timeout=1.0)
    async with Simulation(settings) as simulation:
        yield simulation
    await drop_run(settings, RUN_SCHEMAS)


async def operator_session(run: Simulation) -> str:
    async with run.client("corporation_ws") as ws:
        reply = await ws.post("/api/operator/sessions")
    assert reply.status_code == 200, reply.text
    return reply.json()["session"]


async def _apply(run: Simulation, session: str | None = None) -> dict:
    session = session or await operator_session(run)
    async with run.client("corporation_ws") as ws:
        ticket = (await ws.post("/api/tickets", params={"reglament": "almaty-queue"})).json()["ticket"]
        reply = await ws.post("/api/applications", headers={"Authorization": f"Bearer {session}"}, json={
            "reglament": "almaty-queue", "ticket": ticket, "applicant_iin": APPLICANT,
            "presented_documents": DOCUMENTS, "form": {"queueList": "socially-vulnerable"}})
    assert reply.status_code == 200, reply.text
    return reply.json()


async def _steps(run: Simulation, application_id: str) -> list[tuple[str, str]]:
    async with run.client("control") as control:
        trace = (await control.get(f"/trace/{application_id}")).json()
    return [(e["step"], e["outcome"]) for e in trace if e.get("step")]


async def test_the_persons_registry_failing_any_way_gives_the_no_data_notice(run):
    for name, fault in FAULTS.items():
        await apply_faults(run.client, [{"system": "registries", "service": "GBDFL_UniversalServiceSync", **fault}])
        view = await _apply(run)
        await clear_faults(run.client)
        assert view["status"] == "rejected", (name, view)
        notice = view["receipts"][-1]
        assert notice["type"] == "no-data-notice" and EXPECTED_CODE[name] in notice["detail"], (name, notice)
        steps = await _steps(run, view["id"])
        assert ("condition-2", "false") in steps and steps[-1][0] == "process-5", (name, steps)
        assert not any(step in ("process-6", "process-7") for step, _ in steps), (name, steps)
    # cleared: the same application goes on past condition-2
    view = await _apply(run)
    assert view["status"] == "in_progress", view
    assert ("condition-2", "true") in await _steps(run, view["id"])


async def test_a_fault_on_the_whole_registries_system_strikes_every_registry_service(run):
    await apply_faults(run.client, [{"system": "registries", "mode": "down"}])
    view = await _apply(run)
    await clear_faults(run.client)
    assert view["receipts"][-1]["type"] == "no-data-notice", view
    assert "Server.ProviderUnavailable" in view["receipts"][-1]["detail"]
