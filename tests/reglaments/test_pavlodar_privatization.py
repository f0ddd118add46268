"""pavlodar-privatization (seed 001): the three stages in virtual time, the branch to stage 2,
the commission's sitting, the contract signed by both or left unsigned, and the payment."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest

from egov_sim.citizen import Citizen, apply_on_portal, sign_in_cabinet
from egov_sim.inprocess import Simulation
from egov_sim.scenarios import narrate, run_case, stage_terms
from reglaments import get_reglament
from signatures.people import seeded_people
from simulation.calendar import is_public_holiday, is_working_day
from simulation.database import drop_run
from simulation.settings import Settings
from simulation.topology import SYSTEMS
from tests.conftest import WORKING_MONDAY

REGLAMENT = "pavlodar-privatization"
COMMUNAL_TENANT = Citizen("680922455125", "СЕЙІТОВА", "ГҮЛМИРА", "ЖОМАРТҚЫЗЫ", "Gulmira-2026!")
# Stage 1 of a communal tenant who applies on Monday 16 November 2026 ends about 15 December:
# stage 3's working days cover 16-17 December (Independence Day), which they skip.
BEFORE_INDEPENDENCE_DAY = datetime.fromisoformat("2026-11-16T10:00:00+05:00")


@pytest.fixture
async def make_settings(tmp_path):
    made = []

    def make(start: datetime = WORKING_MONDAY) -> Settings:
        settings = Settings(data_dir=tmp_path / f"run{len(made)}", population_size=200, clock_start=start)
        made.append(settings)
        return settings

    yield make
    for settings in made:
        await drop_run(settings, (*SYSTEMS, "simulation"))


def _labels(report):
    return [e["label"] for e in report["trace"]]


def _stage_of(report, number):
    return next(s for s in report["stages"] if s["stage"] == number)


async def test_a_state_institutions_dwelling_goes_through_three_stages(make_settings):
    report = await run_case(make_settings(), REGLAMENT, "portal", "approved-institution-fund")
    assert [s["stage"] for s in report["stages"]] == [1, 2, 3]
    assert all(s["met"] for s in report["stages"]) and report["term"]["met"]
    assert [s["type"] for s in report["stages"]] == ["commission-decision", "transfer-to-communal-ownership",
                                                     "privatization-contract"]
    branch = next(e for e in report["trace"] if e["label"] == "6-тармақ, 2-кезең")
    assert "(код 3)" in branch["detail"]
    # the akimat's resolution (stage 2, procedure 4) and the cost certificate with its computation
    assert any(e["label"] == "5-тармақ, 2-кезең, 4)" and e["detail"].startswith("қала/аудан әкімдігі")
               for e in report["trace"])
    # each stage's result reached the cabinet, and the cabinet's receipt went back to the provider
    receipts = [m for m in report["messages"] if m["serviceId"] == "EPORTAL_CabinetReceipt"]
    assert len(receipts) == 3  # after stages 1 and 2, and the signed contract
    assert all(m["status"] == "DELIVERED" for m in receipts)
    assert _labels(report).count("7-процесс") == 3


async def test_a_communal_dwelling_skips_stage_two(make_settings):
    report = await run_case(make_settings(), REGLAMENT, "portal", "approved")
    assert [s["stage"] for s in report["stages"]] == [1, 3]
    assert not any(label.startswith("5-тармақ, 2-кезең") for label in _labels(report))
    branch = next(e for e in report["trace"] if e["label"] == "6-тармақ, 2-кезең")
    assert "(код 1)" in branch["detail"]
    contract = report["result"]["document"]
    assert contract["type"] == "privatization-contract" and contract["valuation"]["computation"]
    # the commission's sitting is in the trace, and its decision cites it
    sitting = next(e for e in report["trace"] if e["label"] == "5-тармақ, 1-кезең, 4)")
    assert "тұрғын үй комиссиясы отырысы" in sitting["detail"] and "хаттама №" in sitting["detail"]
    # signed by both: the head (the result's verdict) and the citizen in the cabinet
    assert report["result"]["verdict"]["code"] == "VALID"
    assert _stage_of(report, 3)["citizenSignature"]["status"] == "signed"
    assert report["trace"][-1]["label"] == "10-тармақ, шартқа қол қою"


async def test_stage_three_skips_independence_day(make_settings):
    report = await run_case(make_settings(BEFORE_INDEPENDENCE_DAY), REGLAMENT, "portal", "approved")
    stage = _stage_of(report, 3)
    begun, ended = datetime.fromisoformat(stage["started_at"]), datetime.fromisoformat(stage["finished_at"])
    holidays = [begun.date() + timedelta(days=i) for i in range((ended.date() - begun.date()).days + 1)
                if is_public_holiday(begun.date() + timedelta(days=i))]
    assert date(2026, 12, 16) in holidays, (begun, ended)
    assert stage["met"] and datetime.fromisoformat(stage["due"]) > ended
    reglament = get_reglament(REGLAMENT)
    trace = report["trace"]
    for before, event in zip(trace, trace[1:]):  # a working-day procedure ends on a working day...
        if event["kind"] != "action":
            continue
        procedure = reglament.staff_step(event["number"])
        if procedure.duration.unit.value != "working_day":
            continue
        start, end = (datetime.fromisoformat(e["sim_time"]) for e in (before, event))
        assert is_working_day(end.date()), event
        days = [start.date() + timedelta(days=i) for i in range(1, (end.date() - start.date()).days + 1)]
        # ...after exactly its working days: the holidays and weekends between do not count
        assert sum(is_working_day(d) for d in days) == procedure.duration.amount, (event, start, end)
    assert any(is_public_holiday(d) for before, event in zip(trace, trace[1:]) if event["kind"] == "action"
               for d in [datetime.fromisoformat(before["sim_time"]).date() + timedelta(days=i) for i in
                         range(1, (datetime.fromisoformat(event["sim_time"]).date()
                                   - datetime.fromisoformat(before["sim_time"]).date()).days)])


async def test_refusal_ends_after_stage_one(make_settings):
    report = await run_case(make_settings(), REGLAMENT, "portal", "refused")
    assert [s["stage"] for s in report["stages"]] == [1]
    assert report["result"]["document"]["ground"]["code"] == "privatized-before"
    assert "EPORTAL_CabinetReceipt" not in {m["serviceId"] for m in report["messages"]}


async def test_an_unsigned_contract_stays_unsigned(make_settings):
    settings = make_settings()
    report = await run_case(settings, REGLAMENT, "portal", "contract-unsigned")
    stage = _stage_of(report, 3)
    assert stage["citizenSignature"] == {"status": "unsigned"}
    assert stage["payment"]["status"] == "awaiting-contract"
    assert report["trace"][-1]["label"] == "7-процесс"
    # only the receipt of stage 1 went back: no signed contract reached the provider
    receipts = [m for m in report["messages"] if m["serviceId"] == "EPORTAL_CabinetReceipt"]
    assert len(receipts) == 1
    # the narration says it too, in each language, with each stage's term and the payment's state
    english, russian = narrate(report, "en"), narrate(report, "ru")
    assert "Stage 1 (the housing commission's decision), term 30 calendar days: met" in english
    assert "Stage 3 (the privatization contract), term 5 working days: met" in english
    assert "Citizen's signature: the contract is NOT signed" in english
    assert "– awaiting the signed contract" in english
    assert "ЭЦП гражданина: договор не подписан" in russian and "Этап 2" not in russian
    # two steps labelled 7-процесс (stages 1 and 3) each go by their own name
    assert "7-процесс" in english and "The commission's decision reaches the personal cabinet" in english
    assert "The electronic contract reaches the personal cabinet" in english


async def test_the_payment_is_due_then_overdue_then_paid(make_settings):
    settings = make_settings()
    citizen = COMMUNAL_TENANT
    async with Simulation(settings) as simulation:
        outcome = await apply_on_portal(simulation.client, REGLAMENT, citizen)
        application_id = outcome.application_id
        view = outcome.application
        assert view["toSign"]["stage"] == 3
        async with simulation.client("control") as control:
            position = (await control.get(f"/positions/{application_id}")).json()
        assert (position["state"], position["waitingFor"], position["label"]) == (
            "waiting", "citizen-signature", "10-тармақ, шартқа қол қою")
        contract = view["toSign"]["document"]["contract"]
        price, due = contract["price"], contract["paymentDue"]
        assert price > 0 and due
        async with simulation.client("portal") as portal:
            session = (await portal.post("/api/sessions", json={"iin": citizen.iin, "password": citizen.password})).json()
            auth = {"Authorization": f"Bearer {session['session']}"}
            early = await portal.post(f"/api/cabinet/applications/{application_id}/payment", json={"amount": price},
                                      headers=auth)
            assert early.status_code == 409 and early.json()["error"] == "contract_unsigned"
        view = await sign_in_cabinet(simulation.client, citizen, application_id)
        payment = view["stages"][-1]["payment"]
        assert payment["status"] == "due" and payment["amount"] == price and payment["due"] == due
        async with simulation.client("portal") as portal, simulation.client("control") as control:
            session = (await portal.post("/api/sessions", json={"iin": citizen.iin, "password": citizen.password})).json()
            auth = {"Authorization": f"Bearer {session['session']}"}
            wrong = await portal.post(f"/api/cabinet/applications/{application_id}/payment",
                                      json={"amount": price - 1}, headers=auth)
            assert wrong.status_code == 422 and wrong.json()["field"] == "amount"
            (await control.post("/clock/advance", json={"by": "31 calendar days"})).raise_for_status()
            late = (await portal.get(f"/api/cabinet/applications/{application_id}", headers=auth)).json()
            assert late["stages"][-1]["payment"]["status"] == "overdue"
            paid = await portal.post(f"/api/cabinet/applications/{application_id}/payment", json={"amount": price},
                                     headers=auth)
            assert paid.status_code == 200, paid.text
            shown = paid.json()["stages"][-1]["payment"]
            assert shown["status"] == "paid" and shown["late"] is True and shown["reference"].startswith("PAY-")
            again = await portal.post(f"/api/cabinet/applications/{application_id}/payment", json={"amount": price},
                                      headers=auth)
            assert again.status_code == 409 and again.json()["error"] == "already_paid"


def test_the_head_is_a_seeded_official():
    head = get_reglament(REGLAMENT).provider
    officials = {p["iin"]: p for p in seeded_people()["officials"]}
    seeded = officials[head.head.iin]
    assert (seeded["surname"], seeded["bin"], seeded["organisation"]) == (
        head.head.surname, head.organisation.bin, head.organisation.name)
    assert "first_head" in seeded["roles"]


def test_stage_terms_follow_the_trace():
    reglament = get_reglament(REGLAMENT)
    at = "2026-11-02T10:00:00+05:00"
    trace = [{"label": label, "system": system, "sim_time": at} for label, system in (
        ("1-процесс", "portal"), ("1-шарт", "portal"), ("3-процесс", "portal"), ("2-шарт", "portal"),
        ("5-процесс", "portal"), ("3-шарт", "provider_ws"), ("6-процесс", "provider_ws"), ("7-процесс", "portal"))]
    assert [s["stage"] for s in stage_terms(reglament, "portal", trace, None)] == [1]
