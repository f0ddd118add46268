"""Each simulated system's own database.

By default a system keeps one SQLite file in the run's data directory. With
``EGOV_SIM_DATABASE_URL=postgresql://…`` it keeps its tables in a schema of that database named
after the run and the system (``egs_<run>_<system>``), so systems never share tables and two runs
in two folders never share state, on either engine.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import sqlite3
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache, partial
from typing import Any, TypeVar

from sqlalchemy import Connection, MetaData, Table, create_engine, event, insert, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError, OperationalError, ProgrammingError
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlalchemy.pool import StaticPool
from sqlalchemy.util import greenlet_spawn
from sqlmodel.ext.asyncio.session import AsyncSession

from simulation import sqliteloop, sqlitestatements, walcheckpoints
from simulation.settings import Settings, without
from simulation.tasks import run_to_completion

T = TypeVar("T")


def schema_name(settings: Settings, system: str) -> str:
    return "egs_" + settings.run_id + "_" + re.sub(r"[^a-z0-9]", "_", system.lower())


def _async_url(url: str) -> str:
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres", "postgresql+psycopg2"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    elif parsed.drivername == "sqlite":
        parsed = parsed.set(drivername="sqlite+aiosqlite")
    return parsed.render_as_string(hide_password=False)


# PostgreSQL connections a pooled engine keeps open between uses; bursts open up to
# POOL_OVERFLOW more, closed after use. Every system has an engine for its own schema and one
# for the run's shared store (clock, timers, trace); when several systems of a run live in one
# process (the in-process runs of tests and demos) they share the store's engine, which keeps
# STORE_POOL_SIZE. The test suite runs several runs side by side against one server (100
# connections by default): with SQLAlchemy's default of five kept an engine and a store engine
# for every system, its peak was 97 open connections.
POOL_SIZE = 3
STORE = "simulation"  # the run's shared store: virtual clock, timers, trace
STORE_POOL_SIZE = 6
POOL_OVERFLOW = 10

# A process given a connection budget (Settings.pg_connections, EGOV_SIM_PG_CONNECTIONS; `egov-sim
# up` gives each of its processes a share of the server's connections) sizes both engines' pools to
# fit in it, beside the clock reader's one connection of its own (simulation.clock._PostgresReader).
CLOCK_READER_CONNECTIONS = 1
MIN_PG_CONNECTIONS = 2 + CLOCK_READER_CONNECTIONS
"""The smallest budget: one connection for the system's schema, one for the store, the reader's."""
POOL_TIMEOUT = 60.0
"""Seconds a unit of work waits for a connection of a budgeted pool whose connections are all in
use (SQLAlchemy's ``pool_timeout``; its default is 30): a burst of units queues on the pool instead
of opening more connections, and a unit fails only after waiting this long."""


class ConnectionBudgetError(ValueError):
    """A connection budget this process cannot keep: too small to give each engine a connection
    and the clock reader its own, or set for a process that runs several systems."""


def pool_sizes(budget: int) -> tuple[int, int]:
    """(system's, store's) connections -- ``pool_size + max_overflow`` of each engine -- of a
    process allowed ``budget`` PostgreSQL connections in all.

    The clock reader's connection comes first; of the rest the store gets two thirds, the system's
    own schema one third (at least 1): in every process the store serves the clock's moves, the
    timers (claimed, run, finished) and every step's trace, the system's schema only the system's
    own tables."""
    engines = budget - CLOCK_READER_CONNECTIONS
    if engines < 2:
        raise ConnectionBudgetError(
            f"EGOV_SIM_PG_CONNECTIONS={budget} is too small: a process opens at least {MIN_PG_CONNECTIONS} "
            f"PostgreSQL connections (1 for its system's schema, 1 for the run's store, "
            f"{CLOCK_READER_CONNECTIONS} for the clock reader)"
        )
    system = max(1, engines // 3)
    return system, engines - system


def _pool_arguments(total: int | None, default_size: int) -> dict[str, Any]:
    """``create_async_engine``'s pool arguments for an engine allowed ``total`` connections (None:
    today's sizes, ``default_size`` kept and :data:`POOL_OVERFLOW` more in a burst)."""
    if total is None:
        return {"pool_size": default_size, "max_overflow": POOL_OVERFLOW}
    size = min(default_size, total)
    return {"pool_size": size, "max_overflow": total - size, "pool_timeout": POOL_TIMEOUT}


# PostgreSQL engines by (URL, schema), with the number of Database objects using each.
_ENGINES: dict[tuple[str, str], tuple[AsyncEngine, int]] = {}
# A process forked from one with engines (`egov-sim up` forks its systems; a test may have left a
# run's engines open) makes its own: its parent's pooled connections are the parent's sockets, and
# a connection budget counts the child's engines alone.
os.register_at_fork(after_in_child=_ENGINES.clear)


CONNECT_WAIT = 30.0
"""Seconds a new PostgreSQL connection waits for a free slot when the server has none."""

_FULL = ("too many clients", "too many connections", "connection slots are reserved")
"""What PostgreSQL says when it refuses a connection for want of a slot (its SQLSTATE 53300 does
not reach the client at connect time: only the message does)."""

log = logging.getLogger(__name__)


async def _connect_waiting(*args: Any, **kwargs: Any) -> Any:
    """A psycopg connection (the engines' ``async_creator``) -- but when the server refuses it
    for want of a slot (``max_connections``, a role's or a database's limit), tried again until one
    frees up, for up to :data:`CONNECT_WAIT` seconds.

    A burst in which every system of ``egov-sim up`` opens its pools' extra connections at once (the
    clock's run starting on thousands of applications) may pass the server's limit for a moment; a
    query that then fails to connect would fail the request or the timer that asked for it. Waiting
    for a slot queues the burst instead, as a connection pooler would."""
    import psycopg

    loop = asyncio.get_running_loop()
    deadline = loop.time() + CONNECT_WAIT
    delay = 0.05
    while True:
        try:
            return await psycopg.AsyncConnection.connect(*args, **kwargs)
        except psycopg.OperationalError as exc:
            if not any(words in str(exc) for words in _FULL) or loop.time() + delay > deadline:
                raise
            if delay == 0.05:
                log.warning("PostgreSQL has no free connection slot; waiting up to %g s for one: %s",
                            CONNECT_WAIT, str(exc).strip().splitlines()[-1])
            await asyncio.sleep(delay)
            delay = min(delay * 2, 1.0)


def _postgres_engine(url: str, schema: str, system: str, pool: dict[str, Any]) -> AsyncEngine:
    """The engine of ``schema``: the one another Database of this process already uses, or new
    with the pool arguments ``pool`` (:func:`_pool_arguments`)."""
    key = (url, schema)
    found = _ENGINES.get(key)
    if found is not None:
        _ENGINES[key] = (found[0], found[1] + 1)
        return found[0]
    engine = create_async_engine(
        url,
        **pool,
        pool_pre_ping=True,
        # the server's pg_stat_activity names the system (and the schema) of each connection
        async_creator=partial(
            _connect_waiting, make_url(url).set(drivername="postgresql").render_as_string(hide_password=False),
            options=f"-csearch_path={schema}", application_name=f"egov-sim {system} ({schema})"[:63],
        ),
    )
    _ENGINES[key] = (engine, 1)
    return engine


def _one_system_per_budget(url: str, schema: str, store: str, system: str, budget: int) -> None:
    """A budget is a process's, sized for one system's engine and the store's: refuse another's."""
    for other_url, other_schema in _ENGINES:
        if other_url == url and other_schema not in (schema, store):
            raise ConnectionBudgetError(
                f"EGOV_SIM_PG_CONNECTIONS={budget} budgets the PostgreSQL connections of a process that runs "
                f"one system; this one already has {other_schema} and now {system} ({schema}): unset it for "
                "a process that runs several systems (demo, run, tests)"
            )


async def _release(engine: AsyncEngine) -> None:
    """One user less of ``engine``; the last one closes its connections."""
    for key, (shared, users) in list(_ENGINES.items()):
        if shared is engine:
            if users > 1:
                _ENGINES[key] = (shared, users - 1)
                return
            del _ENGINES[key]
    await engine.dispose()


class Session(AsyncSession):
    """A system's session: its commit and rollback, once begun, run to their end before a
    cancellation of the calling task takes effect.

    Both give the session's connection back to its pool, which resets it with one more await
    into the driver. A task cancelled there (a background loop stopped as its system shuts down)
    would leave the pool a half-returned connection, and SQLAlchemy logs the cancellation's
    traceback. Leaving the session's ``async with`` is shielded by SQLAlchemy itself."""

    async def commit(self) -> None:
        await run_to_completion(super().commit())

    async def rollback(self) -> None:
        await run_to_completion(super().rollback())

    async def __aexit__(self, type_: Any, value: Any, traceback: Any) -> None:
        # as SQLAlchemy's own, with a task only where the close suspends (simulation.tasks)
        await run_to_completion(self.close())


class Database:
    """The async engine and session factory of one system."""

    def __init__(self, settings: Settings, system: str) -> None:
        self.system = system
        self.schema: str | None = None
        self.sqlite_path: str | None = None
        self._units: _SqliteUnits | None = None
        self._plain_writes = not without("sqlitewriter")  # else insert_rows goes through Core inserts
        self._inline_units = settings.sqlite_driver == "loop" and not without("sqliteunits")
        self._disposed = False
        if settings.database_url:
            url = _async_url(settings.database_url)
            if not url.startswith("postgresql"):
                raise ValueError(
                    "EGOV_SIM_DATABASE_URL must be a postgresql:// URL; leave it unset for SQLite"
                )
            self.schema = schema_name(settings, system)
            budget = settings.pg_connections
            if budget is None:
                total = None
            else:
                system_total, store_total = pool_sizes(budget)
                total = store_total if system == STORE else system_total
                if system != STORE:
                    _one_system_per_budget(url, self.schema, schema_name(settings, STORE), system, budget)
            pool = _pool_arguments(total, STORE_POOL_SIZE if system == STORE else POOL_SIZE)
            self.engine: AsyncEngine = _postgres_engine(url, self.schema, system, pool)
        else:
            data_dir = settings.data_dir.expanduser().resolve()
            data_dir.mkdir(parents=True, exist_ok=True)
            path = data_dir / f"{system}.sqlite"
            self.sqlite_path = str(path)
            if settings.sqlite_driver == "loop":  # the connection sets its own pragmas
                self.engine = create_async_engine(
                    f"sqlite+aiosqlite:///{path}", async_creator=partial(sqliteloop.connect, str(path))
                )
            else:
                self.engine = create_async_engine(
                    f"sqlite+aiosqlite:///{path}", connect_args={"timeout": 30}
                )
                event.listen(self.engine.sync_engine, "connect", _sqlite_pragmas)
        self.sessions = async_sessionmaker(self.engine, class_=Session, expire_on_commit=False)

    async def create_tables(self, metadatas: Iterable[MetaData]) -> None:
        """Create what is missing. Systems starting together may race to create the shared
        simulation store: the loser finds the tables there on its next attempt."""
        metadatas = list(metadatas)
        for attempt in range(5):
            try:
                async with self.engine.begin() as conn:
                    if self.schema:
                        await conn.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{self.schema}"'))
                        await conn.execute(text(f'SET search_path TO "{self.schema}"'))
                    for metadata in metadatas:
                        await conn.run_sync(metadata.create_all)
                return
            except (OperationalError, ProgrammingError, IntegrityError):
                if attempt == 4:
                    raise
                await asyncio.sleep(0.05 * (attempt + 1))

    async def drop_schema(self) -> None:
        """Remove this system's PostgreSQL schema (tests clean up with it)."""
        if self.schema:
            async with self.engine.begin() as conn:
                await conn.execute(text(f'DROP SCHEMA IF EXISTS "{self.schema}" CASCADE'))

    def session(self) -> Session:
        """A new session, to use as ``async with database.session() as session``."""
        return self.sessions()

    async def run(self, work: Callable[[Connection], T], *, write: bool = True) -> T:
        """``work(connection)`` in one transaction of its own: committed when it returns (its
        value is returned), rolled back when it raises (its error is raised).

        ``work`` is plain synchronous code on a SQLAlchemy :class:`~sqlalchemy.Connection` --
        Core statements, their results read before it returns, no awaits and nothing it would
        not do twice: on SQLite it may be run a second time (below). ``write=False`` promises
        that it only reads.

        The hot paths' way to the database, where an ORM session costs several times the
        statements it runs (docs/performance.md, "Whole applications"): an
        :class:`~sqlalchemy.ext.asyncio.AsyncSession` crosses into a greenlet and back at every
        call and every driver call. On SQLite (the ``loop`` driver) ``work`` runs right here, in
        the event loop's thread, on a connection of this database's own whose busy timeout is 0
        and whose writes begin with ``BEGIN IMMEDIATE``; when SQLite's write lock is held (by
        another connection: a session of this process between its awaits, another process) it
        is rolled back and run again on a thread that waits for the lock, as
        :mod:`simulation.sqliteloop` does with a single statement. Elsewhere (PostgreSQL, the
        ``aiosqlite`` driver) it runs in one greenlet on a connection of the engine's pool.
        Either way the work, once begun, runs to its end before a cancellation of the caller
        takes effect (:func:`~simulation.tasks.run_to_completion`)."""
        if self.sqlite_path is not None and self._inline_units:
            if self._units is None:
                self._units = _SqliteUnits(self.sqlite_path, self.system)
            return await run_to_completion(self._units.run(work, write))
        return await run_to_completion(greenlet_spawn(_in_transaction, self.engine.sync_engine, work))

    async def insert_rows(self, batches: Sequence[tuple[Table, Sequence[dict[str, Any]]]]) -> None:
        """Insert rows into one or more tables in one transaction, and commit.

        The write path of logs and group commits, where rows come by the hundred. In one unit of
        :meth:`run`; on SQLite the rows of plain types go to sqlite3 itself, one ``executemany``
        a table, without SQLAlchemy's statement and result machinery (two to three times
        cheaper a batch; docs/performance.md, "Hand-written replacements, measured"), others
        through SQLAlchemy's Core insert. Either way a duplicate key raises SQLAlchemy's
        ``IntegrityError`` and nothing of the batch is written.
        Rows of one table must have the same keys; a column left out gets its scalar default.
        """
        batches = [(table, rows) for table, rows in batches if rows]
        if not batches:
            return
        for table, rows in batches:
            unknown = set(rows[0]).difference(table.c.keys())
            if unknown:
                raise ValueError(f"{table.name} has no column {sorted(unknown)[0]!r}")
        if (self.sqlite_path is not None and self._inline_units and self._plain_writes
                and all(_plain_rows(rows) for _, rows in batches)):
            plain = [_plain_insert(table, tuple(rows[0])) + (rows,) for table, rows in batches]
            await self.run(lambda connection: _executemany(connection.connection.driver_connection, plain))
            return

        def write(connection: Connection) -> None:
            for table, rows in batches:
                connection.execute(insert(table), list(rows))

        await self.run(write)

    async def dispose(self) -> None:
        if self._units is not None:
            await self._units.close()
            self._units = None
        if self._disposed:
            return
        self._disposed = True
        await _release(self.engine)


def _sqlite_pragmas(dbapi_connection, _record) -> None:  # pragma: no cover - driver callback
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def connect_sqlite(path: str, timeout: float) -> sqlite3.Connection:
    """A plain ``sqlite3`` connection to a system's file, beside its engine: autocommit (each
    statement its own transaction unless BEGIN says otherwise), usable from any one thread at a
    time, waiting up to ``timeout`` seconds for a lock. The hot paths that skip SQLAlchemy (the
    clock reader, the answer store's look-ups, :class:`_SqliteUnits`) open theirs with it."""
    return sqlite3.connect(path, timeout=timeout, isolation_level=None, check_same_thread=False)


_PLAIN_TYPES = (str, int, float, bytes, type(None))


def _plain_rows(rows: Sequence[dict[str, Any]]) -> bool:
    """True when every value is one sqlite3 stores as it is (no type of SQLAlchemy's to convert)."""
    for row in rows:
        for value in row.values():
            if not isinstance(value, _PLAIN_TYPES):
                return False
    return True


def _in_transaction(engine: Any, work: Callable[[Connection], T]) -> T:
    with engine.begin() as connection:
        return work(connection)


class _SqliteUnits:
    """:meth:`Database.run` on SQLite: a unit of work in the event loop's thread when SQLite's
    lock lets it, else on a thread that waits for the lock.

    Both connections are SQLAlchemy's own (its ``pysqlite`` dialect, one ``sqlite3``
    connection each, kept open: no pool to check out from); sqlite3 is told to leave
    transactions alone (``isolation_level=None``) and each unit begins its own -- ``BEGIN
    IMMEDIATE`` for a write, so that a held write lock stops it before it has done anything, a
    plain ``BEGIN`` for a read (WAL readers do not wait for writers)."""

    def __init__(self, path: str, system: str) -> None:
        self.path = path
        self.system = system
        self._inline: Connection | None = None
        self._threaded: Connection | None = None
        self._executor: ThreadPoolExecutor | None = None
        self._lock = asyncio.Lock()  # one unit on the waiting thread at a time
        self._statements = None if without("sqlitestatements") else sqlitestatements.Statements()

    def _connect(self, busy_timeout_ms: int, checkpoints: bool = True) -> Connection:
        def creator() -> sqlite3.Connection:
            connection = connect_sqlite(self.path, busy_timeout_ms / 1000)  # sqlite3 sets the busy timeout
            connection.execute("PRAGMA synchronous=NORMAL")
            if not checkpoints:  # walcheckpoints' thread does them
                connection.execute("PRAGMA wal_autocheckpoint=0")
            return connection

        connection = create_engine("sqlite://", creator=creator, poolclass=StaticPool).connect()
        if self._statements is None:
            return connection
        return sqlitestatements.PlainConnection(connection, self._statements)  # type: ignore[return-value]

    async def run(self, work: Callable[[Connection], T], write: bool) -> T:
        if self._inline is None:
            self._inline = self._connect(busy_timeout_ms=0, checkpoints=False)
            walcheckpoints.register(self.path)
        try:
            return _unit(self._inline, work, write)
        except OperationalError as exc:
            if not (isinstance(exc.orig, sqlite3.OperationalError) and sqliteloop.is_busy(exc.orig)):
                raise
        async with self._lock:
            if self._executor is None:
                self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"{self.system}-db-wait")
            return await asyncio.get_running_loop().run_in_executor(self._executor, self._waiting, work, write)

    def _waiting(self, work: Callable[[Connection], T], write: bool) -> T:
        if self._threaded is None:
            self._threaded = self._connect(busy_timeout_ms=sqliteloop.BUSY_TIMEOUT_MS)
        return _unit(self._threaded, work, write)

    async def close(self) -> None:
        if self._inline is not None:
            self._inline.close()
            self._inline.engine.dispose()
            self._inline = None
            walcheckpoints.unregister(self.path)
        async with self._lock:
            if self._executor is not None:
                await asyncio.get_running_loop().run_in_executor(self._executor, self._close_threaded)
                self._executor.shutdown(wait=False)
                self._executor = None

    def _close_threaded(self) -> None:
        if self._threaded is not None:
            self._threaded.close()
            self._threaded.engine.dispose()
            self._threaded = None


def _unit(connection: Connection, work: Callable[[Connection], T], write: bool) -> T:
    """``work`` in a transaction on ``connection`` (its driver in autocommit: the BEGIN is ours,
    said to sqlite3 itself -- through SQLAlchemy's ``exec_driver_sql`` it cost a fifth of a
    unit; SQLAlchemy's own begin says nothing to SQLite, and its commit is sqlite3's)."""
    begin = "BEGIN IMMEDIATE" if write else "BEGIN"
    if isinstance(connection, sqlitestatements.PlainConnection):
        return connection.unit(work, begin)
    connection.begin()
    try:
        try:
            connection.connection.driver_connection.execute(begin)
        except sqlite3.OperationalError as exc:  # as SQLAlchemy would have raised it
            raise OperationalError(begin, None, exc) from None
        result = work(connection)
    except BaseException:
        connection.rollback()
        raise
    connection.commit()
    return result


def _executemany(connection: sqlite3.Connection, work: list[tuple[str, tuple[tuple[str, Any], ...],
                                                                  Sequence[dict[str, Any]]]]) -> None:
    """One ``executemany`` a table, on the sqlite3 connection under a unit of :meth:`Database.run`
    (which began the transaction and commits it); a duplicate key raises SQLAlchemy's
    ``IntegrityError``, as the engine would."""
    from sqlalchemy.exc import IntegrityError as SQLAlchemyIntegrityError

    for statement, columns, rows in work:
        try:
            connection.executemany(
                statement,
                [tuple(row[key] if default is _MISSING else row.get(key, default) for key, default in columns)
                 for row in rows],
            )
        except sqlite3.IntegrityError as exc:
            raise SQLAlchemyIntegrityError(statement, None, exc) from None


@lru_cache(maxsize=256)
def _plain_insert(table: Table, keys: tuple[str, ...]) -> tuple[str, tuple[tuple[str, Any], ...]]:
    """(INSERT statement, (key, default) of each column) for rows with ``keys``: a column left out
    gets its scalar default."""
    columns: list[tuple[str, Any]] = []
    for column in table.columns:
        if column.key in keys:
            columns.append((column.key, _MISSING))
        elif column.default is not None and column.default.is_scalar:
            columns.append((column.key, column.default.arg))
    names = ", ".join(f'"{table.c[key].name}"' for key, _ in columns)
    marks = ", ".join("?" for _ in columns)
    return f'INSERT INTO "{table.name}" ({names}) VALUES ({marks})', tuple(columns)


_MISSING = object()


async def drop_run(settings: Settings, systems: Iterable[str]) -> None:
    """Remove every PostgreSQL schema of a run (nothing to do on SQLite: delete the data dir)."""
    if not settings.database_url:
        return
    for name in systems:
        database = Database(settings, name)
        try:
            await database.drop_schema()
        finally:
            await database.dispose()
