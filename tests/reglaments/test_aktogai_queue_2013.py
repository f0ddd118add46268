"""aktogai-queue-2013 (seed 002) beyond what tests/test_reglament_cases.py checks: the collecting
department's rhythm in the trace, the term of item 9 with the Орталық's rules (the day of acceptance
not counted, the authorised body's result one day before the term ends), the receipt of item 16, 1)
at the Орталық and at the chancellery, the report of acceptance in the cabinet (item 16, 2)), the
war veteran served out of turn at the chancellery (item 11.1), and table 1's durations."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

import pytest

from egov_sim.inprocess import Simulation
from egov_sim.scenarios import _corporation, _portal, _provider_office
from reglaments import get_reglament
from simulation.calendar import Duration, term_end, to_local
from simulation.database import drop_run
from simulation.settings import Settings
from simulation.topology import SYSTEMS
from tests.conftest import WORKING_MONDAY

REGLAMENT = "aktogai-queue-2013"
ELIGIBLE, OWNER, VETERAN = "890417433023", "771005333035", "260223333041"
MONDAY_EVENING = datetime.fromisoformat("2026-11-02T18:30:00+05:00")
"""After the collecting department's last collection of a Monday (18:00); the Орталық is open till 20:00."""
SATURDAY = datetime.fromisoformat("2026-11-07T10:00:00+05:00")
"""The Орталық works on Saturdays; the collecting department and the authorised body do not."""


@pytest.fixture
async def run_at(tmp_path):
    made: list[Settings] = []

    def settings(start: datetime = WORKING_MONDAY) -> Settings:
        run = Settings(data_dir=tmp_path / f"run{len(made)}", population_size=200, clock_start=start)
        made.append(run)
        return run

    yield settings
    for run in made:
        await drop_run(run, (*SYSTEMS, "simulation"))


def _case(channel: str, name: str, **changes):
    case = get_reglament(REGLAMENT).cases[channel][name]
    return case.model_copy(update=changes) if changes else case


def _by_label(trace: list[dict]) -> dict[str, dict]:
    return {e["label"]: e for e in trace}


def _at(event: dict) -> datetime:
    return to_local(datetime.fromisoformat(event["sim_time"]))


def _end_of(day: date) -> datetime:
    return datetime.combine(day, time(23, 59, 59), tzinfo=to_local(WORKING_MONDAY).tzinfo)


def test_table_1_durations_are_the_seeds():
    reglament = get_reglament(REGLAMENT)
    durations = [p.duration for p in reglament.staff.procedures]
    assert durations == [Duration.parse(d) for d in ("20 minutes", "3 times a working day", "twice a working day",
                                                      "1 hour", "25 calendar days", "1 working day", "1 working day",
                                                      "1 working day")]
    assert [p.actor for p in reglament.staff.procedures] == ["inspector", "collector", "collector", "executor",
                                                             "executor", "leadership", "executor", "inspector"]
    # the collecting department's rhythm is timed in its own day: three collections, two dispatches
    schedule = reglament.schedule_of("collector")
    assert [f"{m:%H:%M}" for m in schedule.pickup_moments(date(2026, 11, 3), 3)] == ["11:40", "15:20", "18:00"]
    assert [f"{m:%H:%M}" for m in schedule.pickup_moments(date(2026, 11, 3), 2)] == ["13:00", "18:00"]
    assert schedule.pickup_moments(date(2026, 11, 7), 3) == []  # no collection on a Saturday


async def test_the_centre_course_its_durations_receipt_and_the_term(run_at):
    async with Simulation(run_at()) as simulation:
        _, trace, view = await _corporation(simulation, get_reglament(REGLAMENT), _case("corporation", "approved"))
    steps = _by_label(trace)
    accepted = _at(trace[0])
    assert accepted == to_local(WORKING_MONDAY)
    # table 1, in virtual time: 20 minutes; the next collection (11:40) and dispatch (13:00); the
    # executor's hour after the lunch break; 25 calendar days; one working day each for 6, 7, 8
    expected = {
        "1-кесте, 1-іс-қимыл": "2026-11-02T10:20", "1-кесте, 2-іс-қимыл": "2026-11-02T11:40",
        "1-кесте, 3-іс-қимыл": "2026-11-02T13:00", "1-кесте, 4-іс-қимыл": "2026-11-02T15:00",
        "1-кесте, 5-іс-қимыл": "2026-11-27T15:00", "1-кесте, 6-іс-қимыл": "2026-11-30T15:00",
        "1-кесте, 7-іс-қимыл": "2026-12-01T15:00", "1-кесте, 8-іс-қимыл": "2026-12-02T15:00",
    }
    assert {label: f"{_at(steps[label]):%Y-%m-%dT%H:%M}" for label in expected} == expected
    for label, words in (("1-кесте, 1-іс-қимыл", "20 минут"), ("1-кесте, 2-іс-қимыл", "1 жұмыс күнінде 3 рет"),
                         ("1-кесте, 3-іс-қимыл", "1 жұмыс күнінде 2 рет"), ("1-кесте, 4-іс-қимыл", "1 сағат"),
                         ("1-кесте, 5-іс-қимыл", "25 күнтізбелік күн"), ("1-кесте, 6-іс-қимыл", "1 жұмыс күні")):
        assert words in steps[label]["detail"], (label, steps[label]["detail"])
    assert "2026-11-02 10:20 бастап кезекті жөнелтуді күтті" in steps["1-кесте, 2-іс-қимыл"]["detail"]
    assert "жеткізу тізілімі №" in steps["1-кесте, 3-іс-қимыл"]["detail"]
    assert "уәкілетті органның жауапты орындаушысы қабылдағаны туралы қол қойды" in steps["1-кесте, 4-іс-қимыл"]["detail"]
    # item 9.1: 30 calendar days, the day of acceptance not counted; the authorised body gives the
    # result one day before the term ends
    term_ends = _end_of(accepted.date() + timedelta(days=30))
    assert _at(steps["1-кесте, 7-іс-қимыл"]) <= term_ends - timedelta(days=1)
    assert _at(steps["1-кесте, 8-іс-қимыл"]) <= term_ends
    assert term_ends <= term_end(get_reglament(REGLAMENT).term, accepted)  # the definition's term bounds it
    # item 16, 1): the receipt, at the Орталық, once all the documents are handed
    [receipt] = [r for r in view["receipts"] if r["type"] == "documents-receipt"]
    assert receipt["requestNumber"] == f"20261102-{view['ticket']}"
    assert receipt["acceptedAt"].startswith("2026-11-02T10:20")
    assert receipt["service"]["kk"].startswith("Мемлекеттік тұрғын үй қорынан тұрғын үйге")
    assert receipt["documents"]["count"] == 4
    assert [d["code"] for d in receipt["documents"]["items"]] == ["application", "identity", "residence", "category"]
    assert receipt["issue"]["date"] == "2026-12-02"  # the 30th day after the day of acceptance
    assert "Ә. Бөкейхан көшесі, 10" in receipt["issue"]["place"]["kk"]
    assert receipt["employee"] == {"fullName": receipt["employee"]["fullName"], "phone": "8 (71037) 21394"}
    assert "СЕЙТҚАЛИЕВА" in receipt["employee"]["fullName"]
    assert receipt["applicant"] == {"iin": ELIGIBLE, "fullName": "ЖАНЫБЕКОВА АЙГҮЛ СЕРІКҚЫЗЫ",
                                    "phone": "+7 701 433 02 30"}
    assert view["status"] == "result" and view["result"]["document"]["queue"]["sequenceNumber"] == 1


async def test_an_application_after_the_last_collection_waits_for_the_next_working_days_first(run_at):
    async with Simulation(run_at(MONDAY_EVENING)) as simulation:
        _, trace, _ = await _corporation(simulation, get_reglament(REGLAMENT), _case("corporation", "approved"))
    steps = _by_label(trace)
    assert f"{_at(steps['1-кесте, 1-іс-қимыл']):%Y-%m-%dT%H:%M}" == "2026-11-02T18:50"
    collected = steps["1-кесте, 2-іс-қимыл"]
    assert f"{_at(collected):%Y-%m-%dT%H:%M}" == "2026-11-03T11:40"  # Tuesday's first collection
    assert "2026-11-02 18:50 бастап кезекті жөнелтуді күтті" in collected["detail"]
    assert f"{_at(steps['1-кесте, 3-іс-қимыл']):%Y-%m-%dT%H:%M}" == "2026-11-03T13:00"


async def test_a_saturday_acceptance_shows_table_1_exceeding_the_term(run_at):
    """The seed's own inconsistency: accepted on a Saturday (the Орталық works), the documents wait
    for Monday's collection; table 1's durations then carry the authorised body's result past the
    day before the term ends. The simulator keeps the table's durations; the report says the term
    was missed (docs/reglaments.md)."""
    async with Simulation(run_at(SATURDAY)) as simulation:
        _, trace, _ = await _corporation(simulation, get_reglament(REGLAMENT), _case("corporation", "approved"))
    steps = _by_label(trace)
    assert f"{_at(steps['1-кесте, 2-іс-қимыл']):%Y-%m-%dT%H:%M}" == "2026-11-09T11:40"
    term_ends = _end_of(date(2026, 11, 7) + timedelta(days=30))
    assert _at(steps["1-кесте, 7-іс-қимыл"]) > term_ends - timedelta(days=1)
    assert _at(steps["1-кесте, 8-іс-қимыл"]) > term_ends


async def test_the_portal_reports_the_acceptance_to_the_cabinet_and_meets_30_days(run_at):
    async with Simulation(run_at()) as simulation:
        reglament = get_reglament(REGLAMENT)
        _, trace, view = await _portal(simulation, reglament, "portal", _case("portal", "approved"))
    steps = _by_label(trace)
    [report] = [n for n in view["notices"] if n["document"]["type"] == "acceptance-report"]
    assert report["verdict"]["code"] == "VALID"
    document = report["document"]
    assert document["registrationNumber"] == view["registrationNumber"]
    assert document["acceptedAt"].startswith("2026-11-02T10:00")
    assert document["resultDate"] == "2026-12-02"
    assert "мемлекеттік қызметті алу күні – 2026-12-02" in document["text"]["kk"]
    assert "EPORTAL_CabinetNotification" in steps["16-тармақ, 2)"]["detail"]
    # item 9.1 for the portal: within 30 calendar days of submission
    assert _at(trace[-1]) <= term_end(Duration.parse("30 calendar days"), _at(trace[0]))
    assert view["result"]["document"]["decision"] == "approved"


async def test_the_chancellery_serves_the_war_veteran_out_of_turn_and_gives_the_receipt(run_at):
    reglament = get_reglament(REGLAMENT)
    async with Simulation(run_at()) as simulation:
        async with simulation.client("provider_ws") as ws:
            joined = []
            for iin in (ELIGIBLE, OWNER, VETERAN):
                answer = await ws.post("/api/chancellery/queue", json={"reglament": REGLAMENT, "applicant": {"iin": iin}})
                assert answer.status_code == 201, answer.text
                joined.append(answer.json())
            assert [(v["applicantIin"], v["outOfTurn"]) for v in joined] == [
                (ELIGIBLE, False), (OWNER, False), (VETERAN, True)]
            assert joined[2]["place"] == 1 and joined[2]["why"]["statuses"] == ["war-participant"]
            line = (await ws.get("/api/chancellery/queue", params={"reglament": REGLAMENT})).json()
            assert [v["applicantIin"] for v in line] == [VETERAN, ELIGIBLE, OWNER]
            called = [(await ws.post("/api/chancellery/queue/call", params={"reglament": REGLAMENT})).json()
                      for _ in range(3)]
            assert [v["applicantIin"] for v in called] == [VETERAN, ELIGIBLE, OWNER]
            assert all(v["calledAt"] for v in called)
            nobody = await ws.post("/api/chancellery/queue/call", params={"reglament": REGLAMENT})
            assert nobody.status_code == 409 and "nobody waits" in nobody.json()["message"]
            unknown = await ws.post("/api/chancellery/queue", json={"reglament": "no-such", "applicant": {"iin": ELIGIBLE}})
            assert unknown.status_code == 404
            bad = await ws.post("/api/chancellery/queue", json={"reglament": REGLAMENT, "applicant": {"iin": "123"}})
            assert bad.status_code == 422 and "applicant.iin" in bad.json()["message"]
            # the package is checked against the list of the queue the form names (item 15)
            papers = [{"code": c} for c in ("application", "identity", "residence", "category")]
            unlisted = await ws.post("/api/chancellery/applications", json={
                "reglament": REGLAMENT, "applicant": {"iin": VETERAN}, "attachments": papers})
            assert unlisted.status_code == 422 and "form.queueList" in unlisted.json()["message"]
            poor = await ws.post("/api/chancellery/applications", json={
                "reglament": REGLAMENT, "applicant": {"iin": VETERAN}, "attachments": papers,
                "form": {"queueList": "socially-vulnerable"}})  # an income-tested list wants the incomes
            assert poor.status_code == 422 and "incomes" in poor.json()["message"]
            # the called veteran hands the package for the veterans' list: the registry confirms it
        _, trace, view = await _provider_office(
            simulation, reglament, _case("provider-office", "approved", applicant=VETERAN, queue_list="war-veterans"))
    assert [e["label"] for e in trace] == ["17-тармақ", "1-кесте, 5-іс-қимыл", "1-кесте, 6-іс-қимыл",
                                           "1-кесте, 7-іс-қимыл"]
    assert view["state"] == "collected" and view["decision"] == "approved"
    assert view["result"]["document"]["queue"]["list"] == "war-veterans"
    # item 16, 1) at the authorised body: the receipt with every field the seed lists
    receipt = view["receipt"]
    assert receipt["requestNumber"] == view["registrationNumber"]
    assert receipt["acceptedAt"].startswith("2026-11-02T10:00")
    assert receipt["service"] == reglament.title.model_dump()
    assert [d["code"] for d in receipt["documents"]["items"]] == ["application", "identity", "residence", "category"]
    assert receipt["issue"]["date"] == "2026-12-02" and "Ә. Бөкейхан көшесі, 4" in receipt["issue"]["place"]["kk"]
    assert receipt["employee"] == {"fullName": "ЖҰМАБАЕВА ДИНАРА ЕРЛАНҚЫЗЫ", "phone": "8 (71037) 21190"}
    assert receipt["applicant"] == {"iin": VETERAN, "fullName": "ҚОЖАХМЕТОВ ҚАЙЫРБЕК НҰРҒАЛИҰЛЫ",
                                    "phone": "+7 701 433 02 30"}
    # item 9.1 at the authorised body: within 30 calendar days
    assert _at(trace[-1]) <= term_end(Duration.parse("30 calendar days"), _at(trace[0]))


async def test_the_centre_refuses_an_incomplete_package_naming_item_15(run_at):
    async with Simulation(run_at()) as simulation:
        _, trace, view = await _corporation(simulation, get_reglament(REGLAMENT),
                                            _case("corporation", "incomplete-package"))
    [refusal] = view["receipts"]
    assert refusal["type"] == "refusal-receipt" and refusal["form"] == "осы регламенттің 16-тармағы"
    assert "осы регламенттің 15-тармағында" in refusal["kk"] and "item 15 of the reglament" in refusal["en"]
    assert [m["code"] for m in refusal["missing"]] == ["category"]
    assert not [r for r in view["receipts"] if r["type"] == "documents-receipt"]  # no receipt: not all handed
