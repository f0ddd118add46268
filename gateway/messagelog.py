"""The gateway's message log: every request and every answer, with its signature, in a hash chain.

Each record's ``hash`` is SHA-256 over the RFC 8785 form of its content together with the hash of
the record before it, as X-Road's message log chains its records. Changing a record breaks its
own hash; deleting one breaks the next record's link and leaves a gap in the sequence numbers.
:func:`verify_chain` walks the log and names the first bad record.

Records are written by one task in batches, so logging does not cost a commit per message; a
query flushes what is pending first.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func
from sqlmodel import select

from gateway.models import LogRecord
from signatures.jws import canonical_json
from simulation.database import Database
from simulation.tasks import stop_task

log = logging.getLogger(__name__)

GENESIS = "0" * 64
HASHED_FIELDS = (
    "seq", "kind", "channel", "message_id", "correlation_id", "service_id", "sender_id",
    "came_from", "recipient", "at_us", "status", "status_code", "error_code", "body", "prev_hash",
)


def record_hash(record: LogRecord) -> str:
    return _hash({name: getattr(record, name) for name in HASHED_FIELDS})


def _hash(content: dict[str, Any]) -> str:
    return hashlib.sha256(canonical_json(content)).hexdigest()


@dataclass(frozen=True)
class ChainReport:
    records: int
    ok: bool
    first_bad: int | None = None
    problem: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"records": self.records, "ok": self.ok, "firstBad": self.first_bad, "problem": self.problem}


async def verify_chain(database: Database, batch: int = 5000) -> ChainReport:
    """Walk the log in order; the first record whose hash or link does not hold, if any."""
    previous_hash, expected_seq, count = GENESIS, 1, 0
    async with database.session() as session:
        while True:
            rows = (
                await session.exec(
                    select(LogRecord).where(LogRecord.seq >= expected_seq).order_by(LogRecord.seq).limit(batch)
                )
            ).all()
            if not rows:
                return ChainReport(count, True)
            for row in rows:
                if row.seq != expected_seq:
                    return ChainReport(
                        count, False, expected_seq,
                        f"record {expected_seq} is missing (deleted): the log jumps to {row.seq}",
                    )
                if row.prev_hash != previous_hash:
                    return ChainReport(
                        count, False, row.seq,
                        f"record {row.seq} does not link to record {row.seq - 1} "
                        "(a record before it was changed or removed)",
                    )
                if record_hash(row) != row.hash:
                    return ChainReport(count, False, row.seq, f"record {row.seq} was changed after it was logged")
                previous_hash, expected_seq, count = row.hash, expected_seq + 1, count + 1


class MessageLog:
    """Appends records to the chain from one writer task, in batches."""

    def __init__(self, database: Database, max_batch: int = 500) -> None:
        self.database = database
        self.max_batch = max_batch
        self._queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self._last_seq = 0
        self._last_hash = GENESIS

    async def start(self) -> None:
        async with self.database.session() as session:
            last = (await session.exec(select(LogRecord).order_by(LogRecord.seq.desc()).limit(1))).first()  # type: ignore[union-attr]
        if last is not None:
            self._last_seq, self._last_hash = last.seq, last.hash
        self._task = asyncio.create_task(self._write_forever(), name="gateway message log")

    async def stop(self) -> None:
        if self._task is not None:
            await self.flush()
            await stop_task(self._task)
            self._task = None

    def append(self, **fields: Any) -> None:
        """Queue a record (seq and hashes are given when it is written)."""
        self._queue.put_nowait(fields)

    async def flush(self) -> None:
        """Wait until every record queued so far is in the database."""
        await self._queue.join()

    async def _write_forever(self) -> None:
        while True:
            batch = [await self._queue.get()]
            while len(batch) < self.max_batch and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            try:
                await self._write(batch)
            except Exception:
                log.exception("the message log could not write %d records; retrying", len(batch))
                await asyncio.sleep(0.5)
                for record in batch:  # keep them, in order, for the next attempt
                    self._queue.put_nowait(record)
            finally:
                for _ in batch:
                    self._queue.task_done()

    async def _write(self, batch: list[dict[str, Any]]) -> None:
        # Plain rows and one INSERT of many: no ORM objects, no unit of work, on the hot path.
        seq, previous = self._last_seq, self._last_hash
        rows = []
        for fields in batch:
            seq += 1
            row = {name: fields.get(name) for name in HASHED_FIELDS}
            row["seq"], row["prev_hash"] = seq, previous
            row["hash"] = previous = _hash(row)
            rows.append(row)
        await self.database.insert_rows([(LogRecord.__table__, rows)])
        self._last_seq, self._last_hash = seq, previous

    async def query(
        self,
        *,
        correlation_id: str | None = None,
        message_id: str | None = None,
        service_id: str | None = None,
        since_us: int | None = None,
        until_us: int | None = None,
        limit: int = 100,
    ) -> list[LogRecord]:
        await self.flush()
        query = select(LogRecord).order_by(LogRecord.seq)
        if correlation_id:
            query = query.where(LogRecord.correlation_id == correlation_id)
        if message_id:
            query = query.where(LogRecord.message_id == message_id)
        if service_id:
            query = query.where(LogRecord.service_id == service_id)
        if since_us is not None:
            query = query.where(LogRecord.at_us >= since_us)
        if until_us is not None:
            query = query.where(LogRecord.at_us <= until_us)
        async with self.database.session() as session:
            return list((await session.exec(query.limit(limit))).all())

    async def recent_answers(self, limit: int) -> AsyncIterator[LogRecord]:
        """The latest answers, for the replay guard after a restart."""
        async with self.database.session() as session:
            rows = (
                await session.exec(
                    select(LogRecord).where(LogRecord.kind == "response").order_by(LogRecord.seq.desc()).limit(limit)
                )
            ).all()
        for row in reversed(rows):
            yield row

    async def count(self) -> int:
        await self.flush()
        async with self.database.session() as session:
            return (await session.exec(select(func.count()).select_from(LogRecord))).one()


def evidence(records: Iterable[LogRecord], gateway: str) -> dict[str, Any]:
    """Everything the log holds about some messages, as one document that can be checked alone:
    each record with its exact logged body (signature included; parsed again as ``message``),
    its hash and its link."""
    return {
        "gateway": gateway,
        "format": "egov-sim message log evidence v1",
        "hash": "SHA-256 over the RFC 8785 form of the fields " + ", ".join(HASHED_FIELDS),
        "records": [
            {**{name: getattr(r, name) for name in HASHED_FIELDS}, "hash": r.hash,
             "message": json.loads(r.body)}
            for r in records
        ],
    }
