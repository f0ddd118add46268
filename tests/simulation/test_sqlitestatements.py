"""simulation.sqlitestatements: a unit's Core statements run by sqlite3 from SQLAlchemy's compiled
form -- the same rows, keys, conversions, counts and errors as SQLAlchemy's own execution, the
statements it does not take left to SQLAlchemy, one transaction either way."""

from __future__ import annotations

import sqlite3
from datetime import datetime, timezone

import pytest
from sqlalchemy import (JSON, Boolean, Column, DateTime, Integer, MetaData, String, Table, bindparam, create_engine,
                        delete, func, insert, literal, select, text, update)
from sqlalchemy.exc import ArgumentError, IntegrityError, OperationalError, ResourceClosedError, StatementError
from sqlalchemy.pool import StaticPool

from simulation import sqlitestatements
from simulation.database import Database
from simulation.settings import Settings
from simulation.sqlitestatements import PlainConnection, Statements

metadata = MetaData()
things = Table(
    "test_plain_things", metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String, nullable=False, unique=True),
    Column("seen", DateTime(timezone=True)),
    Column("done", Boolean, nullable=False, default=False),
    Column("extra", JSON),
    Column("kind", String, default="ordinary"),
    Column("stamp", String, default=lambda: "made in Python"),
)

WHEN = datetime(2026, 12, 6, 10, 30, 15, 123456, tzinfo=timezone.utc)
READ_WHEN = WHEN.replace(tzinfo=None)  # SQLAlchemy's DateTime on SQLite gives the time back naive
ROWS = [
    {"id": 1, "name": "Әлия", "seen": WHEN, "done": True, "extra": {"a": [1, 2], "ә": None}, "kind": "x", "stamp": "s"},
    {"id": 2, "name": "Bolat", "seen": None, "done": False, "extra": None, "kind": "y", "stamp": "t"},
    {"id": 3, "name": "Saule", "seen": WHEN, "done": False, "extra": [1], "kind": "y", "stamp": "u"},
]
BY_NAME = select(things).where(things.c.name == bindparam("of_name"))
BY_KIND = select(things.c.id, things.c.name, things.c.done).where(things.c.kind == bindparam("of_kind")).order_by(
    things.c.id)
COUNT = select(func.count().label("n")).select_from(things).where(things.c.done == literal(False))
MARK = update(things).where(things.c.kind == bindparam("of_kind")).values(done=bindparam("now_done"))
MARK_RETURNING = update(things).where(things.c.id == bindparam("of_id")).values(
    extra=bindparam("new_extra")).returning(things.c.id, things.c.extra, things.c.seen)
ADD = insert(things)
REMOVE = delete(things).where(things.c.id == bindparam("of_id"))


@pytest.fixture
def connections(tmp_path):
    """(SQLAlchemy's connection, the same file's PlainConnection), each in autocommit."""
    made = []

    def connect():
        engine = create_engine("sqlite://", poolclass=StaticPool, creator=lambda: sqlite3.connect(
            tmp_path / "plain.sqlite", isolation_level=None, check_same_thread=False))
        connection = engine.connect()
        made.append(connection)
        return connection

    plain_side, sqlalchemy_side = connect(), connect()
    metadata.create_all(sqlalchemy_side)
    sqlalchemy_side.commit()
    yield sqlalchemy_side, PlainConnection(plain_side, Statements())
    for connection in made:
        connection.close()
        connection.engine.dispose()


def both(connections, work):
    """``work(connection)`` on each side, each in a transaction it commits; their results."""
    results = []
    for connection in connections:
        results.append(work(connection))
        connection.commit()
    return results


def twice(connection, statement, parameters=None):
    """Run ``statement`` twice (the second time from its plan); the second result."""
    connection.execute(statement, parameters)
    return connection.execute(statement, parameters)


def test_rows_keys_and_conversions_are_sqlalchemys(connections):
    sqlalchemy_side, plain = connections
    plain.execute(ADD, ROWS[0])
    plain.execute(ADD, ROWS[1])
    plain.execute(ADD, ROWS[2])  # a plan by now (the second and third)
    plain.commit()
    for statement, parameters in ((BY_NAME, {"of_name": "Әлия"}), (BY_KIND, {"of_kind": "y"}), (COUNT, None),
                                  (select(things).order_by(things.c.id), None)):
        expected = sqlalchemy_side.execute(statement, parameters)
        expected_rows = expected.all()
        got = twice(plain, statement, parameters)
        assert isinstance(got, sqlitestatements._Rows)  # the plan's
        got_rows = got.all()
        assert got_rows == expected_rows
        assert [row._mapping for row in got_rows] == [row._mapping for row in expected_rows]
        assert list(got.keys()) == list(expected.keys())
        assert [type(value) for row in got_rows for value in row] == [
            type(value) for row in expected_rows for value in row]
    row = twice(plain, BY_NAME, {"of_name": "Әлия"}).first()
    assert row.seen == READ_WHEN and row.done is True and row.extra == {"a": [1, 2], "ә": None}
    assert row._mapping[things.c.name] == "Әлия"  # by column, as SQLAlchemy's rows
    assert twice(plain, BY_NAME, {"of_name": "Әлия"}).mappings().first()["seen"] == READ_WHEN
    assert twice(plain, COUNT).scalar_one() == 2
    assert twice(plain, BY_KIND, {"of_kind": "y"}).scalars().all() == [2, 3]
    assert twice(plain, BY_NAME, {"of_name": "nobody"}).first() is None
    assert twice(plain, BY_NAME, {"of_name": "nobody"}).scalar_one_or_none() is None


def test_writes_count_and_return_as_sqlalchemys(connections):
    sqlalchemy_side, plain = connections
    sqlalchemy_side.execute(ADD, ROWS)
    sqlalchemy_side.commit()
    assert twice(plain, MARK, {"of_kind": "y", "now_done": True}).rowcount == 2
    returned = twice(plain, MARK_RETURNING, {"of_id": 1, "new_extra": {"b": "ә"}})
    assert returned.rowcount == 1
    assert returned.one() == (1, {"b": "ә"}, READ_WHEN)
    assert twice(plain, MARK_RETURNING, {"of_id": 99, "new_extra": None}).first() is None
    plain.commit()
    assert sqlalchemy_side.execute(select(things.c.extra).where(things.c.id == 1)).scalar_one() == {"b": "ә"}
    assert sqlalchemy_side.execute(COUNT).scalar_one() == 0
    removed = twice(plain, REMOVE, {"of_id": 3})
    assert removed.rowcount == 0  # the first of the two removed it
    with pytest.raises(ResourceClosedError):
        removed.first()
    plain.commit()
    assert sqlalchemy_side.execute(select(func.count()).select_from(things)).scalar_one() == 2


def test_a_scalar_default_and_a_literal_are_bound_as_sqlalchemy_binds_them(connections):
    sqlalchemy_side, plain = connections
    only = select(things.c.name).where(things.c.kind == "y", things.c.done == bindparam("done", False))
    sqlalchemy_side.execute(ADD, ROWS)
    sqlalchemy_side.commit()
    assert twice(plain, only).scalars().all() == ["Bolat", "Saule"]
    assert twice(plain, only, {"done": True}).scalars().all() == []


def test_a_statement_seen_once_or_not_taken_goes_to_sqlalchemy(connections, monkeypatch):
    sqlalchemy_side, plain = connections
    planned = []
    real_run = sqlitestatements._run
    monkeypatch.setattr(sqlitestatements, "_run", lambda *args: planned.append(args[1].sql) or real_run(*args))
    plain.execute(ADD, ROWS[0])
    assert planned == []  # seen once
    plain.execute(ADD, ROWS[1])
    assert len(planned) == 1
    # a column default computed in Python (stamp) at each execution: SQLAlchemy's
    for number in (4, 5):
        plain.execute(ADD, {"id": number, "name": f"n{number}", "done": False})
    assert len(planned) == 1
    # a list of parameters (executemany), text, an expanding IN, execution options: SQLAlchemy's
    plain.execute(ADD, [dict(ROWS[2])])
    for _ in range(2):
        plain.execute(text("SELECT count(*) FROM test_plain_things"))
        plain.execute(select(things.c.id).where(things.c.id.in_([1, 2])))
        plain.execute(select(things.c.id).execution_options(yield_per=10))
        plain.execute(select(things.c.id), execution_options={"yield_per": 10})
    assert len(planned) == 1
    plain.commit()
    assert sqlalchemy_side.execute(select(things.c.stamp).where(things.c.id == 5)).scalar_one() == "made in Python"
    assert sqlalchemy_side.execute(select(func.count()).select_from(things)).scalar_one() == 5


def test_errors_are_sqlalchemys(connections):
    _, plain = connections
    plain.execute(ADD, ROWS[0])
    plain.execute(ADD, ROWS[1])
    with pytest.raises(IntegrityError) as raised:  # from the plan
        plain.execute(ADD, {**ROWS[1], "id": 7})
    assert isinstance(raised.value.orig, sqlite3.IntegrityError) and "UNIQUE" in str(raised.value)
    for _ in range(2):
        with pytest.raises(StatementError, match="of_name"):  # a value missing: SQLAlchemy says which
            plain.execute(BY_NAME, {})
    gone = select(things.c.id).where(things.c.name == bindparam("of_name"))
    plain.execute(gone, {"of_name": "x"})
    plain.execute(text("DROP TABLE test_plain_things"))
    with pytest.raises(OperationalError, match="no such table"):
        plain.execute(gone, {"of_name": "x"})
    with pytest.raises(ArgumentError):
        plain.execute("SELECT 1")  # a plain string is not a statement, as for SQLAlchemy


def test_plans_are_bounded(connections, monkeypatch):
    _, plain = connections
    monkeypatch.setattr(sqlitestatements, "PLANS", 4)
    statements = [select(things.c.id).where(things.c.id == number) for number in range(12)]
    for statement in statements:
        twice(plain, statement)
    held = plain._statements
    assert len(held._plans) <= 5 and len(held._seen) <= 5


@pytest.fixture(params=["plain", "sqlalchemy"])
async def database(request, tmp_path, monkeypatch):
    if request.param == "sqlalchemy":
        monkeypatch.setenv("EGOV_SIM_WITHOUT", "sqlitestatements")
    db = Database(Settings(data_dir=tmp_path), "test-plain")
    if db.sqlite_path is None:
        pytest.skip("SQLite's units")
    await db.create_tables([metadata])
    yield db
    await db.dispose()


async def test_a_unit_mixing_planned_and_sqlalchemys_statements_is_one_transaction(database):
    def add(connection, rows):
        for row in rows:
            connection.execute(ADD, row)  # the first by SQLAlchemy, the rest planned

    await database.run(lambda connection: add(connection, ROWS[:2]))

    def half(connection):
        connection.execute(MARK, {"of_kind": "y", "now_done": True})
        connection.execute(MARK, {"of_kind": "x", "now_done": True})  # planned by now
        connection.execute(text("UPDATE test_plain_things SET kind = 'z'"))  # SQLAlchemy's
        connection.execute(MARK, {"of_kind": "z", "now_done": False})
        raise LookupError("the rule the work enforces")

    for _ in range(2):
        with pytest.raises(LookupError):
            await database.run(half)
    rows = await database.run(lambda connection: connection.execute(
        select(things.c.kind, things.c.done).order_by(things.c.id)).all(), write=False)
    assert rows == [("x", True), ("y", False)]

    def mixed(connection):
        connection.execute(text("UPDATE test_plain_things SET kind = 'z' WHERE id = 1"))
        return connection.execute(MARK, {"of_kind": "z", "now_done": False}).rowcount

    assert [await database.run(mixed) for _ in range(2)] == [1, 1]
    with pytest.raises(IntegrityError):
        await database.run(lambda connection: add(connection, [ROWS[2], {**ROWS[0], "id": 9}]))
    assert await database.run(lambda connection: connection.execute(
        select(things.c.kind, things.c.done).order_by(things.c.id)).all(), write=False) == [("z", False), ("y", False)]
