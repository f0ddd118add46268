"""The async channel: store and forward.

``sendMessage`` checks a message as the sync channel does, stores it (committed before the sender
hears "accepted") and answers at once with its messageId and correlationId. A delivery task then
hands it to its next hop, again and again with growing pauses while the hop is unreachable or
failing, until it is DELIVERED, or NOT_DELIVERED (the hop refused it, the gateway has no way to
the target -- ``Server.TargetUnknown`` --, or the attempts ran out), or an operator stops it
(DELIVERY_STOPPED); a final state is never tried again, after a restart neither. Messages still ON_DELIVERY when the gateway stops --
or is killed -- are taken up again when it starts. The hop's own replay guard makes a delivery
repeated after a crash count once.

The store may be shared by several processes (the replicas of the central gateway,
docs/scaling.md): then a due message is *claimed* before it is tried -- one conditional UPDATE
that sets its lease (``lease_until``, ``claimed_by``) only where no live lease is -- so one
process tries it at a time. (A gateway that is its system's only process knows what it is trying
and skips that write: on SQLite every write waits for the file's one lock.) A process that dies mid-attempt leaves its lease to run out, and another
takes the message up then; a process started again under the same name (a restarted replica,
or the only gateway) takes its own leases back at once. The delivery notices' numbers are
drawn under a transaction lock then, in the order they are committed.

Pauses between attempts are in wall-clock time: they are the network's, not the reglament's.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from datetime import datetime
from typing import Any

from sqlalchemy import func, or_, text, tuple_, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import select

from gateway.messages import Accepted, Checkpoint, Format, Incoming, Reply, remembered, stored_message
from gateway.models import AsyncMessage
from gateway.replicas import lease_of
from gateway_protocol import soap
from gateway_protocol.envelope import SUCCESS_CODE, SUCCESS_MESSAGE, ErrorInfo, RequestInfo
from gateway_protocol.errors import ErrorCode, GatewayFault
from simulation.calendar import to_local
from simulation.clock import from_us, to_us
from simulation.observability import log_context
from simulation.tasks import stop_task, wait_event

log = logging.getLogger(__name__)

ON_DELIVERY, DELIVERED, NOT_DELIVERED, DELIVERY_STOPPED = (
    "ON_DELIVERY", "DELIVERED", "NOT_DELIVERED", "DELIVERY_STOPPED",
)
FINAL = (DELIVERED, NOT_DELIVERED, DELIVERY_STOPPED)
# Seconds the delivery loop sleeps when no message is waiting at all. Every change that can make
# one due (a message taken, an attempt finished, a delivery stopped) wakes it at once, and a retry
# is waited for to its time; this is only the interval of its look at the store for anything else.
IDLE_LOOK = 10.0
PULL_ONLY = 2.0**62
"""``next_attempt`` of a message whose recipient takes its messages itself (``getMessages``,
:mod:`gateway.soapchannel`): the delivery loop never pushes it."""
RETRYABLE = {
    ErrorCode.PROVIDER_UNAVAILABLE.value, ErrorCode.PROVIDER_TIMEOUT.value,
    ErrorCode.PROVIDER_RESPONSE_INVALID.value, ErrorCode.GATEWAY_INTERNAL.value,
}


class AsyncDelivery:
    def __init__(self, gateway: Checkpoint, concurrency: int = 32) -> None:
        self.gateway = gateway
        self.runtime = gateway.runtime
        self.concurrency = concurrency
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._in_flight: set[tuple[str, str]] = set()
        self._notice = 0
        self.claimer = gateway.runtime.settings.replica or gateway.runtime.name
        """Who this process is in the leases of the store (the replica's name, or the gateway's)."""
        self.shared = gateway.runtime.settings.replica is not None
        """Other processes write this store too (replicas): notices are numbered in the database."""
        self.lease = lease_of(gateway.runtime.settings)

    async def update_on_delivery(self, row: AsyncMessage, values: dict[str, Any], *, claimed: bool = False) -> bool:
        """Write ``values`` on ``row``'s message if it is still ON_DELIVERY (a final state is never
        changed) -- and, ``claimed``, still this process's to try (its lease not taken over by
        another); whether it was. A ``notice_seq`` in ``values`` is, in a shared store, replaced by
        the next number drawn under a transaction lock, so notices commit in their numbers' order."""
        conditions = [AsyncMessage.sender_id == row.sender_id, AsyncMessage.message_id == row.message_id,
                      AsyncMessage.state == ON_DELIVERY]
        if claimed:
            conditions.append(AsyncMessage.claimed_by == self.claimer)
        async with self.runtime.db.session() as session:
            if self.shared and "notice_seq" in values:
                await session.execute(text("SELECT pg_advisory_xact_lock(hashtext('gateway_async_notices'))"))
                values = {**values, "notice_seq": 1 + ((await session.exec(
                    select(func.max(AsyncMessage.notice_seq))
                )).one() or 0)}
            result = await session.exec(update(AsyncMessage).where(*conditions).values(**values))
            await session.commit()
        return bool(result.rowcount)

    # ---- taking a message -----------------------------------------------------------------

    async def send(self, body: bytes, headers: Any, fmt: Format = "json") -> Reply:
        """A message taken (JSON, or a SOAP ``sendMessage``): checked as the sync channel checks it
        (plus its messageType), stored, answered with its messageId and correlationId. A SOAP
        answer (``sendMessageResponse`` or a fault) is signed with the gateway's key."""
        started = time.perf_counter()
        at = await self.runtime.now()
        service_id = "-"
        incoming: Incoming | None = None
        try:
            config = self.gateway.config  # one configuration for all the checks of a message
            incoming, came_from = await self.gateway.authenticate(body, headers, at, "async", config, fmt)
            info = incoming.info
            service_id = info.serviceId
            with log_context(correlationId=info.correlationId or info.messageId, messageId=info.messageId,
                             serviceId=info.serviceId, gateway=self.runtime.name):

                async def produce() -> tuple[int, dict[str, Any]]:
                    try:
                        accepted = self.gateway.admit(incoming, came_from, at, "async", config)
                    except GatewayFault as fault:
                        self.gateway.log_request(incoming, came_from, None, at, "async", "REFUSED", fault.code)
                        return fault.http_status, fault.to_body(at)
                    await self._store(accepted)
                    self.gateway.log_request(incoming, came_from, accepted.target, at, "async", ON_DELIVERY, None)
                    return 200, _acceptance(info, at)

                try:
                    (status, answer), replayed = await self.gateway.replay.answer(
                        (info.sender.senderId, info.messageId), produce, at=at, window=self.gateway.replay_window
                    )
                except GatewayFault as fault:  # a repeat older than the replay window
                    self.gateway.log_request(incoming, came_from, None, at, "async", "REFUSED", fault.code)
                    raise
                if replayed:
                    self.gateway.metrics.replays.inc()
                self.gateway.count(service_id, "async", "REPLAYED" if replayed else ("ACCEPTED" if status == 200 else
                                    str(answer.get("errorInfo", {}).get("errorCode"))), started)
                if fmt == "soap":
                    return self._soap_answer(status, answer, at, info)
                return Reply(status, answer)
        except GatewayFault as fault:
            self.gateway.count(service_id, "async", fault.code, started)
            if fmt == "soap":
                return self.gateway.soap_fault(fault, "sendMessage", at)
            return Reply(fault.http_status, fault.to_body(at))

    def _soap_answer(self, status: int, answer: dict[str, Any], at: datetime, info: RequestInfo) -> Reply:
        """The SOAP answer to a sendMessage from the answer the replay guard keeps (a repeat gets
        the same messageId and correlationId again, in an envelope signed anew). After a restart
        the guard may hold the delivery's outcome instead of the acceptance: the message was taken
        all the same, and is acknowledged with its own ids."""
        if status != 200:
            if isinstance(answer.get("errorInfo"), dict) and "errorMessage" in answer["errorInfo"]:
                fault = GatewayFault.from_error_info(ErrorInfo.model_validate(answer["errorInfo"]))
            else:
                fault = GatewayFault(str(answer.get("errorCode") or ErrorCode.GATEWAY_INTERNAL.value),
                                     "the first answer to this messageId, given again")
            return self.gateway.soap_fault(fault, "sendMessage", at)
        envelope = soap.send_message_response(
            answer.get("messageId") or info.messageId, answer.get("correlationId") or info.correlationId or info.messageId, at,
        )
        return Reply(200, answer, raw=self.gateway.sign_soap(envelope), at=at, format="soap")

    async def _store(self, accepted: Accepted) -> None:
        info = accepted.info
        try:
            await self._insert(accepted)
        except IntegrityError:  # stored by another process of this gateway whose claim ran out
            raise GatewayFault(
                ErrorCode.MESSAGE_REPLAYED,
                f"messageId {info.messageId!r} of {info.sender.senderId!r} is already stored for delivery",
            ) from None
        self._wake.set()

    async def _insert(self, accepted: Accepted) -> None:
        info = accepted.info
        async with self.runtime.db.session() as session:
            session.add(
                AsyncMessage(
                    sender_id=info.sender.senderId, message_id=info.messageId, correlation_id=info.correlationId,
                    service_id=info.serviceId, message_type=info.messageType or "REQUEST",
                    recipient=accepted.target, state=ON_DELIVERY,
                    next_attempt=PULL_ONLY if self.gateway.waits_for_pull(accepted.target) else time.time(),
                    accepted_us=to_us(accepted.at), body=accepted.body.decode("utf-8"),
                )
            )
            await session.commit()

    # ---- delivering -----------------------------------------------------------------------

    async def start(self) -> None:
        async with self.runtime.db.session() as session:
            self._notice = (await session.exec(select(func.max(AsyncMessage.notice_seq)))).one() or 0
            # this process's earlier life (killed mid-attempt) held these: tried again now
            await session.exec(
                update(AsyncMessage)
                .where(AsyncMessage.claimed_by == self.claimer, AsyncMessage.state == ON_DELIVERY)
                .values(lease_until=None, claimed_by=None)
            )
            await session.commit()
        self._task = asyncio.create_task(self._deliver_forever(), name=f"async delivery {self.runtime.name}")

    async def stop(self) -> None:
        await stop_task(self._task)
        self._task = None

    async def _deliver_forever(self) -> None:
        running: set[asyncio.Task[None]] = set()
        try:
            while True:
                try:
                    free = self.concurrency - len(running)
                    due, wait = await self._due(free) if free > 0 else ([], 0.05)
                    for row in due:
                        key = (row.sender_id, row.message_id)
                        self._in_flight.add(key)
                        task = asyncio.create_task(self._attempt(row))
                        running.add(task)
                        task.add_done_callback(lambda t, key=key: (running.discard(t), self._in_flight.discard(key), self._wake.set()))
                    await self._update_depth()
                except Exception:
                    log.exception("the async delivery loop failed; going on")
                    wait = 1.0
                self._wake.clear()
                await wait_event(self._wake, wait)
        finally:
            # stopped (cancelled wherever it was): the attempts under way end before this loop
            # does, so the gateway's stop, which awaits the loop, disposes of its database only
            # once none of them holds a connection. An attempt cut off stays ON_DELIVERY and is
            # tried again after the restart.
            await _cancel_and_wait(running)

    async def _due(self, limit: int) -> tuple[list[AsyncMessage], float]:
        """Messages whose next attempt is due, claimed for this process (not being tried here or
        by another process), and how long until the next one is due.

        A look first (most wake-ups find nothing due: no write), then the claim: one UPDATE of
        the rows found, conditional on their lease being free, giving back the keys it took."""
        now = time.time()
        free_lease = or_(AsyncMessage.lease_until.is_(None), AsyncMessage.lease_until <= now)  # type: ignore[union-attr]
        leased = None
        async with self.runtime.db.session() as session:
            rows = (
                await session.exec(
                    select(AsyncMessage)
                    .where(AsyncMessage.state == ON_DELIVERY, AsyncMessage.next_attempt <= now, free_lease)
                    .order_by(AsyncMessage.next_attempt)
                    .limit(limit + len(self._in_flight))
                )
            ).all()
            following = (
                await session.exec(
                    select(func.min(AsyncMessage.next_attempt)).where(
                        AsyncMessage.state == ON_DELIVERY, AsyncMessage.next_attempt > now
                    )
                )
            ).one()
            candidates = [r for r in rows if (r.sender_id, r.message_id) not in self._in_flight][:limit]
            if not self.shared:  # the only process: what it tries is in _in_flight
                return candidates, _wait(following, None, now)
            leased = (  # another process's lease that runs out: its messages are due then
                await session.exec(
                    select(func.min(AsyncMessage.lease_until)).where(
                        AsyncMessage.state == ON_DELIVERY, AsyncMessage.lease_until > now  # type: ignore[operator]
                    )
                )
            ).one()
            claimed: set[tuple[str, str]] = set()
            if candidates:
                keys = [(r.sender_id, r.message_id) for r in candidates]
                result = await session.exec(
                    update(AsyncMessage)
                    .where(tuple_(AsyncMessage.sender_id, AsyncMessage.message_id).in_(keys),
                           AsyncMessage.state == ON_DELIVERY, AsyncMessage.next_attempt <= now, free_lease)
                    .values(lease_until=now + self.lease, claimed_by=self.claimer)
                    .returning(AsyncMessage.sender_id, AsyncMessage.message_id)
                )
                claimed = {(r[0], r[1]) for r in result.all()}
                await session.commit()
        due = [r for r in candidates if (r.sender_id, r.message_id) in claimed]
        if len(due) < len(candidates):  # another process claimed some first: look again at once
            return due, 0.01
        return due, _wait(following, leased, now)

    async def _attempt(self, row: AsyncMessage) -> None:
        async with self.runtime.db.session() as session:
            current = await session.get(AsyncMessage, (row.sender_id, row.message_id))
        if current is None or current.state != ON_DELIVERY:  # stopped since it was picked
            return
        row = current  # as it is now: another replica's attempt since the look counts in its attempts
        with log_context(correlationId=row.correlation_id or row.message_id, messageId=row.message_id,
                         serviceId=row.service_id, gateway=self.runtime.name):
            try:
                incoming = stored_message(row)
            except (ValueError, GatewayFault) as exc:  # not one this gateway stored: nothing to deliver, ever
                await self._finish(row, None, _fault_reply(GatewayFault(
                    ErrorCode.GATEWAY_INTERNAL, f"the stored message cannot be read: {exc}"
                ), await self.runtime.now()), retry=False)
                return
            accepted = Accepted(incoming, row.sender_id, row.recipient, await self.runtime.now())
            try:
                reply = await self.gateway.forward(accepted)
            except Exception as exc:  # a failure of the gateway's own: tried again, as far as attempts go
                log.exception("delivering async message %s failed", row.message_id)
                reply = _fault_reply(GatewayFault(ErrorCode.GATEWAY_INTERNAL, repr(exc)), await self.runtime.now())
            await self._finish(row, incoming, reply, retry=True)

    async def _finish(self, row: AsyncMessage, incoming: Incoming | None, reply: Reply, *, retry: bool) -> None:
        """Record an attempt's outcome: DELIVERED, on to the next attempt, or NOT_DELIVERED with
        its reason (the target refused it, the gateway has no way to it, attempts ran out)."""
        attempts = row.attempts + 1
        code = reply.body.get("errorInfo", {}).get("errorCode") if reply.status_code != 200 else None
        settings = self.runtime.settings
        if reply.status_code == 200:
            state, next_attempt = DELIVERED, row.next_attempt
        elif retry and code in RETRYABLE and attempts < settings.async_max_attempts:
            pause = min(settings.async_retry_cap, settings.async_retry_base * 2 ** (attempts - 1))
            state, next_attempt = ON_DELIVERY, time.time() + pause
        else:
            state, next_attempt = NOT_DELIVERED, row.next_attempt
        values: dict[str, Any] = {"attempts": attempts, "next_attempt": next_attempt, "state": state,
                                   "lease_until": None, "claimed_by": None}
        if reply.status_code != 200:
            info = reply.body.get("errorInfo", {})
            values["last_error"] = f"{code or 'HTTP ' + str(reply.status_code)}: {info.get('errorMessage', '')}"
        if state in FINAL:
            values["finished_us"] = to_us(await self.runtime.now())
            values["response"] = json.dumps(remembered(reply), ensure_ascii=False)
            values["notice_seq"] = await self.next_notice()
        if await self.update_on_delivery(row, values, claimed=self.shared) and state in FINAL:  # not stopped meanwhile
            if incoming is not None:
                self.gateway.log_answer(incoming, row.recipient, await self.runtime.now(), "async", state, reply)
            log.info("async message %s: %s after %d attempt(s)%s", row.message_id, state, attempts,
                     f" ({values['last_error']})" if state == NOT_DELIVERED else "")

    async def next_notice(self) -> int:
        """The next delivery notice's number, when this gateway is the only writer of its store
        (in a shared one :meth:`update_on_delivery` draws it instead)."""
        self._notice += 1
        return self._notice

    async def _update_depth(self) -> None:
        async with self.runtime.db.session() as session:
            depth = (
                await session.exec(select(func.count()).select_from(AsyncMessage).where(AsyncMessage.state == ON_DELIVERY))
            ).one()
        self.gateway.metrics.queue_depth.set(depth)

    # ---- asking about messages ------------------------------------------------------------

    async def status(self, sender_id: str, message_ids: list[str]) -> list[dict[str, Any]]:
        async with self.runtime.db.session() as session:
            rows = (
                await session.exec(
                    select(AsyncMessage).where(
                        AsyncMessage.sender_id == sender_id, AsyncMessage.message_id.in_(message_ids)  # type: ignore[attr-defined]
                    )
                )
            ).all()
        found = {r.message_id: describe(r) for r in rows}
        return [found.get(m, {"messageId": m, "state": None, "error": ErrorCode.UNKNOWN_MESSAGE.value}) for m in message_ids]

    async def notices(self, sender_id: str, after: int, limit: int = 500) -> list[dict[str, Any]]:
        """Delivery notifications: the sender's messages that reached a final state after ``after``."""
        async with self.runtime.db.session() as session:
            rows = (
                await session.exec(
                    select(AsyncMessage)
                    .where(AsyncMessage.sender_id == sender_id, AsyncMessage.notice_seq > after)  # type: ignore[operator]
                    .order_by(AsyncMessage.notice_seq)
                    .limit(limit)
                )
            ).all()
        return [{"notice": r.notice_seq, **describe(r)} for r in rows]

    async def stop_delivery(self, sender_id: str, message_id: str) -> dict[str, Any] | None:
        async with self.runtime.db.session() as session:
            row = await session.get(AsyncMessage, (sender_id, message_id))
        if row is None:
            return None
        if row.state == ON_DELIVERY:
            values = {"state": DELIVERY_STOPPED, "finished_us": to_us(await self.runtime.now()),
                      "notice_seq": await self.next_notice(), "lease_until": None, "claimed_by": None}
            if await self.update_on_delivery(row, values):
                self._wake.set()  # the queue depth changed
            async with self.runtime.db.session() as session:
                row = await session.get(AsyncMessage, (sender_id, message_id)) or row
        return describe(row)


def describe(row: AsyncMessage) -> dict[str, Any]:
    return {
        "messageId": row.message_id,
        "correlationId": row.correlation_id,
        "serviceId": row.service_id,
        "messageType": row.message_type,
        "recipient": row.recipient,
        "state": row.state,
        "attempts": row.attempts,
        "accepted": to_local(from_us(row.accepted_us)).isoformat(),
        "finished": to_local(from_us(row.finished_us)).isoformat() if row.finished_us else None,
        "lastError": row.last_error,
        "response": json.loads(row.response) if row.response else None,
    }


async def _cancel_and_wait(running: set[asyncio.Task[None]]) -> None:
    """Cancel the tasks of ``running`` and wait until every one has ended; stopped again meanwhile,
    cancel those still going once more (a cancellation can be lost) and wait on."""
    tasks = set(running)  # ``running`` loses each task as it ends
    while pending := [task for task in tasks if not task.done()]:
        for task in pending:
            task.cancel()
        try:
            await asyncio.wait(pending)
        except asyncio.CancelledError:
            continue
    for task in tasks:
        if not task.cancelled():
            task.exception()  # retrieved: an attempt logs its own failures


def _wait(following: float | None, leased: float | None, now: float) -> float:
    """Seconds until the next attempt or lease end, within :data:`IDLE_LOOK`."""
    nexts = [t for t in (following, leased) if t is not None]
    return IDLE_LOOK if not nexts else max(0.01, min(IDLE_LOOK, min(nexts) - now))


def _fault_reply(fault: GatewayFault, at: datetime) -> Reply:
    return Reply(fault.http_status, fault.to_body(at), at=at)


def _acceptance(info: RequestInfo, at: datetime) -> dict[str, Any]:
    return {
        "messageId": info.messageId,
        "correlationId": info.correlationId or info.messageId,
        "acceptedAt": at.isoformat(),
        "deliveryState": ON_DELIVERY,
        "status": {"code": SUCCESS_CODE, "message": SUCCESS_MESSAGE},
    }
