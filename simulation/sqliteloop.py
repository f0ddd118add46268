"""SQLite for SQLAlchemy's asyncio engine, called in the event loop's thread.

SQLAlchemy's ``sqlite+aiosqlite`` dialect talks to an aiosqlite connection, which runs every
sqlite3 call -- making a cursor, executing, fetching, closing the cursor, committing -- on a thread
of its own and hands the result back through the event loop: about four such hops a statement,
each a queue, a thread switch, a wake-up of the loop and the GIL passed twice. An SQLite call on a
local file takes microseconds; the hops cost far more than the call (docs/performance.md, "Whole
applications" and "Hand-written replacements, measured", has the interleaved measurement that
keeps this module).

:func:`connect` gives the dialect a connection of the same shape whose calls run right where they
are awaited, with SQLite's busy timeout at 0, so a call never waits for a lock inside the loop. A
call that finds SQLite's write lock held by another connection (``SQLITE_BUSY``; another task of
this loop, or another process, is in a write transaction) is run again on a thread of this
connection's own with the usual busy timeout, as aiosqlite would have run it: the loop goes on and
the holder can finish. sqlite3 leaves a statement that met ``SQLITE_BUSY`` undone, so running it
again is safe; a transaction begun before it stays open.

The dialect reaches a few private parts of aiosqlite's connection (``_connection``, ``_tx``,
``_conn``): those are mimicked here. This module is written against SQLAlchemy 2.1 and aiosqlite
0.22 (pinned in pyproject.toml); tests/simulation/test_sqliteloop.py runs the engine paths the
systems use through it, with the lock held by others.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")

BUSY_TIMEOUT_MS = 30_000
"""How long a call run on the thread waits for SQLite's lock before it fails ("database is locked")."""


def is_busy(error: sqlite3.OperationalError) -> bool:
    """Whether ``error`` says another connection holds the lock the call needed."""
    return (getattr(error, "sqlite_errorcode", 0) & 0xFF) in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)


class Connection:
    """What SQLAlchemy's aiosqlite adapter needs of an aiosqlite connection; see the module."""

    def __init__(self, path: str, busy_timeout_ms: int = BUSY_TIMEOUT_MS) -> None:
        self._busy_timeout_ms = busy_timeout_ms
        # busy timeout 0: a call never waits for a lock in the loop's thread (see _call)
        self._conn: sqlite3.Connection = sqlite3.connect(path, timeout=0, check_same_thread=False)
        self._connection: sqlite3.Connection | None = self._conn  # the adapter tests it: open or not
        self._executor: ThreadPoolExecutor | None = None
        self._tx = _Inline()  # the adapter's isolation-level setter queues its work here

    async def _call(self, function: Callable[..., T], *args: Any) -> T:
        """``function(*args)`` now; on a busy lock, on this connection's thread, waiting for it."""
        try:
            return function(*args)
        except sqlite3.OperationalError as error:
            if not is_busy(error):
                raise
        if self._executor is None:
            self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite-wait")
        return await asyncio.get_running_loop().run_in_executor(self._executor, self._waiting, function, args)

    def _waiting(self, function: Callable[..., T], args: tuple[Any, ...]) -> T:
        self._conn.execute(f"PRAGMA busy_timeout={self._busy_timeout_ms}")
        try:
            return function(*args)
        finally:
            self._conn.execute("PRAGMA busy_timeout=0")

    def _set_up(self) -> None:
        """WAL and NORMAL synchronisation, as the systems' other SQLite connections have them. A
        new file's first switch to WAL takes an exclusive lock: another process starting on the
        same file may hold one, so this runs through :meth:`_call` too."""
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=NORMAL")

    # ---- what the adapter calls --------------------------------------------------------------

    @property
    def isolation_level(self) -> str | None:
        return self._conn.isolation_level

    def cursor(self) -> _CursorContext:
        return _CursorContext(self)

    async def execute(self, sql: str, parameters: Iterable[Any] | None = None) -> Cursor:
        cursor = Cursor(self, self._conn.cursor())
        return await cursor.execute(sql, parameters)

    async def commit(self) -> None:
        await self._call(self._conn.commit)

    async def rollback(self) -> None:
        await self._call(self._conn.rollback)

    async def create_function(self, name: str, num_params: int, func: Callable[..., Any], deterministic: bool = False) -> None:
        self._conn.create_function(name, num_params, func, deterministic=deterministic)

    async def close(self) -> None:
        self.stop()

    def stop(self) -> None:
        """Close now (the adapter's forced close, e.g. a connection garbage-collected)."""
        if self._connection is not None:
            self._connection = None
            self._conn.close()
        if self._executor is not None:
            self._executor.shutdown(wait=False)
            self._executor = None


class _Inline:
    """Stands in for aiosqlite's queue of work: runs the function at once and settles the future."""

    @staticmethod
    def put_nowait(item: tuple[asyncio.Future[Any], Callable[[], Any]]) -> None:
        future, function = item
        try:
            future.set_result(function())
        except Exception as error:  # handed to the awaiting adapter
            future.set_exception(error)


class _CursorContext:
    """``connection.cursor()``: awaited, or entered with ``async with``, it gives a :class:`Cursor`."""

    def __init__(self, connection: Connection) -> None:
        self._connection = connection
        self._cursor: Cursor | None = None

    async def _open(self) -> Cursor:
        self._cursor = Cursor(self._connection, self._connection._conn.cursor())
        return self._cursor

    def __await__(self):  # type: ignore[no-untyped-def]
        return self._open().__await__()

    async def __aenter__(self) -> Cursor:
        return await self._open()

    async def __aexit__(self, *exc_info: object) -> None:
        if self._cursor is not None:
            await self._cursor.close()


class Cursor:
    """An sqlite3 cursor whose calls are awaited as aiosqlite's are."""

    def __init__(self, connection: Connection, cursor: sqlite3.Cursor) -> None:
        self._connection = connection
        self._cursor = cursor

    async def execute(self, sql: str, parameters: Iterable[Any] | None = None) -> Cursor:
        await self._connection._call(self._cursor.execute, sql, () if parameters is None else parameters)
        return self

    async def executemany(self, sql: str, parameters: Iterable[Iterable[Any]]) -> Cursor:
        await self._connection._call(self._cursor.executemany, sql, parameters)
        return self

    async def fetchone(self) -> Any:
        return await self._connection._call(self._cursor.fetchone)

    async def fetchmany(self, size: int | None = None) -> list[Any]:
        if size is None:
            return await self._connection._call(self._cursor.fetchmany)
        return await self._connection._call(self._cursor.fetchmany, size)

    async def fetchall(self) -> list[Any]:
        return await self._connection._call(self._cursor.fetchall)

    async def close(self) -> None:
        self._cursor.close()

    async def __aenter__(self) -> Cursor:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    def __aiter__(self):  # type: ignore[no-untyped-def]
        return self._rows()

    async def _rows(self):  # type: ignore[no-untyped-def]
        while rows := await self.fetchmany(256):
            for row in rows:
                yield row

    @property
    def description(self) -> Any:
        return self._cursor.description

    @property
    def rowcount(self) -> int:
        return self._cursor.rowcount

    @property
    def lastrowid(self) -> int | None:
        return self._cursor.lastrowid

    @property
    def arraysize(self) -> int:
        return self._cursor.arraysize

    @arraysize.setter
    def arraysize(self, value: int) -> None:
        self._cursor.arraysize = value


async def connect(path: str) -> Connection:
    """A connection to the SQLite file at ``path`` (``create_async_engine(..., async_creator=...)``)."""
    connection = Connection(path)
    try:
        await connection._call(connection._set_up)
    except BaseException:
        connection.stop()
        raise
    return connection
