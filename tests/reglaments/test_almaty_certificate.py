"""almaty-certificate beyond what tests/test_reglament_cases.py checks: the courier's wait for its
next run, the delivery register signed by both sides, the certificate's content per person, and the
refusal's ground."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from egov_sim.inprocess import Simulation
from egov_sim.scenarios import _corporation
from reglaments import get_reglament
from simulation.database import drop_run
from simulation.identifiers import make_iin
from simulation.settings import Settings
from simulation.topology import SYSTEMS

REGLAMENT = "almaty-certificate"
FRIDAY_EVENING = datetime.fromisoformat("2026-11-06T19:00:00+05:00")
"""After the courier's last run of a Friday (18:00), the front office still open (till 20:00)."""


@pytest.fixture
async def run_at(tmp_path):
    made: list[Settings] = []

    def settings(start: datetime | None = None) -> Settings:
        run = Settings(data_dir=tmp_path / f"run{len(made)}", population_size=200,
                       **({"clock_start": start} if start else {}))
        made.append(run)
        return run

    yield settings
    for run in made:
        await drop_run(run, (*SYSTEMS, "simulation"))


def _case(name: str, **changes):
    case = get_reglament(REGLAMENT).cases["corporation"][name]
    return case.model_copy(update=changes) if changes else case


def _by_label(trace: list[dict]) -> dict[str, dict]:
    return {e["label"]: e for e in trace}


async def _walk(simulation: Simulation, case) -> tuple[str, dict[str, dict], dict]:
    application_id, trace, view = await _corporation(simulation, get_reglament(REGLAMENT), case)
    return application_id, _by_label(trace), view


async def test_an_application_ready_after_the_last_run_goes_with_the_next_working_days_first(run_at):
    from tests.conftest import WORKING_MONDAY

    async with Simulation(run_at(FRIDAY_EVENING)) as simulation:
        _, steps, view = await _walk(simulation, _case("approved"))
    printed = datetime.fromisoformat(steps["6-процесс"]["sim_time"])
    courier = datetime.fromisoformat(steps["7-процесс"]["sim_time"])
    assert printed.date() == date(2026, 11, 6) and printed.hour == 19
    # Saturday the front office works, the courier does not: Monday's first run (13:30) takes it
    assert courier.isoformat().startswith("2026-11-09T13:30")
    assert "2026-11-06 19:00 бастап кезекті жөнелтуді күтті" in steps["7-процесс"]["detail"]
    assert steps["7-процесс"]["detail"].startswith("Мемлекеттік корпорация курьері, 1 жұмыс күнінде 2 рет")
    # the chancellery registers it when its office is open again after lunch
    assert steps["8-процесс"]["sim_time"].startswith("2026-11-09T14:00")
    assert view["status"] == "result" and view["result"]["document"]["type"] == "certificate"
    # a run of the same morning goes at the same day's first run, without waiting for a day
    async with Simulation(run_at(WORKING_MONDAY)) as simulation:
        _, steps, _ = await _walk(simulation, _case("approved"))
    assert steps["7-процесс"]["sim_time"].startswith("2026-11-02T13:30")
    assert "2026-11-02 10:00 бастап кезекті жөнелтуді күтті" in steps["7-процесс"]["detail"]


async def test_the_delivery_register_is_signed_by_both_sides(run_at):
    async with Simulation(run_at()) as simulation:
        application_id, steps, view = await _walk(simulation, _case("approved-presence"))
        async with simulation.client("provider_ws") as provider:
            [kept] = (await provider.get(f"/api/cases/{application_id}/delivery-registers")).json()
            case = (await provider.get(f"/api/cases/{application_id}")).json()
            missing = await provider.get("/api/cases/nobody/delivery-registers")
    [sent] = [r for r in view["receipts"] if r["type"] == "delivery-register"]
    register = sent["document"]
    assert kept["document"] == register and kept["signature"] == sent["signature"]
    assert kept["verdict"]["code"] == "VALID" and kept["receiptVerdict"]["code"] == "VALID"
    assert register["number"].startswith("GK-ALMATY-") and register["run"][11:16] == "13:30"
    [entry] = register["applications"]
    assert entry["applicationId"] == application_id and entry["applicantIin"] == "840719497111"
    # 6-процесс printed the identity documents of the applicant, her husband and son, and the address reference
    assert [(p["kind"], p["iin"]) for p in entry["papers"]] == [
        ("identity-document", "840719497111"), ("identity-document", "820308397127"),
        ("identity-document", "120514597133"), ("address-reference", "840719497111")]
    assert "840719497111, 820308397127, 120514597133" in steps["6-процесс"]["detail"]
    receipt = kept["receipt"]
    assert receipt["register"] == register["number"] and receipt["receivedBy"] == "кеңсе маманы"
    assert receipt["registrationNumber"] == case["registrationNumber"] and receipt["senderSignature"] == "VALID"
    assert f"жеткізу тізілімі № {register['number']}" in steps["8-процесс"]["detail"]
    assert "кеңсе маманы қабылдағаны туралы қол қойды" in steps["8-процесс"]["detail"]
    assert missing.status_code == 404


async def test_the_certificate_says_for_each_person_what_they_hold(run_at):
    async with Simulation(run_at()) as simulation:
        _, _, view = await _walk(simulation, _case("approved-presence"))
    document = view["result"]["document"]
    assert view["result"]["verdict"]["code"] == "VALID"
    assert document["type"] == "certificate" and document["presence"] is True
    people = {p["iin"]: p for p in document["people"]}
    husband = people["820308397127"]
    assert husband["relation"] == "spouse" and husband["fullName"] == "ТӨЛЕУОВ АРМАН ҚАНАТҰЛЫ"
    assert husband["dwelling"]["fund"]["code"] == "1" and husband["dwelling"]["area"] == 61.3
    assert not people["840719497111"]["presence"] and not people["120514597133"]["presence"]
    for lang, words in (("kk", "2009-10-01 бастап"), ("ru", "с 2009-10-01"), ("en", "since 2009-10-01")):
        assert words in document["text"][lang] and "Сәтбаев көшесі 30-45" in document["text"][lang]
    assert document["text"]["kk"].count("тұрғын үй жоқ") == 2


async def test_the_refusal_names_the_unreliable_document_or_data(run_at):
    async with Simulation(run_at()) as simulation:
        _, steps, view = await _walk(simulation, _case("refused"))
        nobody = make_iin(date(1900, 1, 1), 1, 1)
        _, declared, declared_view = await _walk(
            simulation, _case("approved", form={"familyMembers": [{"iin": nobody}]}))
    ground = view["result"]["document"]["ground"]
    assert ground["code"] == "identity-document-invalid" and "049714001" in ground["kk"]
    assert steps["3-шарт"]["outcome"] == "false" and steps["9-процесс"]["detail"] == ground["kk"]
    # a family member the application declares whom ЖТ МДҚ does not know: not printed, and refused
    assert f"алынбады: {nobody} ЖСН-і ЖТ МДҚ-да жоқ" in declared["6-процесс"]["detail"]
    ground = declared_view["result"]["document"]["ground"]
    assert ground["code"] == "family-member-unknown" and nobody in ground["en"]
