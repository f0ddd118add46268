"""The OCSP responder down (signatures/faults.py), end to end: once the cached answers are older
than the freshness, the gateway's validator cannot learn a signer's status. Under hard-fail (the
default) it refuses the State Corporation's query to ЖТ МДҚ (Client.SignatureInvalid,
REVOCATION_UNKNOWN), so almaty-queue takes its "the data cannot be obtained" step, and an
operator's login is refused naming the OCSP failure; under soft-fail the last answer carries both
and the application goes on. Back up, it goes on too."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from egov_sim.faults import apply_faults, clear_faults
from egov_sim.inprocess import Simulation
from simulation.database import drop_run
from simulation.settings import Settings
from tests.conftest import RUN_SCHEMAS, WORKING_MONDAY
from tests.faults.test_reglament_reactions import _apply, _steps, operator_session


@pytest.fixture(params=["hard-fail", "soft-fail"])
async def run(tmp_path, request) -> AsyncIterator[Simulation]:
    settings = Settings(data_dir=tmp_path / "run", population_size=300, clock_start=WORKING_MONDAY,
                        revocation_policy=request.param)
    async with Simulation(settings) as simulation:
        yield simulation
    await drop_run(settings, RUN_SCHEMAS)


async def test_the_responder_down_refuses_signatures_under_hard_fail_only(run):
    session = await operator_session(run)  # logged in before: the login checks the operator's certificate too
    async with run.client("signatures") as ca, run.client("control") as control, run.client("gateway") as gateway:
        await apply_faults(run.client, [{"system": "signatures", "mode": "ocsp-down"}])
        assert (await ca.get("/admin/faults")).json() == {"ocsp": {"mode": "unavailable"}}
        down = await ca.post("/v1/ocsp", content=b"\x30\x00", headers={"Content-Type": "application/ocsp-request"})
        assert down.status_code == 503 and down.json()["message_kk"], down.text
        moved = await control.post("/clock/advance", json={"by": "2 hours"})  # every cached answer stale
        assert moved.status_code == 200, moved.text
        async with run.client("corporation_ws") as ws:
            login = await ws.post("/api/operator/sessions")
        if run.settings.revocation_policy == "hard-fail":  # a new operator cannot log in either
            assert login.status_code == 401 and "OCSP responder gave no usable answer" in login.json()["message"], login.text
            assert login.json()["message_kk"]
        else:
            assert login.status_code == 200, login.text
        view = await _apply(run, session)
        steps = await _steps(run, view["id"])
        if run.settings.revocation_policy == "hard-fail":
            assert view["status"] == "rejected" and view["receipts"][-1]["type"] == "no-data-notice", view
            assert "Client.SignatureInvalid" in view["receipts"][-1]["detail"]
            assert ("condition-2", "false") in steps and steps[-1][0] == "process-5", steps
            log = (await gateway.get("/v1/messages", params={"correlationId": view["id"]})).json()
            assert [(r["status"], r["errorCode"]) for r in log] == [("REFUSED", "Client.SignatureInvalid")], log
        else:
            assert view["status"] == "in_progress" and ("condition-2", "true") in steps, (view, steps)
        await clear_faults(run.client)
        assert (await ca.get("/admin/faults")).json() == {"ocsp": None}
    view = await _apply(run)
    assert view["status"] == "in_progress", view
