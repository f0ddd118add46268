"""Core statements in a unit of :meth:`simulation.database.Database.run` on SQLite, run by
sqlite3 itself from SQLAlchemy's compiled form of them.

A unit's statements are the hot paths' (a walk's position, its trace, the clock's timers, the
systems' look-ups): about 150 an application. Through SQLAlchemy each pays ~30-50 us of Python
around ~10 us of SQLite -- a cache key computed from the statement's structure, an execution
context, a cursor result. A statement object a unit runs again and again (the module-level ones
the hot paths build once) is compiled here once, by SQLAlchemy, for the connection's dialect and
the keys of its parameters; what the compiled form says is kept in a :class:`_Plan` -- the SQL,
the parameters' order, defaults and converters (SQLAlchemy's bind processors), the result's keys
and converters (its result processors) -- and each later run is ``sqlite3.execute`` and a
SQLAlchemy :class:`~sqlalchemy.engine.IteratorResult` over the fetched rows: the same rows, keys,
``first()``, ``scalar()``, ``mappings()``, ``all()`` and ``rowcount`` as SQLAlchemy's own result,
and SQLite's errors raised as SQLAlchemy's (``IntegrityError``, ``OperationalError`` ...).

A statement seen once goes to SQLAlchemy (one built afresh at every call would be compiled here
each time, where SQLAlchemy finds it in its cache by structure), and so does every statement
this module does not take: text and DDL, parameters given as a list (executemany), execution
options, expanding ``IN`` parameters, a value computed in Python at execution (a column default
or ``onupdate`` that is a function), result keys that repeat. They run on the same connection
in the same transaction.

A hand-written replacement (docs/performance.md, "Hand-written replacements, measured"): off
with ``EGOV_SIM_WITHOUT=sqlitestatements``. It reads SQLAlchemy 2.1's compiled statement
(``positiontup``, ``binds``, ``bind_names``, ``_result_columns``, the prefetch and post-compile
lists), hence the ``<2.2`` pin in pyproject.toml.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from sqlalchemy import Connection
from sqlalchemy.engine import IteratorResult
from sqlalchemy.engine.result import SimpleResultMetaData
from sqlalchemy.exc import DBAPIError, ResourceClosedError
from sqlalchemy.sql.dml import Delete, Insert, Update
from sqlalchemy.sql.selectable import Select

T = TypeVar("T")

PLANS = 1024
"""Statements (with the keys of their parameters) whose plans are kept; the oldest go first."""

_KINDS = (Select, Insert, Update, Delete)


class _Plan:
    __slots__ = ("statement", "sql", "parameters", "metadata")

    def __init__(self, statement: Any, sql: str,
                 parameters: Sequence[tuple[str, Any, Callable[[Any], Any] | None]],
                 metadata: SimpleResultMetaData | None) -> None:
        self.statement = statement  # held: the id this plan is found by stays its statement's
        self.sql = sql
        self.parameters = tuple(parameters)  # (key in the caller's dict, default, converter), in order
        self.metadata = metadata  # None: the statement returns no rows


class _Rows(IteratorResult):
    """The fetched rows as SQLAlchemy's result, with the cursor's ``rowcount``."""

    def __init__(self, metadata: SimpleResultMetaData, rows: list[Any], rowcount: int) -> None:
        super().__init__(metadata, iter(rows))
        self.rowcount = rowcount


class _NoRows:
    """The result of a statement that returns no rows: its ``rowcount``; anything else raises as
    SQLAlchemy's does."""

    __slots__ = ("rowcount",)

    def __init__(self, rowcount: int) -> None:
        self.rowcount = rowcount

    def __getattr__(self, name: str) -> Any:
        raise ResourceClosedError("This result object does not return rows. It has been closed automatically.")


_NO_DEFAULT = object()


class Statements:
    """The plans of one SQLite database's statements, for the connections of its units (any
    thread: a plan, once made, is only read)."""

    def __init__(self) -> None:
        self._plans: dict[tuple[int, tuple[str, ...]], _Plan | None] = {}
        self._seen: dict[tuple[int, tuple[str, ...]], Any] = {}
        self._lock = threading.Lock()

    def plan(self, connection: Connection, statement: Any, keys: tuple[str, ...]) -> _Plan | None:
        """The plan of ``statement`` run with parameters named ``keys``; None: SQLAlchemy runs it."""
        key = (id(statement), keys)
        found = self._plans.get(key, _NO_DEFAULT)
        if found is not _NO_DEFAULT:
            if found is None or found.statement is statement:
                return found  # type: ignore[return-value]
        if not isinstance(statement, _KINDS):
            return None
        with self._lock:
            if self._seen.get(key) is not statement:  # first sight: SQLAlchemy's cache knows it better
                self._seen[key] = statement
                if len(self._seen) > PLANS:
                    del self._seen[next(iter(self._seen))]
                return None
            del self._seen[key]
            made = _made(connection, statement, keys)
            self._plans[key] = made
            if made is None:  # the statement itself is held so that its id stays its own
                self._seen[key] = statement
            if len(self._plans) > PLANS:
                del self._plans[next(iter(self._plans))]
            return made


def _made(connection: Connection, statement: Any, keys: tuple[str, ...]) -> _Plan | None:
    if statement._execution_options:
        return None
    dialect = connection.dialect
    compiled = statement.compile(dialect=dialect, column_keys=sorted(keys))
    if (not compiled.positional or compiled.positiontup is None or compiled.insert_prefetch
            or compiled.update_prefetch or compiled.literal_execute_params or compiled.post_compile_params
            or getattr(compiled, "_numeric_binds", False) or compiled.escaped_bind_names):
        return None
    by_name = {name: bind for bind, name in compiled.bind_names.items()}
    parameters = []
    for name in compiled.positiontup:
        bind = by_name.get(name)
        if bind is None or bind.callable is not None or bind.expanding or bind.literal_execute:
            return None
        if bind.key in keys:
            default = _NO_DEFAULT
        elif bind.required:
            return None  # SQLAlchemy says which value is missing
        else:
            default = bind.value
        converter = bind.type._cached_bind_processor(dialect)
        parameters.append((bind.key, default, converter))
    metadata = None
    if compiled.returning or isinstance(statement, Select):
        columns = compiled._result_columns
        names = [column.keyname for column in columns]
        if len(set(names)) != len(names):
            return None
        processors = [column.type._cached_result_processor(dialect, None) for column in columns]
        metadata = SimpleResultMetaData(
            names, extra=[tuple(column.objects) for column in columns],
            _processors=processors if any(processors) else None,
        )
    return _Plan(statement, compiled.string, parameters, metadata)


class PlainConnection:
    """A unit's SQLAlchemy :class:`~sqlalchemy.Connection` whose ``execute`` of a planned
    statement goes to sqlite3 itself; everything else is the connection's own."""

    __slots__ = ("_connection", "_driver", "_statements")

    def __init__(self, connection: Connection, statements: Statements) -> None:
        self._connection = connection
        self._driver: sqlite3.Connection = connection.connection.driver_connection  # type: ignore[assignment]
        self._statements = statements

    def execute(self, statement: Any, parameters: Any = None, *, execution_options: Any = None) -> Any:
        if execution_options is None and (parameters is None or type(parameters) is dict):
            keys = tuple(parameters) if parameters else ()
            plan = self._statements.plan(self._connection, statement, keys)
            if plan is not None:
                return _run(self._driver, plan, parameters or {})
        if execution_options is None:
            return self._connection.execute(statement, parameters)
        return self._connection.execute(statement, parameters, execution_options=execution_options)

    def unit(self, work: Callable[[Any], T], begin: str) -> T:
        """``work(self)`` in a transaction begun with ``begin`` (``BEGIN IMMEDIATE`` or ``BEGIN``),
        committed when it returns, rolled back when it raises: by sqlite3, or by SQLAlchemy where
        a statement went through it (its connection then holds the transaction)."""
        driver, connection = self._driver, self._connection
        try:
            driver.execute(begin)
        except sqlite3.Error as exc:
            raise DBAPIError.instance(begin, None, exc, sqlite3.Error) from None
        try:
            result = work(self)
        except BaseException:
            if connection.in_transaction():
                connection.rollback()
            else:
                driver.rollback()
            raise
        if connection.in_transaction():
            connection.commit()
            return result
        try:
            driver.commit()
        except sqlite3.Error as exc:
            driver.rollback()
            raise DBAPIError.instance("COMMIT", None, exc, sqlite3.Error) from None
        return result

    def __getattr__(self, name: str) -> Any:
        return getattr(self._connection, name)


def _run(driver: sqlite3.Connection, plan: _Plan, given: dict[str, Any]) -> Any:
    values = []
    for key, default, converter in plan.parameters:
        value = given[key] if default is _NO_DEFAULT else given.get(key, default)
        values.append(value if converter is None else converter(value))
    try:
        cursor = driver.execute(plan.sql, values)
        rows = cursor.fetchall() if plan.metadata is not None else None
    except sqlite3.Error as exc:
        raise DBAPIError.instance(plan.sql, tuple(values), exc, sqlite3.Error) from exc
    if rows is None:
        return _NoRows(cursor.rowcount)
    return _Rows(plan.metadata, rows, cursor.rowcount)  # type: ignore[arg-type]


__all__ = ["PLANS", "PlainConnection", "Statements"]
