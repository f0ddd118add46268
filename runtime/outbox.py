"""A system's outbox: results and notices it delivers through the gateway, tried again in virtual
time when the way is down.

A provider hands its signed result (or a notice, an acceptance report, a cabinet's receipt) to the
system the applicant deals with through the gateway's sync channel. When that fails for a reason
that may pass -- the target or the gateway unreachable, too slow, its answer broken
(:data:`TRANSIENT`) -- :meth:`Outbox.deliver` does not raise: it keeps the message in a timer of the
run's clock and tries again after a pause of virtual time (1, 2, 4 … minutes, at most an hour), up
to ``outbox_attempts`` attempts in all. Each attempt is a new signed message with a fresh
messageId, so the gateway's message log shows every one. After the last it gives up with one
error line naming the application, the service and the last fault.

A refusal (``Client.*``, ``Provider.*``: the message itself is wrong, or the target will not take
it) raises at once, as :meth:`~gateway_protocol.client.GatewayClient.send` does: trying again would
change nothing.

The message waits in the timer's payload, in the run's simulation store: a restart of the sender
between two attempts loses nothing, its new timer worker takes the next attempt when it falls due.
An attempt the target processed but whose answer was lost (a connection reset) comes again: the
receiving systems take a second copy of the same signed document as already taken.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from gateway_protocol.envelope import SyncResponse
from gateway_protocol.errors import ErrorCode, GatewayFault
from simulation.clock import Timer

if TYPE_CHECKING:
    from runtime.system import SystemRuntime

log = logging.getLogger(__name__)

TIMER_KIND = "outbox-delivery"
"""The kind of the timers that hold a message waiting for its next attempt."""
FIRST_PAUSE = timedelta(minutes=1)
"""Virtual time between the first attempt and the second; doubled after each failed attempt."""
LONGEST_PAUSE = timedelta(hours=1)
"""The longest pause between two attempts."""
TRANSIENT = frozenset({
    ErrorCode.PROVIDER_UNAVAILABLE,
    ErrorCode.PROVIDER_TIMEOUT,
    ErrorCode.PROVIDER_RESPONSE_INVALID,
    ErrorCode.GATEWAY_INTERNAL,
})
"""Faults that may pass by themselves: worth another attempt later."""


def is_transient(fault: GatewayFault) -> bool:
    return fault.code in TRANSIENT


def pause_after(attempt: int) -> timedelta:
    """The virtual time to wait after failed attempt number ``attempt`` (1 for the first)."""
    return min(FIRST_PAUSE * 2 ** min(attempt - 1, 30), LONGEST_PAUSE)


class Outbox:
    """One system's deliveries through the gateway, with their retries (see the module)."""

    def __init__(self, runtime: SystemRuntime) -> None:
        self.runtime = runtime
        self._listening = False

    def listen(self) -> None:
        """Take the retries of this system's waiting messages: its timer worker runs them. A
        system that walks reglaments listens from its start (:meth:`SystemRuntime.engine`), so
        the messages a previous run of it left waiting are taken up after a restart."""
        if not self._listening:
            self.runtime.timers.on(TIMER_KIND, self._retry)
            self._listening = True

    async def deliver(
        self,
        service_id: str,
        data: Any,
        *,
        correlation_id: str | None = None,
        route_id: str | None = None,
        via: str = "gateway",
        properties: dict[str, str] | None = None,
    ) -> SyncResponse | None:
        """Send ``data`` to ``service_id`` through the gateway ``via``: the target's response when
        the first attempt goes through; None when it failed for a transient reason and waits for
        the next attempt (or, with ``outbox_attempts`` 1, was given up). A refusal raises
        :class:`~gateway_protocol.errors.GatewayFault`."""
        self.listen()
        letter = {
            "serviceId": service_id, "data": data, "correlationId": correlation_id, "routeId": route_id,
            "via": via, "properties": properties or {}, "attempt": 1,
        }
        return await self._attempt(letter)

    async def _attempt(self, letter: dict[str, Any]) -> SyncResponse | None:
        runtime = self.runtime
        attempt = int(letter["attempt"])
        try:
            reply = await runtime.gateway(letter["via"]).send(
                letter["serviceId"], letter["data"], route_id=letter.get("routeId"),
                correlation_id=letter.get("correlationId"), properties=letter.get("properties") or None,
            )
        except GatewayFault as fault:
            if not is_transient(fault):
                raise
            return await self._later(letter, attempt, fault)
        if attempt > 1:
            log.info("%s delivered %s of application %s at attempt %d", runtime.name, letter["serviceId"],
                     letter.get("correlationId"), attempt)
        return reply

    async def _later(self, letter: dict[str, Any], attempt: int, fault: GatewayFault) -> None:
        runtime = self.runtime
        limit = runtime.settings.outbox_attempts
        if attempt >= limit:
            log.error("%s gave up delivering %s of application %s after %d attempts; the last fault: %s",
                      runtime.name, letter["serviceId"], letter.get("correlationId"), attempt, fault)
            return None
        due = await runtime.now() + pause_after(attempt)
        await runtime.clock.schedule(
            runtime.name, TIMER_KIND, due, {**letter, "attempt": attempt + 1, "lastFault": str(fault)},
            application_id=letter.get("correlationId"),
        )
        log.warning("%s could not deliver %s of application %s (attempt %d of %d: %s); next attempt at %s",
                    runtime.name, letter["serviceId"], letter.get("correlationId"), attempt, limit, fault,
                    due.isoformat())
        if runtime.ready:  # a system that had no timers of its own starts its worker now
            runtime.timers.start()
        return None

    async def _retry(self, timer: Timer) -> None:
        letter = timer.payload
        try:
            await self._attempt(letter)
        except GatewayFault as fault:  # refused now: one line, the timer is done with
            log.error("%s gave up delivering %s of application %s at attempt %s: refused: %s",
                      self.runtime.name, letter.get("serviceId"), letter.get("correlationId"),
                      letter.get("attempt"), fault)
