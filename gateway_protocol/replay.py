"""Answering a repeated messageId with the first answer, and processing it once.

A sender that did not hear an answer sends the same message again; a gateway recovering from a
crash delivers again what it may already have delivered. Both must not cause a second processing.
:class:`ReplayGuard` keys every processed message by (sender, messageId): a repeat gets the
answer the first one got; a repeat that arrives while the first is still being processed waits
for it. Recent answers are kept in memory; a :class:`AnswerStore` keeps them beyond a restart.

The first answer goes only to the sender that got it (the key holds the senderId, which the
gateway and the provider authenticate before they ask the guard) and only within the replay
window (``message_date_skew`` of virtual time since the first message came): a repeat older
than that is refused ``Client.MessageReplayed`` -- an answer with personal data is not handed out
again hours later.

Processes that share one store (the replicas of a gateway, :mod:`gateway.replicas`) use a
:class:`ClaimingStore`: a message is claimed in the store before it is processed, so a repeat
through another process waits for the first answer instead of processing it again.

Also here: the table of the hops a provider took messages from (:class:`HopRecord`), created
with the replay table by every system that signs.
"""

from __future__ import annotations

import asyncio
import itertools
import sqlite3
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any, Protocol, runtime_checkable

from sqlalchemy import BigInteger, Column, Text, select, tuple_
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

from gateway_protocol.errors import ErrorCode, GatewayFault
from gateway_protocol.groupcommit import GroupCommit
from simulation import jsoncodec
from simulation.clock import from_us, to_us
from simulation.database import connect_sqlite

Answer = tuple[int, dict[str, Any]]
Key = tuple[str, str]
Known = tuple[Answer, int | None]
"""An answer, and when (µs of virtual time) the message it answers came, if known."""


class AnswerStore(Protocol):
    async def load(self, key: Key) -> Known | None: ...

    async def save(self, key: Key, answer: Answer, at: datetime | None = None) -> None: ...


@runtime_checkable
class ClaimingStore(AnswerStore, Protocol):
    async def claim(self, key: Key, at: datetime | None) -> Known | None:
        """None: the caller claimed ``key`` and processes it; else the answer another gave."""
        ...

    async def release(self, key: Key) -> None:
        """The caller's claim given up (its processing failed)."""
        ...


class ReplayGuard:
    def __init__(self, store: AnswerStore | None = None, capacity: int = 200_000) -> None:
        self.store = store
        self.capacity = capacity
        self._answers: OrderedDict[Key, Known] = OrderedDict()
        self._pending: dict[Key, asyncio.Future[Known]] = {}
        self.replays = 0

    @property
    def store(self) -> AnswerStore | None:
        return self._store

    @store.setter
    def store(self, store: AnswerStore | None) -> None:
        self._store = store
        # decided once: an isinstance against a runtime-checkable Protocol looks up each of its
        # members, twice a message otherwise
        self._claiming = isinstance(store, ClaimingStore)

    def remember(self, key: Key, answer: Answer, at: datetime | int | None = None) -> None:
        """Keep ``answer`` to the message ``key`` that came at ``at`` (a time or µs)."""
        self._answers[key] = (answer, to_us(at) if isinstance(at, datetime) else at)
        self._answers.move_to_end(key)
        while len(self._answers) > self.capacity:
            self._answers.popitem(last=False)

    async def answer(
        self, key: Key, produce: Callable[[], Awaitable[Answer]], *,
        at: datetime | None = None, window: timedelta | None = None,
    ) -> tuple[Answer, bool]:
        """The answer to the message ``key`` (arriving at ``at``), and whether it is a replay of
        an earlier one. A replay more than ``window`` after the first message came raises
        ``Client.MessageReplayed`` instead of answering."""
        known = self._answers.get(key)
        if known is None and key in self._pending:
            known = await asyncio.shield(self._pending[key])
        if known is None and self.store is not None and not self._claiming:
            known = await self.store.load(key)  # (a claim finds an answer given too: one look)
            if known is None:  # a twin may have started, or finished, while the store was asked
                known = self._answers.get(key)
                if known is None and key in self._pending:
                    known = await asyncio.shield(self._pending[key])
        claimed = False
        if known is None and self._claiming:
            future = asyncio.get_running_loop().create_future()
            self._pending[key] = future  # a twin in this process waits for this one
            try:
                known = await self.store.claim(key, at)
            except BaseException as exc:
                del self._pending[key]
                future.set_exception(exc)
                future.exception()
                raise
            if known is not None:
                del self._pending[key]
                self.remember(key, known[0], known[1])
                future.set_result(known)
            else:
                claimed = True
        if known is not None:
            answer, first_us = known
            if window is not None and at is not None and first_us is not None and to_us(at) - first_us > window // _US:
                raise GatewayFault(
                    ErrorCode.MESSAGE_REPLAYED,
                    f"messageId {key[1]!r} of {key[0]!r} was first received at {from_us(first_us).isoformat()}, "
                    f"more than the replay window of {window.total_seconds():g} s ago",
                )
            self.replays += 1
            return answer, True
        if not claimed:
            future = asyncio.get_running_loop().create_future()
            self._pending[key] = future
        try:
            answer = await produce()
            if self.store is not None:
                await self.store.save(key, answer, at)
            self.remember(key, answer, at)
            future.set_result(self._answers[key])
            return answer, False
        except BaseException as exc:
            if claimed:
                assert isinstance(self.store, ClaimingStore)
                try:
                    await asyncio.shield(self.store.release(key))
                except Exception:  # the claim's lease ends it instead
                    pass
            future.set_exception(exc)
            future.exception()  # retrieved: a waiting repeat re-raises it, nobody else must
            raise
        finally:
            del self._pending[key]


class ReplayModel(SQLModel, registry=registry()):
    """The table a provider keeps of the messages it processed."""


class ReceivedMessage(ReplayModel, table=True):
    __tablename__ = "shep_received_messages"
    sender_id: str = Field(primary_key=True)
    message_id: str = Field(primary_key=True)
    received_us: int = Field(sa_column=Column(BigInteger, nullable=False))
    status_code: int
    answer: str = Field(sa_column=Column(Text, nullable=False))


class HopRecord(ReplayModel, table=True):
    """One request that reached a provider's sync channel: which hop brought it, from which
    sender, and what the provider made of it -- ACCEPTED, REPLAYED or the fault's code. A
    request that did not come through a gateway's log leaves its trace here."""

    __tablename__ = "shep_hop_log"
    id: int | None = Field(default=None, primary_key=True)
    at_us: int = Field(sa_column=Column(BigInteger, nullable=False, index=True))
    hop: str
    sender_id: str
    signer: str | None = None
    message_id: str = Field(index=True)
    service_id: str
    verdict: str


class DatabaseAnswerStore:
    """Answers kept in the receiving system's own database (``shep_received_messages``).

    Answers are saved by group commit (:mod:`gateway_protocol.groupcommit`), each save still
    waiting for its own commit. On SQLite a look-up is one statement on a connection of its own
    (a few microseconds; in WAL mode a reader never waits for a writer); elsewhere the keys asked
    for while a look-up is under way are looked up together in the next one.
    """

    def __init__(self, database, clock) -> None:
        self.database = database
        self.clock = clock
        self._writer = GroupCommit.of(database)
        self._asked: dict[Key, list[asyncio.Future[Known | None]]] = {}
        self._task: asyncio.Task[None] | None = None
        self._sqlite_path = database.sqlite_path
        self._reader: sqlite3.Connection | None = None

    async def load(self, key: Key) -> Known | None:
        if self._sqlite_path:
            try:
                return self._read_sqlite(key)
            except sqlite3.Error:
                self._close_reader()  # and ask through the engine
        future: asyncio.Future[Known | None] = asyncio.get_running_loop().create_future()
        self._asked.setdefault(key, []).append(future)
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._look_up())
        return await future

    async def _look_up(self) -> None:
        table = ReceivedMessage.__table__
        while self._asked:
            keys = list(itertools.islice(self._asked, _LOOKUP_BATCH))
            waiting = {key: self._asked.pop(key) for key in keys}
            try:
                async with self.database.engine.connect() as connection:
                    rows = (
                        await connection.execute(
                            select(table.c.sender_id, table.c.message_id, table.c.status_code, table.c.answer,
                                   table.c.received_us)
                            .where(tuple_(table.c.sender_id, table.c.message_id).in_(keys))
                        )
                    ).all()
            except BaseException as exc:
                for futures in waiting.values():
                    for future in futures:
                        if not future.done():
                            future.set_exception(exc if isinstance(exc, Exception) else asyncio.CancelledError())
                if not isinstance(exc, Exception):
                    raise
                continue
            found = {(r.sender_id, r.message_id): (r.status_code, r.answer, r.received_us) for r in rows}
            for key, futures in waiting.items():
                hit = found.get(key)
                for future in futures:
                    if not future.done():
                        future.set_result(None if hit is None else ((hit[0], jsoncodec.loads(hit[1])), hit[2]))

    def _read_sqlite(self, key: Key) -> Known | None:
        if self._reader is None:
            self._reader = connect_sqlite(self._sqlite_path, timeout=1.0)
        # fetchall steps the statement to its end: no read transaction stays open
        rows = self._reader.execute(_SELECT_ANSWER, key).fetchall()
        return ((rows[0][0], jsoncodec.loads(rows[0][1])), rows[0][2]) if rows else None

    def _close_reader(self) -> None:
        if self._reader is not None:
            self._reader.close()
            self._reader = None

    async def save(self, key: Key, answer: Answer, at: datetime | None = None) -> None:
        row = {
            "sender_id": key[0], "message_id": key[1], "received_us": to_us(at or await self.clock.now()),
            "status_code": answer[0], "answer": jsoncodec.dumps_text(answer[1]),
        }
        try:
            await self._writer.insert(ReceivedMessage.__table__, row)
        except IntegrityError:  # stored by a concurrent twin in another process
            pass


_LOOKUP_BATCH = 400
_SELECT_ANSWER = (
    f"SELECT status_code, answer, received_us FROM {ReceivedMessage.__tablename__} "
    "WHERE sender_id = ? AND message_id = ?"
)
_US = timedelta(microseconds=1)
