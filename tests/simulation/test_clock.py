"""The virtual clock: reading, moving, timers, running until idle, refusing to go back."""

from __future__ import annotations

import asyncio

from datetime import datetime, timedelta

import pytest

from simulation.calendar import Duration
from simulation.clock import ClockError, ClockStalled, TimerWorker, VirtualClock
from simulation.clock import SimulationModel
from simulation.database import Database

START = datetime.fromisoformat("2025-03-19T09:00:00+05:00")


@pytest.fixture
async def clock(settings):
    store = Database(settings, "simulation")
    await store.create_tables([SimulationModel.metadata])
    clock = VirtualClock(store, START, settings.run_id)
    await clock.ensure_started()
    yield clock
    await store.dispose()


async def test_starts_at_the_configured_time_and_keeps_it(clock, settings):
    assert await clock.now() == START
    again = VirtualClock(clock.store, START + timedelta(days=9), settings.run_id)
    await again.ensure_started()
    assert await again.now() == START, "a second system must not restart the run's clock"


async def test_advances_by_reglament_durations(clock):
    assert await clock.advance(Duration.parse("20 minutes")) == START + timedelta(minutes=20)
    assert await clock.advance(Duration.parse("1 hour")) == START + timedelta(hours=1, minutes=20)
    # From Wednesday 19 March 2025: Thursday 20th is the 1st working day; Nauryz (21-23 March)
    # with its days off moved to Monday 24th and Tuesday 25th is skipped; 26th, 27th follow.
    moved = await clock.advance(Duration.parse("3 working days"))
    assert moved.astimezone(START.tzinfo) == datetime.fromisoformat("2025-03-27T10:20:00+05:00")


async def test_cannot_go_back(clock):
    with pytest.raises(ClockError):
        await clock.advance(timedelta(minutes=-1))


async def test_runs_timers_in_order_until_idle(clock):
    worker = TimerWorker(clock, "tester", poll_interval=0.01)
    fired: list[tuple[str, datetime]] = []

    async def handler(timer):
        fired.append((timer.payload["name"], await clock.now()))
        if timer.payload["name"] == "first":
            await clock.schedule("tester", "step", timer.due + timedelta(days=27), {"name": "chained"})

    worker.on("step", handler)
    await clock.schedule("tester", "step", START + timedelta(hours=1), {"name": "second"})
    await clock.schedule("tester", "step", START + timedelta(minutes=20), {"name": "first"})
    assert await clock.next_due() == START + timedelta(minutes=20)
    worker.start()
    try:
        end = await clock.run_until_idle(timeout=120)
    finally:
        await worker.stop()
    assert fired == [
        ("first", START + timedelta(minutes=20)),
        ("second", START + timedelta(hours=1)),
        ("chained", START + timedelta(minutes=20, days=27)),
    ]
    assert end == START + timedelta(minutes=20, days=27)
    assert await clock.next_due() is None


async def test_advance_to_next_moves_to_the_next_timer_only(clock):
    await clock.schedule("tester", "step", START + timedelta(hours=2))
    await clock.schedule("tester", "step", START + timedelta(hours=5))
    assert await clock.advance_to_next() == START + timedelta(hours=2)
    assert await clock.now() == START + timedelta(hours=2)


async def test_a_failing_handler_is_recorded_and_does_not_stop_the_run(clock):
    worker = TimerWorker(clock, "tester", poll_interval=0.01)

    async def broken(timer):
        raise ValueError("boom")

    worker.on("step", broken)
    await clock.schedule("tester", "step", START + timedelta(minutes=1))
    worker.start()
    try:
        await clock.run_until_idle(timeout=120)
    finally:
        await worker.stop()
    [timer] = await clock.timers()
    assert timer.state == "failed"
    assert "boom" in timer.error


async def test_a_timer_nobody_runs_is_reported(clock):
    await clock.schedule("absent-system", "step", START + timedelta(minutes=1))
    with pytest.raises(ClockStalled, match="absent-system"):
        await clock.run_until_idle(timeout=0.3)


async def test_stop_task_ends_a_loop_that_swallows_one_cancellation():
    from simulation.tasks import stop_task

    swallowed = 0

    async def stubborn() -> None:
        nonlocal swallowed
        while True:
            try:
                await asyncio.sleep(10)
            except asyncio.CancelledError:
                if swallowed:
                    raise
                swallowed += 1  # as wait_for may do when the event fires at the moment of cancel

    task = asyncio.create_task(stubborn())
    await asyncio.sleep(0)
    await asyncio.wait_for(stop_task(task, retry_every=0.01), 5)
    assert task.cancelled() and swallowed == 1


async def test_wait_event():
    from simulation.tasks import wait_event

    event = asyncio.Event()
    assert await wait_event(event, 0.01) is False
    asyncio.get_running_loop().call_later(0.01, event.set)
    assert await wait_event(event, 5) is True


async def test_a_crowd_of_slow_timers_is_waited_for_while_it_makes_progress(clock):
    worker = TimerWorker(clock, "tester", poll_interval=0.01, concurrency=1)
    done = []

    async def slow(timer):
        await asyncio.sleep(0.1)
        done.append(timer.id)

    worker.on("step", slow)
    for _ in range(6):  # 0.6 s of work in all, each timer well within the 0.3 s without progress
        await clock.schedule("tester", "step", START + timedelta(minutes=1))
    worker.start()
    try:
        await clock.run_until_idle(timeout=0.3)
    finally:
        await worker.stop()
    assert len(done) == 6


async def test_the_fast_reader_reads_what_a_session_reads_and_falls_back_when_broken(clock, settings):
    """A runtime reads the clock past the ORM (one plain query on SQLite's file, one round trip
    on PostgreSQL); it sees every move, two clocks of one run share one PostgreSQL connection,
    and a broken reader falls back to a session and then recovers."""
    other = VirtualClock(clock.store, START, settings.run_id)
    clock.open_reader()
    other.open_reader()
    try:
        assert await clock.now() == START
        moved = await other.advance(timedelta(minutes=5))
        assert await clock.now() == moved == START + timedelta(minutes=5)
        reader = clock._reader
        if clock.store.schema is not None:
            assert other._reader is reader, "one reader (one connection) for the run in this loop"
            await reader._connection.close()  # the server dropped it, say
        else:
            reader._connection.close()
            reader._connection = None
            reader.path = "/nonexistent/dir/simulation.sqlite"  # unreadable: the session path answers
        await other.advance(timedelta(minutes=5))
        assert await clock.now() == START + timedelta(minutes=10)
    finally:
        await clock.close_reader()
        await other.close_reader()
    assert clock._reader is None


async def test_moving_time_wakes_only_the_workers_that_have_a_timer_due(clock):
    woken: dict[str, asyncio.Event] = {name: clock.subscribe(name) for name in ("due", "later", "idle")}
    try:
        await clock.schedule("due", "step", START + timedelta(minutes=1))
        await clock.schedule("later", "step", START + timedelta(days=1))
        for event in woken.values():
            event.clear()
        await clock.advance(timedelta(minutes=2))
        assert {name for name, event in woken.items() if event.is_set()} == {"due"}
        await clock.schedule("idle", "step", START)  # scheduling wakes its owner alone
        assert woken["idle"].is_set() and not woken["later"].is_set()
    finally:
        for name, event in woken.items():
            clock.unsubscribe(name, event)


async def test_a_closed_or_failing_postgresql_reader_holds_no_connection(clock, settings):
    """Once its last user closed it a reader answers None (the session path reads) and keeps no
    connection; a server it cannot reach is not asked again at every read."""
    if clock.store.schema is None:
        pytest.skip("PostgreSQL's reader")
    clock.open_reader()
    reader = clock._reader
    assert await clock.now() == START and reader._connection is not None
    await clock.close_reader()
    assert reader._connection is None and await reader.read() is None
    assert await clock.now() == START  # through a session

    broken = type(reader)("postgresql://postgres@127.0.0.1:1/none", clock.store.schema)
    assert await broken.read() is None  # refused: nothing listens on port 1
    retry_at = broken._retry_at
    assert retry_at > asyncio.get_running_loop().time()
    assert await broken.read() is None and broken._retry_at == retry_at, "not tried again at once"
    await broken.close()


async def test_a_finished_timer_wakes_a_settle_of_this_process(clock, monkeypatch):
    """settle looks again when a worker here finishes a timer, not after its pause: with the
    pause made an hour long, a settle that only slept would not return."""
    import simulation.clock as clock_module

    real_wait = clock_module.wait_event
    waiting = asyncio.Event()

    async def an_hour(event, timeout):
        waiting.set()
        return await real_wait(event, 3600)

    monkeypatch.setattr(clock_module, "wait_event", an_hour)
    await clock.schedule("tester", "step", START)
    settling = asyncio.create_task(clock.settle(timeout=3600))
    await asyncio.wait_for(waiting.wait(), 60)  # it saw the due timer and waits
    (timer,) = await clock.claim_due("tester")
    await clock.finish(timer.id)
    await asyncio.wait_for(settling, 60)  # a ceiling against a hang only
    assert clock.run_id not in clock_module._settling  # nothing left behind
