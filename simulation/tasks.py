"""Background tasks of a system: waiting on an event with a timeout, and stopping for sure.

Python 3.11's ``asyncio.wait_for`` can swallow a cancellation that arrives just as the awaited
event is set (the task goes on as if never cancelled), so a background loop built on it may
outlive the ``cancel()`` meant to stop it and leave its stopper waiting for ever.
:func:`wait_event` waits with ``asyncio.timeout`` instead, and :func:`stop_task` cancels again
until the task has ended. :func:`run_to_completion` runs work that must not stop halfway (a
session's commit, which gives its pooled connection back) to its end, and only then lets a
cancellation of the caller take effect.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")

__all__ = ["wait_event", "stop_task", "run_to_completion"]


async def wait_event(event: asyncio.Event, timeout: float) -> bool:
    """Wait until ``event`` is set or ``timeout`` seconds pass; whether it was set."""
    try:
        async with asyncio.timeout(timeout):
            await event.wait()
    except TimeoutError:
        return event.is_set()
    return True


async def stop_task(task: asyncio.Task | None, *, retry_every: float = 1.0) -> None:
    """Cancel ``task`` and wait until it has ended (cancelling again if it carried on)."""
    if task is None:
        return
    while not task.done():
        task.cancel()
        await asyncio.wait({task}, timeout=retry_every)
    if not task.cancelled():
        task.exception()  # retrieved, so asyncio does not report it again: the task logged its own error


async def run_to_completion(work: Coroutine[Any, Any, T]) -> T:
    """Await ``work`` in a task of its own, to its end even when the caller is cancelled meanwhile;
    the cancellation is raised once ``work`` has ended (``work``'s own error, if it failed, as its context).

    A background loop cancelled as its system stops must not be cut off inside a commit: the
    connection would reach its pool half reset (SQLAlchemy logs the cancellation's traceback) or
    go back after the pool was disposed of.

    ``work`` starts in the caller's task and a task of its own takes over only if it suspends:
    with SQLite in the event loop's thread (:mod:`simulation.sqliteloop`) a commit or a session's
    close nearly always ends without suspending, and a task for each -- two a session -- cost
    more than the rest of an empty session (docs/performance.md, "Whole applications"). A
    cancellation cannot reach work that never suspends; the caller meets it at its next await."""
    try:
        pending = work.send(None)
    except StopIteration as done:
        return done.value
    task = asyncio.get_running_loop().create_task(_resumed(work, pending))
    cancelled: asyncio.CancelledError | None = None
    while True:
        try:
            result = await asyncio.shield(task)
        except asyncio.CancelledError as exc:
            if task.done():  # ``work`` itself was cancelled (or the loop is closing): nothing to wait for
                raise
            cancelled = exc
        except BaseException:
            if cancelled is not None:
                raise cancelled  # the caller's cancellation, with ``work``'s error as its context
            raise
        else:
            break
    if cancelled is not None:
        raise cancelled
    return result


async def _resumed(work: Coroutine[Any, Any, T], pending: Any) -> T:
    """The rest of ``work``, which suspended on ``pending`` (the object its first step yielded)."""
    return await _Rest(work, pending)


class _Rest:
    """Awaiting it goes on with a coroutine already started: what it yields is handed on to the
    task, what the task sends or throws back goes into the coroutine."""

    __slots__ = ("work", "pending")

    def __init__(self, work: Coroutine[Any, Any, Any], pending: Any) -> None:
        self.work, self.pending = work, pending

    def __await__(self):
        pending = self.pending
        while True:
            try:
                sent = yield pending
            except BaseException as exc:  # the task throws in what the awaited object raised
                try:
                    pending = self.work.throw(exc)
                except StopIteration as done:
                    return done.value
            else:
                try:
                    pending = self.work.send(sent)
                except StopIteration as done:
                    return done.value
