"""The reglament engine on its own: a small definition made here, fake systems with a few
operations, two engines sharing one store (the portal's and the provider's), timers run by hand."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import pytest

from simulation.calendar import Duration
from simulation.clock import SimulationModel, TimerWorker, VirtualClock
from simulation.database import Database
from simulation.definition import Reglament
from simulation.engine import (
    Done, Engine, EngineError, Operations, StepCall, Verdict, Wait, describe, entry_step,
)
from simulation.trace import Tracer
from tests.simulation.made_up import header, step, text

OFFICE = {"days": "mon-fri", "hours": "09:00-18:00", "breaks": ["13:00-14:00"]}


def definition() -> dict[str, Any]:
    """A made-up reglament with one channel per behaviour of the engine under test."""
    return {
        **header("unit-queue", "UNQ", "made up for the engine's unit tests"),
        "offices": {"provider_ws": OFFICE, "clerk": {"days": "mon-fri", "hours": "09:00-17:00"}},
        "staff": {"item": 2, "procedures": [
            {"number": 1, "actor": "clerk", "duration": "2 hours", "name": text("prepare"),
             "text_kk": "маман дайындайды", "operation": "prepare"},
            {"number": 2, "actor": "head", "duration": "30 minutes", "name": text("sign"),
             "text_kk": "басшы қол қояды", "operation": "note"},
        ]},
        "channels": {
            "walk": {"item": 3, "steps": [
                step("process-1", "portal", "note", params={"word": "hello"}, next="condition-1"),
                step("condition-1", "portal", "judge", then="process-2", **{"else": "process-3"}),
                step("process-2", "portal", operations=[
                    {"operation": "note", "params": {"word": "first."}},
                    {"operation": "note", "params": {"word": "second"}},
                ], outcome="decided"),
                step("process-3", "portal", "note", outcome="rejected"),
            ]},
            "wait": {"item": 3, "steps": [
                step("process-1", "portal", "note", next="process-2"),
                step("process-2", "portal", "take-signed", next="process-3"),
                step("process-3", "portal", "note", outcome="decided"),
            ]},
            "handover": {"item": 3, "steps": [
                step("process-1", "portal", "note", next="process-2"),
                step("process-2", "portal", "send", next="process-3"),
                step("process-3", "provider_ws", "note", next="process-4"),
                step("process-4", "provider_ws", "note", outcome="decided"),
            ]},
            "timed": {"item": 3, "steps": [
                step("process-1", "provider_ws", "note", next="action-1"),
                step("action-1", next="process-2"),
                step("process-2", "provider_ws", "note", duration="20 minutes", outcome="decided"),
            ]},
            "during": {"item": 3, "steps": [
                step("process-1", "provider_ws", "note", next="process-2"),
                step("process-2", "provider_ws", "note", during="action-1", next="action-1"),
                step("action-1", next="process-3"),
                step("process-3", "provider_ws", "note", outcome="decided"),
            ]},
            "rhythm": {"item": 3, "steps": [
                step("process-1", "provider_ws", "note", next="process-2"),
                step("process-2", "provider_ws", "note", duration="twice a working day", hours="clerk", next="process-3"),
                step("process-3", "provider_ws", "note", outcome="decided"),
            ]},
            "branch": {"item": 3, "steps": [
                step("process-1", "portal", "judge", then="process-2", **{"else": "process-3"}),
                step("process-2", "portal", "note", outcome="decided"),
                step("process-3", "portal", "note", outcome="refused"),
            ]},
            "office": {"item": 3, "steps": [
                step("process-1", "provider_ws", "note", next="process-2"),
                step("process-2", "provider_ws", "note", office_hours=True, outcome="decided"),
            ]},
        },
    }


# ---- fake systems -----------------------------------------------------------------------------


@dataclass
class Desk:
    """The object a fake system's operations work on: what they were called with, what to do."""

    name: str
    engine: Engine | None = None
    calls: list[tuple[str, datetime, dict[str, Any], dict[str, Any], bool | None]] = field(default_factory=list)
    stamps: dict[str, datetime] = field(default_factory=dict)
    """Step key -> the moment an operation says its step happened (Done.at)."""
    seen_after: list[Any] = field(default_factory=list)
    deliver: Any = None
    """Called by the ``send`` operation's ``after``: the message reaching the other system."""


def note_call(desk: Desk, call: StepCall) -> None:
    desk.calls.append((call.step.key, call.at, dict(call.inputs), dict(call.memory), call.verdict))


def install_common(operations: Operations) -> None:
    @operations.operation("note", summary="Does the step; says which", params={"word": "what to say"})
    async def note(desk: Desk, call: StepCall) -> Done:
        note_call(desk, call)
        return Done(detail=f"{desk.name}: {call.params.get('word', call.step.key)}",
                    at=desk.stamps.get(call.step.key), remember={f"{desk.name}-{call.step.key}": True})


PORTAL = Operations("portal")
PROVIDER = Operations("provider_ws")
install_common(PORTAL)
install_common(PROVIDER)


@PORTAL.operation("judge", summary="Verdict: the input says ok", verdict=True)
async def judge(desk: Desk, call: StepCall) -> Verdict:
    note_call(desk, call)
    holds = bool(call.inputs.get("ok"))
    return Verdict(detail="ok" if holds else "not ok", holds=holds)


@PORTAL.operation("take-signed", summary="Waits for the signed request")
async def take_signed(desk: Desk, call: StepCall) -> Done | Wait:
    note_call(desk, call)
    if "signed" not in call.inputs:
        return Wait("signed", detail="waits for the signature")
    return Done(detail=f"signed {call.inputs['signed']}")


@PORTAL.operation("send", summary="Sends the request to the provider")
async def send(desk: Desk, call: StepCall) -> Done:
    note_call(desk, call)
    application_id = call.application_id

    async def after() -> None:
        assert desk.engine is not None
        desk.seen_after.append(await desk.engine.position(application_id=application_id))
        if desk.deliver is not None:
            await desk.deliver(application_id)

    return Done(detail="sent", remember={"sent-by": "portal"}, after=after)


@PROVIDER.operation("prepare", summary="The clerk prepares the result")
async def prepare(desk: Desk, call: StepCall) -> Done:
    note_call(desk, call)
    return Done(detail="prepared")


# ---- the world of one test ------------------------------------------------------------------------


class World:
    def __init__(self, store: Database, clock: VirtualClock) -> None:
        self.store = store
        self.clock = clock
        self.tracer = Tracer(store, clock)
        self.reglament = Reglament.model_validate(definition())
        self.workers: list[TimerWorker] = []
        self.portal_desk = Desk("portal")
        self.provider_desk = Desk("provider")
        self.portal = self.engine("portal", PORTAL, self.portal_desk)
        self.provider = self.engine("provider_ws", PROVIDER, self.provider_desk)

    def engine(self, system: str, operations: Operations, desk: Desk, **options: Any) -> Engine:
        worker = TimerWorker(self.clock, system, poll_interval=0.01)
        self.workers.append(worker)
        engine = Engine(system, operations, desk, tracer=self.tracer, clock=self.clock, timers=worker,
                        store=self.store, reglaments=self.lookup, **options)
        desk.engine = engine
        return engine

    def lookup(self, reglament_id: str) -> Reglament:
        assert reglament_id == self.reglament.id
        return self.reglament

    async def run_timers(self) -> None:
        """Move the clock from timer to timer, each run by its owner, until none is pending."""
        for _ in range(50):
            if await self.clock.advance_to_next() is None:
                break
            for worker in self.workers:
                await worker.run_due()
        else:
            raise AssertionError("timers keep coming")
        failed = await self.clock.timers("failed")
        assert not failed, [t.error for t in failed]

    async def trace(self, application_id: str) -> list[tuple[str, str, str, datetime, str]]:
        return [(e.label, e.system, e.outcome, e.sim_time, e.detail)
                for e in await self.tracer.for_application(application_id)]

    async def moment(self, local: str) -> datetime:
        """Move the clock to ``local`` (Almaty time) and return it."""
        target = datetime.fromisoformat(local)
        await self.clock.advance(target - await self.clock.now())
        return target


@pytest.fixture
async def world(settings):
    store = Database(settings, "simulation")
    await store.create_tables([SimulationModel.metadata])
    clock = VirtualClock(store, settings.clock_start, settings.run_id)
    await clock.ensure_started()
    yield World(store, clock)
    await store.dispose()


MONDAY = "2026-11-02"  # conftest's WORKING_MONDAY: the clock starts there at 10:00


def at(clock_time: str, day: str = MONDAY) -> datetime:
    return datetime.fromisoformat(f"{day}T{clock_time}:00+05:00")


# ---- walking ---------------------------------------------------------------------------------------


async def test_a_walk_follows_next_and_then_and_records_each_step_in_order(world):
    position = await world.portal.start(world.reglament, "walk", application_id="A-1", inputs={"ok": True})
    assert position.done and position.outcome == "decided" and position.step_key == "process-2"
    events = await world.tracer.for_application("A-1")
    assert [(e.kind, e.number, e.label, e.outcome, e.detail) for e in events] == [
        ("process", 1, "1-процесс", "done", "portal: hello"),
        ("condition", 1, "1-шарт", "true", "ok"),
        # "first." is a sentence: its full stop gives way to the ";"
        ("process", 2, "2-процесс", "done", "portal: first; portal: second"),
    ]
    assert {e.system for e in events} == {"portal"}
    assert all(e.sim_time == at("10:00") for e in events)
    # the verdict of the condition and the memory of earlier steps reach the steps after it
    first, second = world.portal_desk.calls[-2:]
    assert (first[0], first[4], second[0], second[4]) == ("process-2", True, "process-2", True)
    assert first[3] == {"portal-process-1": True}
    assert second[3] == {"portal-process-1": True, "portal-process-2": True}, "one operation's notes reach the next"
    assert position.memory == {"portal-process-1": True, "portal-process-2": True}


async def test_a_false_verdict_follows_else(world):
    position = await world.portal.start(world.reglament, "walk", application_id="A-2", inputs={"ok": False})
    assert (position.state, position.outcome, position.step_key) == ("done", "rejected", "process-3")
    assert [(label, outcome, detail) for label, _, outcome, _, detail in await world.trace("A-2")] == [
        ("1-процесс", "done", "portal: hello"),
        ("1-шарт", "false", "not ok"),
        ("3-процесс", "done", "portal: process-3"),
    ]
    # a finished walk stays finished: resuming it changes nothing
    again = await world.portal.resume(application_id="A-2", event="anything")
    assert again == position
    assert len(await world.trace("A-2")) == 3


async def test_only_the_system_of_the_first_step_starts_a_walk(world):
    with pytest.raises(EngineError, match="a step of portal"):
        await world.provider.start(world.reglament, "walk", application_id="A-3")
    assert await world.portal.position(application_id="A-3") is None


async def test_an_engine_takes_only_its_own_systems_operations(world):
    with pytest.raises(ValueError, match="operations of portal given to the engine of provider_ws"):
        world.engine("provider_ws", PORTAL, Desk("mixed"))


# ---- waiting -----------------------------------------------------------------------------------------


async def test_a_wait_stops_the_walk_and_resume_goes_on_with_the_events_inputs(world):
    position = await world.portal.start(world.reglament, "wait", application_id="W-1")
    assert (position.state, position.event, position.step_key) == ("waiting", "signed", "process-2")
    assert describe(position) == {"step": "process-2", "system": "portal", "state": "waiting",
                                  "waitingFor": "signed", "outcome": None}
    assert [label for label, *_ in await world.trace("W-1")] == ["1-процесс"]

    await world.clock.advance(timedelta(minutes=7))
    position = await world.portal.resume(application_id="W-1", event="signed", inputs={"signed": "CMS-1"})
    assert position.done and position.outcome == "decided"
    assert [(label, when, detail) for label, _, _, when, detail in await world.trace("W-1")] == [
        ("1-процесс", at("10:00"), "portal: process-1"),
        ("2-процесс", at("10:07"), "signed CMS-1"),
        ("3-процесс", at("10:07"), "portal: process-3"),
    ]
    # the event's inputs reach every step of the resumed walk
    assert world.portal_desk.calls[-1][2] == {"signed": "CMS-1"}


async def test_resume_with_the_wrong_event_or_by_the_wrong_system_is_refused(world):
    await world.portal.start(world.reglament, "wait", application_id="W-2")
    with pytest.raises(EngineError, match="waits for 'signed' at process-2, not for 'paid'"):
        await world.portal.resume(application_id="W-2", event="paid")
    with pytest.raises(EngineError, match="waits for 'signed'"):
        await world.portal.resume(application_id="W-2")
    with pytest.raises(EngineError, match="a step of portal, not of provider_ws"):
        await world.provider.resume(application_id="W-2", event="signed")
    with pytest.raises(EngineError, match="no walk for W-unknown"):
        await world.portal.resume(application_id="W-unknown", event="signed")
    position = await world.portal.position(application_id="W-2")
    assert (position.state, position.event) == ("waiting", "signed")
    assert [label for label, *_ in await world.trace("W-2")] == ["1-процесс"]


async def test_bind_gives_a_sessions_walk_and_trace_to_its_application_once(world):
    position = await world.portal.start(world.reglament, "wait", session_id="S-1")
    assert position.state == "waiting" and position.application_id is None
    assert [e.label for e in await world.tracer.for_session("S-1")] == ["1-процесс"]

    assert await world.portal.bind("S-1", "B-1") is True
    assert await world.portal.position(session_id="S-1") is None
    bound = await world.portal.position(application_id="B-1")
    assert (bound.application_id, bound.session_id, bound.state, bound.event) == ("B-1", "S-1", "waiting", "signed")
    assert [label for label, *_ in await world.trace("B-1")] == ["1-процесс"]

    assert await world.portal.bind("S-1", "B-2") is False, "a session's walk goes to its first application only"
    assert await world.portal.position(application_id="B-2") is None
    assert await world.trace("B-2") == []
    assert await world.portal.bind("S-none", "B-3") is False

    done = await world.portal.resume(application_id="B-1", event="signed", inputs={"signed": "CMS-2"})
    assert done.outcome == "decided"
    assert [label for label, *_ in await world.trace("B-1")] == ["1-процесс", "2-процесс", "3-процесс"]


# ---- two systems ---------------------------------------------------------------------------------------


async def test_a_step_of_another_system_hands_the_walk_over_and_that_engine_takes_it_up(world):
    position = await world.portal.start(world.reglament, "handover", application_id="H-1")
    assert (position.state, position.step_key, position.system) == ("handed-over", "process-3", "provider_ws")
    assert [(label, system) for label, system, *_ in await world.trace("H-1")] == [
        ("1-процесс", "portal"), ("2-процесс", "portal"),
    ]
    # the portal cannot go on with the provider's step
    with pytest.raises(EngineError, match="a step of provider_ws, not of portal"):
        await world.portal.resume(application_id="H-1")

    position = await world.provider.take_up(world.reglament, "handover", application_id="H-1")
    assert position.done and position.outcome == "decided"
    assert [(label, system) for label, system, *_ in await world.trace("H-1")] == [
        ("1-процесс", "portal"), ("2-процесс", "portal"), ("3-процесс", "provider_ws"), ("4-процесс", "provider_ws"),
    ]
    # what the portal's steps remembered reaches the provider's operations
    assert world.provider_desk.calls[0][0] == "process-3"
    assert world.provider_desk.calls[0][3]["sent-by"] == "portal"


async def test_after_runs_once_the_step_is_recorded_and_the_position_moved_on(world):
    await world.portal.start(world.reglament, "handover", application_id="H-2")
    [seen] = world.portal_desk.seen_after
    assert (seen.step_key, seen.state, seen.system) == ("process-3", "handed-over", "provider_ws")
    assert [label for label, *_ in await world.trace("H-2")][-1] == "2-процесс"


async def test_a_message_sent_in_after_may_move_the_walk_on_before_the_sender_returns(world):
    async def deliver(application_id: str) -> None:  # the provider receives the message at once
        await world.provider.take_up(world.reglament, "handover", application_id=application_id)

    world.portal_desk.deliver = deliver
    position = await world.portal.start(world.reglament, "handover", application_id="H-3")
    assert position.done and position.outcome == "decided" and position.system == "provider_ws"
    assert [label for label, *_ in await world.trace("H-3")] == ["1-процесс", "2-процесс", "3-процесс", "4-процесс"]


async def test_take_up_without_a_walk_starts_where_a_message_enters_the_system(world):
    channel = world.reglament.channel("handover")
    assert entry_step(channel, "provider_ws").key == "process-3"
    assert entry_step(channel, "portal") is None
    position = await world.provider.take_up(world.reglament, "handover", application_id="H-4")
    assert position.done and position.outcome == "decided"
    assert [e.step_key for e in await world.tracer.for_application("H-4")] == ["process-3", "process-4"]
    assert world.provider_desk.calls[0][0] == "process-3"

    with pytest.raises(EngineError, match="no step of portal takes a message"):
        await world.portal.take_up(world.reglament, "handover", application_id="H-5")
    assert await world.portal.position(application_id="H-5") is None


# ---- time ------------------------------------------------------------------------------------------------


async def test_a_timed_step_waits_for_its_timer_in_the_offices_hours(world):
    start = await world.moment(f"{MONDAY}T12:00:00+05:00")
    position = await world.provider.start(world.reglament, "timed", application_id="T-1")
    assert (position.state, position.step_key) == ("timed", "action-1")
    hours = world.reglament.schedule_of("provider_ws")
    [timer] = await world.clock.timers("pending")
    assert timer.owner == "provider_ws"
    due = hours.add(Duration.parse("2 hours"), start)
    assert due == at("15:00"), "two working hours from noon, the lunch hour skipped"
    assert timer.due_us == int(due.timestamp() * 1_000_000)
    assert [label for label, *_ in await world.trace("T-1")] == ["1-процесс"]
    with pytest.raises(EngineError, match="waits for the time of action-1 to run out"):
        await world.provider.resume(application_id="T-1")

    await world.run_timers()
    assert await world.trace("T-1") == [
        ("1-процесс", "provider_ws", "done", at("12:00"), "provider: process-1"),
        ("2-тармақ, 1)", "provider_ws", "done", at("15:00"), "маман, 2 сағат: prepared"),
        ("2-процесс", "provider_ws", "done", at("15:20"), "provider: process-2"),
    ]
    position = await world.provider.position(application_id="T-1")
    assert position.done and position.outcome == "decided"
    # the stored position is stamped with the virtual time of its last write
    from simulation.engine import _read_row
    assert (await _read_row(world.store, "T-1")).updated_us == int(at("15:20").timestamp() * 1_000_000)
    assert await world.clock.now() == at("15:20")
    # each operation was called at the moment its step happened
    assert [(key, when) for key, when, *_ in world.provider_desk.calls] == [
        ("process-1", at("12:00")), ("action-1", at("15:00")), ("process-2", at("15:20")),
    ]


async def test_steps_during_a_procedure_are_recorded_when_its_time_is_up_before_it(world):
    await world.moment(f"{MONDAY}T12:00:00+05:00")
    position = await world.provider.start(world.reglament, "during", application_id="D-1")
    assert (position.state, position.step_key) == ("timed", "process-2")
    assert [label for label, *_ in await world.trace("D-1")] == ["1-процесс"]
    await world.run_timers()
    assert [(label, when) for label, _, _, when, _ in await world.trace("D-1")] == [
        ("1-процесс", at("12:00")),
        ("2-процесс", at("15:00")),
        ("2-тармақ, 1)", at("15:00")),
        ("3-процесс", at("15:00")),
    ]
    assert len(await world.clock.timers()) == 1, "the procedure's time is counted once"


async def test_a_rhythm_step_waits_for_the_next_run_in_its_own_offices_hours_and_says_since_when(world):
    """A courier running twice a working day on 09:00-17:00 (not the provider's hours): runs at
    13:00 and 17:00; a package ready at 13:30 on Friday goes with Friday's second run, one ready
    after it with Monday's first."""
    await world.moment("2026-11-06T13:30:00+05:00")
    position = await world.provider.start(world.reglament, "rhythm", application_id="R-1")
    assert (position.state, position.step_key) == ("timed", "process-2")
    await world.provider.start(world.reglament, "rhythm", application_id="R-2", at=at("17:30", "2026-11-06"))
    await world.run_timers()
    first, second = await world.trace("R-1"), await world.trace("R-2")
    assert [(label, when) for label, _, _, when, _ in first] == [
        ("1-процесс", at("13:30", "2026-11-06")), ("2-процесс", at("17:00", "2026-11-06")),
        ("3-процесс", at("17:00", "2026-11-06"))]
    assert first[1][4] == "provider: process-2 (2026-11-06 13:30 бастап кезекті жөнелтуді күтті)"
    assert "күтті" not in first[2][4]
    assert [when for _, _, _, when, _ in second][1] == at("13:00", "2026-11-09")
    assert second[1][4].endswith("(2026-11-06 17:30 бастап кезекті жөнелтуді күтті)")


async def test_a_step_that_is_no_condition_may_branch_on_its_operations_verdict(world):
    yes = await world.portal.start(world.reglament, "branch", application_id="B-1", inputs={"ok": True})
    no = await world.portal.start(world.reglament, "branch", application_id="B-2", inputs={})
    assert (yes.outcome, no.outcome) == ("decided", "refused")
    assert [label for label, *_ in await world.trace("B-1")] == ["1-процесс", "2-процесс"]
    assert [label for label, *_ in await world.trace("B-2")] == ["1-процесс", "3-процесс"]


async def test_an_office_hours_step_waits_for_the_opening(world):
    await world.moment(f"{MONDAY}T19:30:00+05:00")
    position = await world.provider.start(world.reglament, "office", application_id="O-1")
    assert (position.state, position.step_key) == ("timed", "process-2")
    await world.run_timers()
    assert [(label, when, detail) for label, _, _, when, detail in await world.trace("O-1")] == [
        ("1-процесс", at("19:30"), "provider: process-1"),
        ("2-процесс", at("09:00", "2026-11-03"), "provider: process-2"),
    ]


async def test_an_office_hours_step_in_office_hours_goes_straight_on(world):
    position = await world.provider.start(world.reglament, "office", application_id="O-2")
    assert position.done
    assert [when for _, _, _, when, _ in await world.trace("O-2")] == [at("10:00"), at("10:00")]
    assert await world.clock.timers() == []


async def test_a_procedure_reaching_a_closed_office_says_when_it_was_taken_up(world):
    await world.moment(f"{MONDAY}T19:00:00+05:00")
    await world.provider.start(world.reglament, "timed", application_id="C-1")
    await world.run_timers()
    events = await world.trace("C-1")
    assert [(label, when) for label, _, _, when, _ in events] == [
        ("1-процесс", at("19:00")),
        ("2-тармақ, 1)", at("11:00", "2026-11-03")),
        ("2-процесс", at("11:20", "2026-11-03")),
    ]
    assert events[1][4] == "маман, 2 сағат: prepared (жұмыс уақыты басталғанда қабылданды: 2026-11-03 09:00)"
    assert "жұмыс уақыты" not in events[2][4], "only the procedure that came to the closed office says so"


async def test_where_people_work_by_hand_a_procedure_waits_for_the_staff(world):
    desk = Desk("by-hand")
    engine = world.engine("provider_ws", PROVIDER, desk, works_by_hand=lambda step: step.actor is not None)
    position = await engine.start(world.reglament, "timed", application_id="M-1")
    assert (position.state, position.event, position.step_key) == ("waiting", "staff", "action-1")
    assert await world.clock.timers() == []
    with pytest.raises(EngineError, match="waits for 'staff'"):
        await engine.resume(application_id="M-1", event="signed")

    await world.clock.advance(timedelta(minutes=45))
    position = await engine.resume(application_id="M-1", event="staff", inputs={"executor": "Ә. Сейітов"})
    # the procedure is done when the person says so; the next step keeps its own timer
    assert (position.state, position.step_key) == ("timed", "process-2")
    assert desk.calls[-1][0] == "action-1" and desk.calls[-1][2] == {"executor": "Ә. Сейітов"}
    await world.run_timers()
    assert [(label, when) for label, _, _, when, _ in await world.trace("M-1")] == [
        ("1-процесс", at("10:00")),
        ("2-тармақ, 1)", at("10:45")),
        ("2-процесс", at("11:05")),
    ]


async def test_a_step_stamped_earlier_does_not_turn_the_walk_back(world):
    world.portal_desk.stamps["process-1"] = at("09:40")
    await world.portal.start(world.reglament, "walk", application_id="E-1", inputs={"ok": True})
    assert [(label, when) for label, _, _, when, _ in await world.trace("E-1")] == [
        ("1-процесс", at("09:40")), ("1-шарт", at("10:00")), ("2-процесс", at("10:00")),
    ]
    assert [(key, when) for key, when, *_ in world.portal_desk.calls] == [
        ("process-1", at("10:00")), ("condition-1", at("10:00")), ("process-2", at("10:00")), ("process-2", at("10:00")),
    ]


async def test_a_step_stamped_later_moves_the_walk_on_with_it(world):
    world.portal_desk.stamps["process-1"] = at("10:30")
    await world.portal.start(world.reglament, "walk", application_id="E-2", inputs={"ok": True})
    assert [when for _, _, _, when, _ in await world.trace("E-2")] == [at("10:30")] * 3


async def test_a_step_during_a_procedure_at_a_closed_office_leaves_the_note_to_the_procedure(world):
    await world.moment(f"{MONDAY}T18:30:00+05:00")
    await world.provider.start(world.reglament, "during", application_id="C-2")
    await world.run_timers()
    events = await world.trace("C-2")
    assert [(label, when, detail) for label, _, _, when, detail in events] == [
        ("1-процесс", at("18:30"), "provider: process-1"),
        ("2-процесс", at("11:00", "2026-11-03"), "provider: process-2"),
        ("2-тармақ, 1)", at("11:00", "2026-11-03"),
         "маман, 2 сағат: prepared (жұмыс уақыты басталғанда қабылданды: 2026-11-03 09:00)"),
        ("3-процесс", at("11:00", "2026-11-03"), "provider: process-3"),
    ]


async def test_an_operation_failing_when_its_time_comes_leaves_the_position_failed_saying_why(world, monkeypatch):
    async def gateway_down(desk: Desk, call: StepCall) -> Done:
        raise ConnectionError("the regional gateway does not answer")

    failing = PROVIDER.get("prepare")
    monkeypatch.setitem(PROVIDER._operations, "prepare", type(failing)(
        failing.name, gateway_down, failing.summary, failing.params, failing.required, failing.verdict))
    await world.moment(f"{MONDAY}T12:00:00+05:00")
    await world.provider.start(world.reglament, "timed", application_id="F-1")
    await world.clock.advance_to_next()
    for worker in world.workers:
        await worker.run_due()
    [failed] = await world.clock.timers("failed")
    assert "the regional gateway does not answer" in (failed.error or "")
    position = await world.provider.position(application_id="F-1")
    assert (position.state, position.step_key) == ("failed", "action-1")
    assert position.event == "ConnectionError: the regional gateway does not answer"
    assert [label for label, *_ in await world.trace("F-1")] == ["1-процесс"]


def test_the_engines_position_object_holds_every_column_of_the_position_table():
    from dataclasses import fields

    from simulation.engine import CursorRow, _Cursor

    assert {f.name for f in fields(_Cursor)} == set(CursorRow.__table__.columns.keys())
