"""SQLite called in the event loop's thread (simulation/sqliteloop.py), through the engine as the
systems use it: sessions, Core statements, streaming, errors, and SQLite's write lock held by
another connection or by another task of the same loop."""

from __future__ import annotations

import asyncio
import sqlite3

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, func, insert, select, update
from sqlalchemy.exc import IntegrityError, OperationalError

from simulation import sqliteloop
from simulation.database import Database
from simulation.settings import Settings

metadata = MetaData()
items = Table(
    "loop_items", metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String, nullable=False),
)


@pytest.fixture(params=["loop", "aiosqlite"])
async def database(request, tmp_path):
    settings = Settings(data_dir=tmp_path, sqlite_driver=request.param)
    if settings.database_url:
        pytest.skip("SQLite's drivers")
    db = Database(settings, "loop-test")
    db.driver_chosen = request.param  # type: ignore[attr-defined]
    await db.create_tables([metadata])
    yield db
    await db.dispose()


async def names(db: Database) -> list[str]:
    async with db.engine.connect() as connection:
        return list((await connection.execute(select(items.c.name).order_by(items.c.id))).scalars())


async def test_the_setting_chooses_the_driver(database):
    async with database.engine.connect() as connection:
        driver = (await connection.get_raw_connection()).driver_connection
    assert isinstance(driver, sqliteloop.Connection) == (database.driver_chosen == "loop")
    async with database.engine.connect() as connection:
        mode = (await connection.exec_driver_sql("PRAGMA journal_mode")).scalar_one()
        synchronous = (await connection.exec_driver_sql("PRAGMA synchronous")).scalar_one()
    assert (mode, synchronous) == ("wal", 1)  # WAL, NORMAL: with either driver


async def test_writes_reads_updates_and_streams(database):
    async with database.engine.begin() as connection:
        await connection.execute(insert(items), [{"id": i, "name": f"n{i}"} for i in range(1, 601)])
    async with database.engine.begin() as connection:
        changed = await connection.execute(update(items).where(items.c.id <= 10).values(name="ten"))
        assert changed.rowcount == 10
        returned = (await connection.execute(
            update(items).where(items.c.id == 11).values(name="eleven").returning(items.c.id, items.c.name)
        )).all()
        assert [tuple(row) for row in returned] == [(11, "eleven")]
    async with database.engine.connect() as connection:
        streamed = [row.id async for row in await connection.stream(select(items.c.id).order_by(items.c.id))]
        assert streamed == list(range(1, 601))
    async with database.session() as session:
        assert (await session.exec(select(func.count()).select_from(items))).scalar_one() == 600
    assert (await names(database))[:11] == ["ten"] * 10 + ["eleven"]


async def test_a_broken_statement_raises_and_the_engine_goes_on(database):
    async with database.engine.begin() as connection:
        await connection.execute(insert(items), [{"id": 1, "name": "a"}])
    with pytest.raises(IntegrityError):
        async with database.engine.begin() as connection:
            await connection.execute(insert(items), [{"id": 2, "name": "b"}])
            await connection.execute(insert(items), [{"id": 1, "name": "again"}])
    with pytest.raises(OperationalError, match="no such table"):
        async with database.engine.connect() as connection:
            await connection.exec_driver_sql("SELECT * FROM nowhere")
    assert await names(database) == ["a"]  # the failed transaction left nothing
    async with database.engine.begin() as connection:
        await connection.execute(insert(items), [{"id": 2, "name": "b"}])
    assert await names(database) == ["a", "b"]


async def test_a_write_meeting_another_connections_lock_waits_without_holding_the_loop(database):
    holder = sqlite3.connect(database.sqlite_path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    holder.execute("INSERT INTO loop_items (id, name) VALUES (1, 'held')")

    async def write() -> None:
        async with database.engine.begin() as connection:
            await connection.execute(insert(items), [{"id": 2, "name": "waited"}])

    task = asyncio.create_task(write())
    ticks = 0
    while not task.done() and ticks < 20:  # the event loop keeps running meanwhile
        await asyncio.sleep(0.01)
        ticks += 1
    assert not task.done() and ticks == 20
    holder.execute("COMMIT")
    holder.close()
    await asyncio.wait_for(task, 10)
    assert await names(database) == ["held", "waited"]


async def test_two_tasks_of_one_loop_write_while_the_first_holds_its_transaction_open(database):
    """The first task keeps its write transaction open across awaits; the second task's write
    meets the lock, waits off the loop, and goes in once the first commits."""
    first_holds = asyncio.Event()
    let_go = asyncio.Event()

    async def first() -> None:
        async with database.engine.begin() as connection:
            await connection.execute(insert(items), [{"id": 1, "name": "first"}])
            first_holds.set()
            await let_go.wait()

    async def second() -> None:
        await first_holds.wait()
        async with database.session() as session:
            await session.exec(insert(items).values(id=2, name="second"))
            await session.commit()

    one, two = asyncio.create_task(first()), asyncio.create_task(second())
    await first_holds.wait()
    for _ in range(10):
        await asyncio.sleep(0.01)
    assert not two.done()  # waiting for the lock, off the loop: this loop still runs
    let_go.set()
    await asyncio.wait_for(asyncio.gather(one, two), 10)
    assert await names(database) == ["first", "second"]


async def test_many_concurrent_sessions_all_commit(database):
    async def one(i: int) -> None:
        async with database.session() as session:
            await session.exec(insert(items).values(id=i, name=f"n{i}"))
            await asyncio.sleep(0)
            await session.exec(update(items).where(items.c.id == i).values(name=f"m{i}"))
            await session.commit()

    await asyncio.wait_for(asyncio.gather(*(one(i) for i in range(1, 41))), 60)
    assert await names(database) == [f"m{i}" for i in range(1, 41)]


async def test_a_new_file_locked_by_another_process_is_opened_once_the_lock_goes(tmp_path):
    """A new file's first switch to WAL needs an exclusive lock; another connection holding one
    (another process starting on the same file) is waited for off the loop."""
    path = str(tmp_path / "new.sqlite")
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("CREATE TABLE t (x INTEGER)")
    holder.execute("BEGIN EXCLUSIVE")
    opening = asyncio.create_task(sqliteloop.connect(path))
    for _ in range(20):
        await asyncio.sleep(0.01)  # the loop runs meanwhile
    assert not opening.done()
    holder.execute("COMMIT")
    holder.close()
    connection = await asyncio.wait_for(opening, 10)
    try:
        cursor = await connection.execute("PRAGMA journal_mode")
        assert await cursor.fetchall() == [("wal",)]
    finally:
        await connection.close()
