"""Background tasks of a system: waiting on an event with a timeout, and stopping for sure.

Python 3.11's ``asyncio.wait_for`` can swallow a cancellation that arrives just as the awaited
event is set (the task goes on as if never cancelled), so a background loop built on it may
outlive the ``cancel()`` meant to stop it and leave its stopper waiting for ever.
:func:`wait_event` waits with ``asyncio.timeout`` instead, and :func:`stop_task` cancels again
until the task has ended.
"""

from __future__ import annotations

import asyncio

__all__ = ["wait_event", "stop_task"]


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
