"""Answering a repeated messageId with the first answer, and processing it once.

A sender that did not hear an answer sends the same message again; a gateway recovering from a
crash delivers again what it may already have delivered. Both must not cause a second processing.
:class:`ReplayGuard` keys every processed message by (sender, messageId): a repeat gets the
answer the first one got; a repeat that arrives while the first is still being processed waits
for it. Recent answers are kept in memory; a :class:`AnswerStore` keeps them beyond a restart.
"""

from __future__ import annotations

import asyncio
import json
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from sqlalchemy import BigInteger, Column, Text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

Answer = tuple[int, dict[str, Any]]
Key = tuple[str, str]


class AnswerStore(Protocol):
    async def load(self, key: Key) -> Answer | None: ...

    async def save(self, key: Key, answer: Answer) -> None: ...


class ReplayGuard:
    def __init__(self, store: AnswerStore | None = None, capacity: int = 200_000) -> None:
        self.store = store
        self.capacity = capacity
        self._answers: OrderedDict[Key, Answer] = OrderedDict()
        self._pending: dict[Key, asyncio.Future[Answer]] = {}
        self.replays = 0

    def remember(self, key: Key, answer: Answer) -> None:
        self._answers[key] = answer
        self._answers.move_to_end(key)
        while len(self._answers) > self.capacity:
            self._answers.popitem(last=False)

    async def answer(self, key: Key, produce: Callable[[], Awaitable[Answer]]) -> tuple[Answer, bool]:
        """The answer to the message ``key``, and whether it is a replay of an earlier one."""
        known = self._answers.get(key)
        if known is None and key in self._pending:
            known = await asyncio.shield(self._pending[key])
        if known is None and self.store is not None:
            known = await self.store.load(key)
        if known is not None:
            self.replays += 1
            return known, True
        future: asyncio.Future[Answer] = asyncio.get_running_loop().create_future()
        self._pending[key] = future
        try:
            answer = await produce()
            if self.store is not None:
                await self.store.save(key, answer)
            self.remember(key, answer)
            future.set_result(answer)
            return answer, False
        except BaseException as exc:
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


class DatabaseAnswerStore:
    """Answers kept in the receiving system's own database (``shep_received_messages``)."""

    def __init__(self, database, clock) -> None:
        self.database = database
        self.clock = clock

    async def load(self, key: Key) -> Answer | None:
        async with self.database.session() as session:
            row = await session.get(ReceivedMessage, key)
        return None if row is None else (row.status_code, json.loads(row.answer))

    async def save(self, key: Key, answer: Answer) -> None:
        from simulation.clock import to_us

        async with self.database.session() as session:
            session.add(
                ReceivedMessage(
                    sender_id=key[0], message_id=key[1], received_us=to_us(await self.clock.now()),
                    status_code=answer[0], answer=json.dumps(answer[1], ensure_ascii=False),
                )
            )
            try:
                await session.commit()
            except IntegrityError:  # stored by a concurrent twin in another process
                await session.rollback()
