"""run_to_completion: work that must not stop halfway ends before a cancellation of its caller
takes effect -- started in the caller's task, handed to a task of its own only if it suspends."""

from __future__ import annotations

import asyncio

import pytest

from simulation.tasks import run_to_completion


async def test_work_that_never_suspends_runs_in_the_callers_task():
    caller = asyncio.current_task()
    ran_in: list[asyncio.Task | None] = []

    async def work() -> str:
        ran_in.append(asyncio.current_task())
        return "done"

    assert await run_to_completion(work()) == "done"
    assert ran_in == [caller]


async def test_work_that_suspends_goes_on_in_a_task_of_its_own_and_gives_its_result():
    caller = asyncio.current_task()
    tasks: list[asyncio.Task | None] = []
    go_on = asyncio.Event()

    async def work() -> int:
        tasks.append(asyncio.current_task())
        await go_on.wait()
        await asyncio.sleep(0)  # a bare yield to the loop, handed on as well
        tasks.append(asyncio.current_task())
        return 42

    running = asyncio.create_task(run_to_completion(work()))
    await asyncio.sleep(0)
    go_on.set()
    assert await running == 42
    assert tasks[0] is not caller and tasks[1] is not None and tasks[1] is not running


async def test_a_caller_cancelled_while_the_work_waits_is_cancelled_only_after_it_ended():
    go_on = asyncio.Event()
    ended: list[str] = []

    async def work() -> None:
        await go_on.wait()
        ended.append("committed")

    caller = asyncio.create_task(run_to_completion(work()))
    await asyncio.sleep(0)
    caller.cancel()
    await asyncio.sleep(0)
    assert not caller.done() and ended == []  # still waiting for the work
    go_on.set()
    with pytest.raises(asyncio.CancelledError):
        await caller
    assert ended == ["committed"]


async def test_the_works_error_reaches_the_caller_before_and_after_a_suspension():
    async def at_once() -> None:
        raise ValueError("refused at once")

    async def later() -> None:
        await asyncio.sleep(0)
        raise KeyError("refused later")

    with pytest.raises(ValueError, match="refused at once"):
        await run_to_completion(at_once())
    with pytest.raises(KeyError, match="refused later"):
        await run_to_completion(later())


async def test_an_error_thrown_into_the_suspended_work_is_its_to_handle():
    """What the awaited object raises goes into the work, which may catch it and go on."""
    loop = asyncio.get_running_loop()
    failing: asyncio.Future[None] = loop.create_future()

    async def work() -> str:
        try:
            await failing
        except RuntimeError:
            await asyncio.sleep(0)
            return "recovered"
        return "not reached"

    running = asyncio.create_task(run_to_completion(work()))
    await asyncio.sleep(0)
    failing.set_exception(RuntimeError("the driver failed"))
    assert await running == "recovered"
