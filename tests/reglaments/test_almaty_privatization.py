"""almaty-privatization beyond what tests/test_reglament_cases.py checks: the housing commission's
sitting in the trace and in its decision, the documents of each dwelling's fund, the refusal's
ground, the chancellery's paper application API and its errors."""

from __future__ import annotations

import pytest

from egov_sim.inprocess import Simulation
from egov_sim.scenarios import _corporation, _provider_office
from reglaments import get_reglament
from simulation.database import drop_run
from simulation.settings import Settings
from simulation.topology import SYSTEMS
from tests.conftest import WORKING_MONDAY

REGLAMENT = "almaty-privatization"
TENANT = "610412341014"


@pytest.fixture
async def simulation(tmp_path):
    settings = Settings(data_dir=tmp_path / "run", population_size=200, clock_start=WORKING_MONDAY)
    async with Simulation(settings) as running:
        yield running
    await drop_run(settings, (*SYSTEMS, "simulation"))


def _case(channel: str, name: str):
    return get_reglament(REGLAMENT).cases[channel][name]


async def test_the_commission_sits_and_its_decision_cites_the_sitting(simulation):
    _, trace, view = await _provider_office(simulation, get_reglament(REGLAMENT), _case("provider-office", "approved"))
    executor = next(e for e in trace if e["label"] == "5-тармақ, 3)")
    document = view["result"]["document"]
    decision = document["documents"][0]
    sitting, protocol = decision["commission"]["sittingDate"], decision["commission"]["protocolNumber"]
    assert f"тұрғын үй комиссиясы отырысы {sitting}, хаттама № {protocol}" in executor["detail"]
    assert executor["sim_time"].startswith(sitting)
    assert protocol.startswith(document["registrationNumber"])
    contract = document["documents"][-1]["contract"]
    assert contract["parties"]["citizen"] == {"iin": TENANT, "name": "ТӨЛЕГЕНОВ СЕРІК ҚАЙРАТҰЛЫ"}
    assert contract["paymentDue"] and contract["price"] == 9477000.0
    assert view["state"] == "collected" and view["result"]["verdict"]["code"] == "VALID"


async def test_an_institutions_dwelling_gets_its_transfer_and_cost_certificate(simulation):
    _, _, view = await _provider_office(simulation, get_reglament(REGLAMENT),
                                        _case("provider-office", "approved-institution-fund"))
    transfer = view["result"]["document"]["documents"][1]
    certificate = transfer["costCertificate"]
    assert transfer["transfer"]["resolution"]["body"]["kk"] == "Алматы қаласының әкімдігі"
    assert certificate["computation"][0] == "18360000.00 × (100 − 40) / 100 = 11016000.00"
    assert "11 016 000.00 теңге" in transfer["text"]["kk"]


async def test_the_refusal_names_the_earlier_privatization(simulation):
    _, trace, view = await _corporation(simulation, get_reglament(REGLAMENT), _case("corporation", "refused"))
    document = view["result"]["document"]
    assert document["type"] == "refusal" and document["ground"]["code"] == "privatized-before"
    assert "1998-07-14" in document["ground"]["kk"]
    labels = [e["label"] for e in trace]
    assert labels.index("9-тармақ, 13)") < labels.index("5-тармақ, 3)")  # the commission sits on a refusal too
    assert "хаттама №" in next(e for e in trace if e["label"] == "5-тармақ, 3)")["detail"]


async def test_the_chancellery_refuses_what_it_cannot_take(simulation):
    documents = [{"code": d.code} for d in get_reglament(REGLAMENT).required_documents]
    async with simulation.client("provider_ws") as ws:
        unknown = await ws.post("/api/chancellery/applications", json={
            "reglament": "no-such", "applicant": {"iin": TENANT}, "attachments": documents})
        assert unknown.status_code == 404 and "no-such" in unknown.json()["message"]
        missing = await ws.post("/api/chancellery/applications", json={
            "reglament": REGLAMENT, "applicant": {"iin": TENANT}, "attachments": documents[:2]})
        assert missing.status_code == 422 and "family-consent" in missing.json()["message"]
        stranger = await ws.post("/api/chancellery/applications", json={
            "reglament": REGLAMENT, "applicant": {"iin": TENANT}, "attachments": [*documents, {"code": "passport"}]})
        assert stranger.status_code == 422 and "passport" in stranger.json()["message"]
        bad_iin = await ws.post("/api/chancellery/applications", json={
            "reglament": REGLAMENT, "applicant": {"iin": "123"}, "attachments": documents})
        assert bad_iin.status_code == 422 and "applicant.iin" in bad_iin.json()["message"]
        queue_only = await ws.post("/api/chancellery/applications", json={
            "reglament": "almaty-queue", "applicant": {"iin": TENANT}, "attachments": documents})
        assert queue_only.status_code == 422 and "chancellery" in queue_only.json()["message"]
        no_body = await ws.post("/api/chancellery/applications", json={"reglament": REGLAMENT})
        assert no_body.status_code == 422
        taken = await ws.post("/api/chancellery/applications", json={
            "reglament": REGLAMENT, "applicant": {"iin": TENANT}, "attachments": documents})
        assert taken.status_code == 201 and taken.json()["registrationNumber"].startswith("ALMP-")
        early = await ws.post(f"/api/chancellery/applications/{taken.json()['applicationId']}/collect")
        assert early.status_code == 409
        nobody = await ws.get("/api/chancellery/applications/nobody")
        assert nobody.status_code == 404


async def test_the_refusal_receipt_follows_the_appendix_the_seed_cites(simulation):
    """Item 9, 4) cites the Standard's appendix 1 (almaty-queue's seed: appendix 3)."""
    _, _, view = await _corporation(simulation, get_reglament(REGLAMENT), _case("corporation", "incomplete-package"))
    [receipt] = view["receipts"]
    assert receipt["form"] == "Стандарттың 1-қосымшасы"
    assert [d["code"] for d in receipt["missing"]] == ["family-consent"]
