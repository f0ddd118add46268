"""Database.run: a unit of synchronous work in one transaction, on SQLite (in the event loop's
thread, or on a thread that waits for the lock) and, in CI, on PostgreSQL; and with the switch
that sends it through SQLAlchemy's asyncio engine instead (EGOV_SIM_WITHOUT=sqliteunits)."""

from __future__ import annotations

import asyncio
import sqlite3

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from simulation.database import Database
from simulation.settings import Settings

metadata = MetaData()
items = Table(
    "test_unit_items", metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String, nullable=False),
)


@pytest.fixture(params=["inline", "engine"])
async def database(request, tmp_path, monkeypatch):
    if request.param == "engine":
        monkeypatch.setenv("EGOV_SIM_WITHOUT", "sqliteunits")
    db = Database(Settings(data_dir=tmp_path), "test-units")
    await db.create_tables([metadata])
    yield db
    await db.drop_schema()
    await db.dispose()


def names(connection) -> list[str]:
    return list(connection.execute(select(items.c.name).order_by(items.c.id)).scalars())


async def test_commits_what_the_work_wrote_and_returns_its_value(database):
    def add(connection):
        connection.execute(insert(items), [{"id": 1, "name": "ә"}, {"id": 2, "name": "b"}])
        return connection.execute(select(func.count()).select_from(items)).scalar_one()

    assert await database.run(add) == 2
    assert await database.run(names, write=False) == ["ә", "b"]
    async with database.engine.connect() as connection:  # the engine's own connections see it
        assert (await connection.execute(select(func.count()).select_from(items))).scalar_one() == 2


async def test_work_that_raises_writes_nothing_and_its_error_comes_out(database):
    await database.run(lambda connection: connection.execute(insert(items), {"id": 1, "name": "a"}))

    def half(connection):
        connection.execute(update(items).values(name="changed"))
        raise LookupError("the rule the work enforces")

    with pytest.raises(LookupError, match="the rule"):
        await database.run(half)
    with pytest.raises(IntegrityError):
        await database.run(lambda connection: connection.execute(insert(items), [{"id": 2, "name": "b"},
                                                                                 {"id": 1, "name": "again"}]))
    assert await database.run(names, write=False) == ["a"]


async def test_a_write_waits_on_its_thread_while_another_connection_holds_the_lock(database):
    if database.sqlite_path is None:
        pytest.skip("SQLite's write lock")
    await database.run(lambda connection: connection.execute(insert(items), {"id": 1, "name": "a"}))
    holder = sqlite3.connect(database.sqlite_path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    holder.execute("INSERT INTO test_unit_items (id, name) VALUES (2, 'held')")
    calls = []

    def add(connection):
        calls.append(1)
        connection.execute(insert(items), {"id": 3, "name": "c"})

    write = asyncio.create_task(database.run(add))
    ticks = 0
    while not write.done() and ticks < 20:  # the event loop keeps running meanwhile
        await asyncio.sleep(0.01)
        ticks += 1
    assert not write.done() and ticks == 20
    # a read goes on while the write lock is held (WAL): it sees what was committed
    assert await database.run(names, write=False) == ["a"]
    holder.execute("COMMIT")
    holder.close()
    await asyncio.wait_for(write, 30)
    assert await database.run(names, write=False) == ["a", "held", "c"]
    assert len(calls) <= 2  # begun at most once inline (stopped at its BEGIN) and once on the thread


async def test_a_cancelled_caller_does_not_cut_a_waiting_write_short(database):
    if database.sqlite_path is None:
        pytest.skip("SQLite's write lock")
    holder = sqlite3.connect(database.sqlite_path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    write = asyncio.create_task(database.run(lambda connection: connection.execute(insert(items), {"id": 1, "name": "a"})))
    await asyncio.sleep(0.05)
    write.cancel()
    await asyncio.sleep(0.05)
    holder.execute("COMMIT")
    holder.close()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(write, 30)
    assert await database.run(names, write=False) == ["a"]  # the write ran to its end
