"""The central gateway as several replicas on one PostgreSQL (docs/scaling.md).

Every replica is a process of the same system (the same name, key storage and schema), named
``SYSTEM#N`` by ``EGOV_SIM_REPLICA`` (:attr:`simulation.settings.Settings.replica`). What they
must agree on lives in the database:

- the async store: a replica *claims* a due message before it tries it
  (:mod:`gateway.asyncchannel`), so each message is attempted by one replica at a time;
- the replay guard's answers (:class:`SharedAnswers`): a messageId is claimed by the first replica
  to take it, and a repeat through another replica gets that first answer, never a second delivery;
- the message log: one hash chain per replica (:mod:`gateway.messagelog`), the first replica's
  being the gateway's own.
"""

from __future__ import annotations

import asyncio
import time
from datetime import datetime

from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from gateway.models import ReplicaAnswer
from gateway_protocol.errors import ErrorCode, GatewayFault
from gateway_protocol.replay import Answer, Key, Known
from simulation import jsoncodec
from simulation.clock import to_us
from simulation.database import Database
from simulation.settings import Settings


LEASE_MARGIN = 10.0
"""Seconds a lease lasts beyond the two request timeouts the work it covers can take."""


def lease_of(settings: Settings) -> float:
    """How long a replica's claim -- of an async message's attempt, of a messageId's processing --
    holds before another replica may take it over: two request timeouts and :data:`LEASE_MARGIN`."""
    return 2 * settings.request_timeout + LEASE_MARGIN


def replica_number(replica: str | None) -> int:
    """1 for the gateway's only process or its first replica, N for ``gateway#N``."""
    return 1 if not replica else int(replica.rpartition("#")[2])


def chain_of(replica: str | None) -> str:
    """The message-log chain a replica writes: the gateway's own (``''``) for the first replica
    (so one replica, or a gateway scaled back to one, goes on with the same chain), its name for
    the others."""
    return "" if replica_number(replica) == 1 else str(replica)


def check_replica(system: str, replica: str | None, database: Database) -> str | None:
    """None when ``replica`` is None or a replica of ``system`` on a database replicas can share;
    else why not, naming the setting."""
    if replica is None:
        return None
    if replica.rpartition("#")[0] != system:
        return f"EGOV_SIM_REPLICA={replica!r} names a replica of another system than {system!r}"
    if database.sqlite_path is not None:
        return (
            f"EGOV_SIM_REPLICA={replica!r}: the replicas of a gateway share one PostgreSQL database "
            "(their async store, replay answers and logs); set EGOV_SIM_DATABASE_URL"
        )
    return None


class SharedAnswers:
    """The replay guard's store shared by the replicas (``gateway_replica_answers``).

    :meth:`claim` inserts a message's row before the message is processed: the replica whose
    insert succeeds processes it; another finds the row and waits for its answer. A claim left
    without an answer longer than ``lease`` seconds (its replica died while processing) is taken
    over, so a repeat is then processed -- and the provider's own replay guard counts it once."""

    def __init__(self, database: Database, replica: str, lease: float, poll: float = 0.05) -> None:
        self.database = database
        self.replica = replica
        self.lease = lease
        self.poll = poll

    async def load(self, key: Key) -> Known | None:
        row = await self._row(key)
        return None if row is None else _answered(row)

    async def save(self, key: Key, answer: Answer, at: datetime | None = None) -> None:
        table = ReplicaAnswer.__table__
        async with self.database.engine.begin() as connection:
            await connection.execute(
                update(table)
                .where(table.c.sender_id == key[0], table.c.message_id == key[1], table.c.claimed_by == self.replica)
                .values(status_code=answer[0], answer=jsoncodec.dumps_text(answer[1]))
            )

    async def release(self, key: Key) -> None:
        """Give up this replica's claim of a message whose processing failed: a repeat may try again."""
        table = ReplicaAnswer.__table__
        async with self.database.engine.begin() as connection:
            await connection.execute(
                delete(table).where(table.c.sender_id == key[0], table.c.message_id == key[1],
                                    table.c.claimed_by == self.replica, table.c.answer.is_(None))
            )

    async def claim(self, key: Key, at: datetime | None) -> Known | None:
        """None: this replica claimed ``key`` and must process it. Else the first answer, once
        the replica that claimed it has given it (waited for, up to the lease)."""
        table = ReplicaAnswer.__table__
        deadline = time.monotonic() + self.lease
        pause = self.poll
        while True:
            try:
                async with self.database.engine.begin() as connection:
                    await connection.execute(insert(table).values(
                        sender_id=key[0], message_id=key[1], received_us=to_us(at) if at else 0,
                        claimed_by=self.replica, claimed_at=time.time(),
                    ))
                return None
            except IntegrityError:
                pass
            row = await self._row(key)
            if row is None:  # released meanwhile: claim again
                continue
            if (known := _answered(row)) is not None:
                return known
            if row.claimed_at < time.time() - self.lease:  # its replica died while processing it
                async with self.database.engine.begin() as connection:
                    taken = await connection.execute(
                        update(table)
                        .where(table.c.sender_id == key[0], table.c.message_id == key[1],
                               table.c.answer.is_(None), table.c.claimed_at == row.claimed_at)
                        .values(claimed_by=self.replica, claimed_at=time.time())
                    )
                if taken.rowcount:
                    return None
                continue
            if time.monotonic() > deadline:
                raise GatewayFault(
                    ErrorCode.MESSAGE_REPLAYED,
                    f"messageId {key[1]!r} of {key[0]!r} is being processed by {row.claimed_by} and has no "
                    f"answer after {self.lease:g} s; send it again later to get its answer",
                )
            await asyncio.sleep(pause)
            pause = min(0.5, pause * 2)

    async def _row(self, key: Key):
        table = ReplicaAnswer.__table__
        async with self.database.engine.connect() as connection:
            return (
                await connection.execute(
                    select(table).where(table.c.sender_id == key[0], table.c.message_id == key[1])
                )
            ).first()


def _answered(row) -> Known | None:
    """A claim's row as the replay guard's known answer, or None while it has none yet."""
    if row.answer is None:
        return None
    return (row.status_code or 200, jsoncodec.loads(row.answer)), row.received_us
