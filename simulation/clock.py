"""The virtual clock shared by every system of a run, and the timers scheduled on it.

The clock and its timers live in the run's simulation store (a database every system of the run
reaches: an SQLite file in the data directory, or a schema of the PostgreSQL database), so one
clock serves systems in one process and across processes alike.

Time moves only when someone moves it: :meth:`VirtualClock.advance` by a duration,
:meth:`VirtualClock.advance_to_next` to the next scheduled timer, :meth:`VirtualClock.run_until_idle`
from timer to timer until nothing is pending. A timer belongs to one system (its *owner*); that
system's :class:`TimerWorker` claims it once it is due and runs its handler.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sqlite3
import weakref
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import BigInteger, Column, Connection, Row, Text, bindparam, func, insert, update
from sqlalchemy import select as core_select
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel, select

from simulation.calendar import KZ_TZ, Duration
from simulation.database import Database, connect_sqlite
from simulation.tasks import stop_task, wait_event

log = logging.getLogger(__name__)

PENDING, FIRING, DONE, FAILED = "pending", "firing", "done", "failed"


class SimulationModel(SQLModel, registry=registry()):
    """Base of the tables in the run's simulation store (clock, timers, trace)."""


class ClockRow(SimulationModel, table=True):
    __tablename__ = "clock"
    id: int = Field(default=1, primary_key=True)
    now_us: int = Field(sa_column=Column(BigInteger, nullable=False))


class TimerRow(SimulationModel, table=True):
    __tablename__ = "timers"
    id: int | None = Field(default=None, primary_key=True)
    owner: str = Field(index=True)
    kind: str
    due_us: int = Field(sa_column=Column(BigInteger, nullable=False, index=True))
    state: str = Field(default=PENDING, index=True)
    payload: str = Field(default="{}", sa_column=Column(Text, nullable=False))
    application_id: str | None = Field(default=None, index=True)
    error: str | None = Field(default=None, sa_column=Column(Text))


# The statements of the clock's hot paths, built once: each application sets and runs several
# timers, and the clock is read and settled around each; an ORM statement built at each call
# costs several times a prebuilt one (docs/performance.md, "Whole applications").
_CLOCK = ClockRow.__table__
_TIMERS = TimerRow.__table__
_READ_NOW = core_select(_CLOCK.c.now_us).where(_CLOCK.c.id == 1)
NOW_SUBQUERY = _READ_NOW.scalar_subquery()
"""The run's virtual time (µs) inside another statement on the store: the clock's row, read by it."""
_SET_NOW = update(_CLOCK).where(_CLOCK.c.id == 1).values(now_us=bindparam("moment_us"))
_OWNERS_DUE = (
    core_select(_TIMERS.c.owner).distinct()
    .where(_TIMERS.c.state == PENDING, _TIMERS.c.due_us <= bindparam("moment_us"))
)
_NEXT_DUE = core_select(func.min(_TIMERS.c.due_us)).where(_TIMERS.c.state == PENDING)
_ADD_TIMER = insert(_TIMERS).returning(_TIMERS.c.id)
_DUE_OF_OWNER = (_TIMERS.c.owner == bindparam("of_owner"), _TIMERS.c.state == PENDING,
                 _TIMERS.c.due_us <= NOW_SUBQUERY)
_ANY_DUE = core_select(_TIMERS.c.id).where(*_DUE_OF_OWNER).limit(1)
_CLAIM = (
    update(_TIMERS).where(*_DUE_OF_OWNER).values(state=FIRING)
    .returning(_TIMERS.c.id, _TIMERS.c.owner, _TIMERS.c.kind, _TIMERS.c.due_us, _TIMERS.c.payload,
               _TIMERS.c.application_id)
)
_FINISH = update(_TIMERS).where(_TIMERS.c.id == bindparam("timer_id")).values(
    state=bindparam("new_state"), error=bindparam("new_error")
)
_UNSETTLED = core_select(_TIMERS.c.id, _TIMERS.c.state, _TIMERS.c.owner).where(
    (_TIMERS.c.state == FIRING) | ((_TIMERS.c.state == PENDING) & (_TIMERS.c.due_us <= NOW_SUBQUERY))
)


def to_us(moment: datetime) -> int:
    if moment.tzinfo is None:
        raise ValueError("virtual times must be timezone-aware")
    return int(round(moment.timestamp() * 1_000_000))


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def from_us(value: int) -> datetime:
    return _EPOCH + timedelta(microseconds=value)


@dataclass(frozen=True)
class Timer:
    id: int
    owner: str
    kind: str
    due: datetime
    payload: dict[str, Any]
    application_id: str | None


class ClockStalled(RuntimeError):
    """A due timer was not taken by its owner in time: the owner is not running."""


class ClockError(ValueError):
    """A request to move the clock that cannot be honoured (e.g. backwards)."""


# In one process, systems wake each other instead of waiting for their next poll: by run, the
# events of each timer owner's worker.
_wakeups: dict[str, dict[str, set[asyncio.Event]]] = {}
_settling: dict[str, set[asyncio.Event]] = {}
"""By run: the events of :meth:`VirtualClock.settle` calls waiting in this process."""


class _SqliteReader:
    """Reads the clock's row straight from the run's SQLite store: the same committed row
    :meth:`VirtualClock.now` reads through a session, without the session, a pooled connection
    and a hop to aiosqlite's thread (a few microseconds instead of ~0.4 ms of CPU; the systems
    read the clock several times a message). In WAL mode a reader never waits for a writer."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._connection: sqlite3.Connection | None = None

    async def read(self) -> int | None:
        try:
            if self._connection is None:
                self._connection = connect_sqlite(self.path, timeout=1.0)
            # fetchall steps the statement to its end, so no read transaction stays open between
            # reads (an open one would pin a WAL snapshot and hold up checkpoints)
            rows = self._connection.execute(_CLOCK_QUERY).fetchall()
        except sqlite3.Error:
            await self.close()
            return None
        # still a suspension point, as the database read was: the timer workers' wake-ups and
        # cancellation are timed around it
        await asyncio.sleep(0)
        return int(rows[0][0]) if rows else None

    async def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None


class _PostgresReader:
    """Reads the clock's row over one autocommit connection of psycopg's own: one round trip a
    read, where a session costs four (the pool's ping, BEGIN, the SELECT, the ROLLBACK on its
    return) -- and a round trip waits for the server's process to be scheduled, which on a busy
    machine is most of its cost. The systems of one run in one process (and one event loop) share
    one reader, so a run adds one connection, not one a system.

    Any failure answers None (the caller reads through a session) and the reader does not try to
    connect again for :data:`RETRY_AFTER` seconds; a connection attempt gives up after
    :data:`CONNECT_TIMEOUT`. Once its last user closed it, a reader answers None for ever and
    holds no connection (a read that was connecting meanwhile closes what it got)."""

    CONNECT_TIMEOUT = 5
    RETRY_AFTER = 2.0

    # by event loop (weakly: a loop gone takes its readers' entries along), then (conninfo, schema)
    _shared: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[tuple[str, str], tuple[_PostgresReader, int]]]
    _shared = weakref.WeakKeyDictionary()

    def __init__(self, conninfo: str, schema: str) -> None:
        self.conninfo = conninfo
        self.query = f'SELECT {_NOW_US} FROM "{schema}".{_CLOCK_TABLE} WHERE {_CLOCK_ID} = 1'
        self._connection: Any = None
        self._lock = asyncio.Lock()
        self._closed = False
        self._retry_at = 0.0

    @classmethod
    def share(cls, conninfo: str, schema: str) -> _PostgresReader:
        readers = cls._shared.setdefault(asyncio.get_running_loop(), {})
        found = readers.get((conninfo, schema))
        reader = found[0] if found else cls(conninfo, schema)
        readers[(conninfo, schema)] = (reader, (found[1] if found else 0) + 1)
        return reader

    async def read(self) -> int | None:
        import psycopg

        loop = asyncio.get_running_loop()
        async with self._lock:
            if self._closed or loop.time() < self._retry_at:
                return None
            try:
                if self._connection is None or self._connection.closed:
                    self._connection = await psycopg.AsyncConnection.connect(
                        self.conninfo, autocommit=True, application_name="egov-sim clock reader",
                        connect_timeout=self.CONNECT_TIMEOUT,
                    )
                cursor = await self._connection.execute(self.query)
                row = await cursor.fetchone()
            except psycopg.Error:
                await self._close_connection()
                self._retry_at = loop.time() + self.RETRY_AFTER
                return None
        return int(row[0]) if row else None

    async def _close_connection(self) -> None:
        if self._connection is not None:
            try:
                await self._connection.close()
            except Exception:  # already broken: nothing more to give back
                pass
            self._connection = None

    async def close(self) -> None:
        for readers in list(self._shared.values()):
            for key, (reader, users) in list(readers.items()):
                if reader is self:
                    if users > 1:
                        readers[key] = (reader, users - 1)
                        return
                    del readers[key]
        async with self._lock:  # after a read under way, so nothing it connects outlives the reader
            self._closed = True
            await self._close_connection()


_CLOCK_TABLE = ClockRow.__tablename__
_NOW_US = ClockRow.__table__.c.now_us.name
_CLOCK_ID = ClockRow.__table__.c.id.name
_CLOCK_QUERY = f"SELECT {_NOW_US} FROM {_CLOCK_TABLE} WHERE {_CLOCK_ID} = 1"


class VirtualClock:
    """Reads and moves the run's virtual time; schedules and hands out timers."""

    def __init__(self, store: Database, start: datetime | None, run_id: str) -> None:
        self.store = store
        self.start = start
        self.run_id = run_id
        self._reader: _SqliteReader | _PostgresReader | None = None

    def open_reader(self) -> None:
        """Read the clock from now on past the ORM (see :class:`_SqliteReader`,
        :class:`_PostgresReader`), until :meth:`close_reader`. A system's runtime does it for
        its life; a failing read falls back to a session."""
        if self._reader is not None:
            return
        if self.store.sqlite_path is not None:
            self._reader = _SqliteReader(self.store.sqlite_path)
        elif self.store.schema is not None:
            url = self.store.engine.url.set(drivername="postgresql")
            self._reader = _PostgresReader.share(url.render_as_string(hide_password=False), self.store.schema)

    async def close_reader(self) -> None:
        reader, self._reader = self._reader, None
        if reader is not None:
            await reader.close()

    async def ensure_started(self) -> None:
        async with self.store.session() as session:
            if await session.get(ClockRow, 1) is None:
                start = self.start or datetime.now(KZ_TZ).replace(second=0, microsecond=0)
                session.add(ClockRow(id=1, now_us=to_us(start)))
                try:
                    await session.commit()
                except Exception:  # another system created it first
                    await session.rollback()

    async def now(self) -> datetime:
        if self._reader is not None:
            now_us = await self._reader.read()
            if now_us is not None:
                return from_us(now_us)
        async with self.store.session() as session:
            row = await session.get(ClockRow, 1)
            if row is None:
                raise ClockError("the clock of this run has not been started")
            return from_us(row.now_us)

    async def _move_to(self, moment: datetime) -> datetime:
        target = to_us(moment)

        def move(connection: Connection) -> list[str]:
            now_us = connection.execute(_READ_NOW).scalar()
            if now_us is None:
                raise ClockError("the clock of this run has not been started")
            if target < now_us:
                raise ClockError(
                    f"the virtual clock cannot go back from {from_us(now_us).isoformat()} "
                    f"to {moment.isoformat()}"
                )
            connection.execute(_SET_NOW, {"moment_us": target})
            return list(connection.execute(_OWNERS_DUE, {"moment_us": target}).scalars())

        owners = await self.store.run(move)
        for owner in owners:  # only the workers that have something to do now
            self.wake(owner)
        return from_us(target)

    async def advance(self, by: Duration | timedelta) -> datetime:
        """Move time forward by a duration; timers that fall due run at their owners."""
        now = await self.now()
        target = now + by if isinstance(by, timedelta) else by.add_to(now)
        if target < now:
            raise ClockError("a duration to advance by must not be negative")
        return await self._move_to(target)

    async def next_due(self) -> datetime | None:
        value = await self.store.run(lambda connection: connection.execute(_NEXT_DUE).scalar(), write=False)
        return None if value is None else from_us(value)

    async def advance_to_next(self) -> datetime | None:
        """Move time to the next pending timer (if it lies ahead); None when nothing is pending."""
        due = await self.next_due()
        if due is None:
            return None
        now = await self.now()
        return await self._move_to(max(due, now))

    # ---- timers -------------------------------------------------------------------------

    async def schedule(self, owner: str, *timer: Any, **named: Any) -> int:
        """Schedule a timer of ``owner`` (the arguments of :meth:`adding_timer`); its id."""
        timer_id, due_now = await self.store.run(self.adding_timer(owner, *timer, **named))
        if due_now:  # a later one: moving time wakes its owner
            self.wake(owner)
        return timer_id

    def adding_timer(
        self,
        owner: str,
        kind: str,
        due: datetime,
        payload: dict[str, Any] | None = None,
        application_id: str | None = None,
    ) -> Callable[[Connection], tuple[int, bool]]:
        """:meth:`schedule`'s write as a unit's work on the store (``Database.run``), for a caller
        that writes more in the same transaction (the engine: a walk's position and its timer,
        together). The work gives the timer's id and whether it is due already (by the clock's
        row in the same transaction); after the unit the caller wakes ``owner`` if it is."""
        due_us = to_us(due)
        values = {"owner": owner, "kind": kind, "due_us": due_us, "state": PENDING,
                  "payload": json.dumps(payload or {}, ensure_ascii=False), "application_id": application_id}

        def add(connection: Connection) -> tuple[int, bool]:
            timer_id = connection.execute(_ADD_TIMER, values).scalar_one()
            now_us = connection.execute(_READ_NOW).scalar()
            return timer_id, now_us is not None and due_us <= now_us

        return add

    async def claim_due(self, owner: str) -> list[Timer]:
        """Take the owner's due timers; each is handed out once, to one caller.

        A look first, which only reads: most wake-ups find nothing due, and on SQLite a write --
        even one that changes no row -- waits for the run's one write lock behind every other
        writer. Then one statement: the timers due by the clock's row at that moment are marked
        firing and returned, so two callers never both get one (and no separate read of the clock)."""
        if await self.store.run(lambda connection: connection.execute(_ANY_DUE, {"of_owner": owner}).first(),
                                write=False) is None:
            return []
        claimed = await self.store.run(lambda connection: connection.execute(_CLAIM, {"of_owner": owner}).all())
        rows = sorted(claimed, key=lambda row: (row.due_us, row.id))
        return [
            Timer(row.id, row.owner, row.kind, from_us(row.due_us), json.loads(row.payload), row.application_id)
            for row in rows
        ]

    async def finish(self, timer_id: int, error: str | None = None) -> None:
        values = {"timer_id": timer_id, "new_state": FAILED if error else DONE, "new_error": error}
        await self.store.run(lambda connection: connection.execute(_FINISH, values))
        for event in _settling.get(self.run_id, ()):  # a settle of this process looks again now
            event.set()
        # a finished timer makes no other one due: no worker to wake (a settle elsewhere looks by itself)

    async def timers(self, state: str | None = None) -> list[TimerRow]:
        async with self.store.session() as session:
            query = select(TimerRow).order_by(TimerRow.due_us, TimerRow.id)
            if state:
                query = query.where(TimerRow.state == state)
            return list((await session.exec(query)).all())

    async def _unsettled(self) -> list[Row[tuple[int, str, str]]]:
        """(id, state, owner) of the timers due and not yet run: columns, not ORM objects, as
        :meth:`settle` asks again and again while hundreds may be in flight."""
        return await self.store.run(lambda connection: list(connection.execute(_UNSETTLED).all()), write=False)

    async def settle(self, timeout: float = 30.0) -> None:
        """Wait until every due timer has run.

        ``timeout`` bounds a wait without progress: a crowd of due timers may take longer in
        all, but if ``timeout`` seconds pass without any of them being claimed or finished,
        their owners are not running them and ``ClockStalled`` says who they are."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        delay = 0.001
        last: frozenset[tuple[int, str]] | None = None
        finished = asyncio.Event()  # set when a worker of this process finishes a timer
        _settling.setdefault(self.run_id, set()).add(finished)
        try:
            while True:
                finished.clear()
                unsettled = await self._unsettled()
                if not unsettled:
                    return
                progress = frozenset((row.id, row.state) for row in unsettled)
                if progress != last:  # timers were claimed or finished since the last look
                    last, deadline = progress, loop.time() + timeout
                elif loop.time() > deadline:
                    owners = sorted({row.owner for row in unsettled})
                    raise ClockStalled(
                        f"due timers were not run within {timeout:g} s by: {', '.join(owners)} "
                        "(is that system running?)"
                    )
                # in one process the last timer's finish wakes this at once; the growing pause is
                # for workers in other processes (egov-sim up), which nothing here hears finish
                await wait_event(finished, delay)
                delay = min(delay * 2, 0.05)
        finally:
            waiting = _settling.get(self.run_id, set())
            waiting.discard(finished)
            if not waiting:
                _settling.pop(self.run_id, None)

    async def run_until_idle(self, max_timers: int = 10_000, timeout: float = 30.0) -> datetime:
        """Run timer after timer, moving time as needed, until none is pending."""
        for _ in range(max_timers):
            await self.settle(timeout)
            if await self.advance_to_next() is None:
                return await self.now()
        raise ClockError(f"still busy after {max_timers} timers; is something rescheduling forever?")

    # ---- wake-ups in one process -----------------------------------------------------------

    def wake(self, owner: str | None = None) -> None:
        """Wake ``owner``'s timer worker in this process (every owner's when time moved)."""
        by_owner = _wakeups.get(self.run_id, {})
        for events in by_owner.values() if owner is None else (by_owner.get(owner, ()),):
            for event in events:
                event.set()

    def subscribe(self, owner: str) -> asyncio.Event:
        event = asyncio.Event()
        _wakeups.setdefault(self.run_id, {}).setdefault(owner, set()).add(event)
        return event

    def unsubscribe(self, owner: str, event: asyncio.Event) -> None:
        by_owner = _wakeups.get(self.run_id, {})
        events = by_owner.get(owner, set())
        events.discard(event)
        if not events:
            by_owner.pop(owner, None)
        if not by_owner:
            _wakeups.pop(self.run_id, None)


TimerHandler = Callable[[Timer], Awaitable[None]]


class TimerWorker:
    """Runs one system's due timers, each with the handler registered for its kind."""

    def __init__(self, clock: VirtualClock, owner: str, poll_interval: float, concurrency: int = 16) -> None:
        self.clock = clock
        self.owner = owner
        self.poll_interval = poll_interval
        self.concurrency = concurrency
        self.handlers: dict[str, TimerHandler] = {}
        self._task: asyncio.Task[None] | None = None

    def on(self, kind: str, handler: TimerHandler) -> None:
        self.handlers[kind] = handler

    async def run_due(self) -> int:
        """Run the owner's due timers, several at once (as several staff members work at once)."""
        timers = await self.clock.claim_due(self.owner)
        limit = asyncio.Semaphore(self.concurrency)

        async def run(timer: Timer) -> None:
            async with limit:
                handler = self.handlers.get(timer.kind)
                error = None
                if handler is None:
                    error = f"{self.owner} has no handler for timers of kind {timer.kind!r}"
                else:
                    try:
                        await handler(timer)
                    except Exception as exc:  # recorded on the timer, the worker goes on
                        log.exception("timer %s (%s) of %s failed", timer.id, timer.kind, self.owner)
                        error = f"{type(exc).__name__}: {exc}"
                await self.clock.finish(timer.id, error)

        await asyncio.gather(*(run(timer) for timer in timers))
        return len(timers)

    async def _loop(self) -> None:
        event = self.clock.subscribe(self.owner)
        try:
            while True:
                try:
                    await self.run_due()
                except Exception:
                    log.exception("timer worker of %s could not read the clock", self.owner)
                await wait_event(event, self.poll_interval)
                event.clear()
        finally:
            self.clock.unsubscribe(self.owner, event)

    def start(self) -> None:
        if self.handlers and self._task is None:
            self._task = asyncio.create_task(self._loop(), name=f"timers:{self.owner}")

    async def stop(self) -> None:
        await stop_task(self._task)
        self._task = None
