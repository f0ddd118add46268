"""Database.insert_rows: many rows in one transaction, on SQLite and (in CI) PostgreSQL."""

from __future__ import annotations

import asyncio
import sqlite3

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, func, select
from sqlalchemy.exc import IntegrityError

from simulation.database import Database
from simulation.settings import Settings

metadata = MetaData()
items = Table(
    "test_items", metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String, nullable=False),
    Column("kind", String, nullable=False, default="plain"),
)
notes = Table("test_notes", metadata, Column("key", String, primary_key=True), Column("text", String))


@pytest.fixture
async def database(tmp_path):
    db = Database(Settings(data_dir=tmp_path), "test-rows")
    await db.create_tables([metadata])
    yield db
    await db.drop_schema()
    await db.dispose()


async def count(db: Database, table: Table) -> int:
    async with db.engine.connect() as connection:
        return (await connection.execute(select(func.count()).select_from(table))).scalar_one()


async def test_rows_of_two_tables_in_one_transaction_with_defaults(database):
    await database.insert_rows([
        (items, [{"id": 1, "name": "a"}, {"id": 2, "name": "b"}]),
        (notes, [{"key": "k", "text": "ә Қ"}]),
    ])
    async with database.engine.connect() as connection:
        rows = (await connection.execute(select(items).order_by(items.c.id))).all()
        note = (await connection.execute(select(notes.c.text))).scalar_one()
    assert [tuple(r) for r in rows] == [(1, "a", "plain"), (2, "b", "plain")]
    assert note == "ә Қ"


async def test_a_duplicate_key_writes_nothing_of_the_batch(database):
    await database.insert_rows([(items, [{"id": 1, "name": "a"}])])
    with pytest.raises(IntegrityError):
        await database.insert_rows([(notes, [{"key": "x", "text": None}]), (items, [{"id": 1, "name": "again"}])])
    assert await count(database, items) == 1
    assert await count(database, notes) == 0
    await database.insert_rows([(items, [{"id": 2, "name": "b"}])])  # still usable afterwards
    assert await count(database, items) == 2


async def test_an_unknown_column_is_refused(database):
    with pytest.raises(ValueError, match="no column 'colour'"):
        await database.insert_rows([(items, [{"id": 1, "name": "a", "colour": "red"}])])


async def test_waits_in_its_thread_while_another_connection_holds_the_write_lock(database):
    if database.sqlite_path is None:
        pytest.skip("SQLite's write lock")
    await database.insert_rows([(items, [{"id": 1, "name": "a"}])])
    holder = sqlite3.connect(database.sqlite_path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    holder.execute("INSERT INTO test_notes (key, text) VALUES ('held', 'by another connection')")
    write = asyncio.create_task(database.insert_rows([(items, [{"id": 2, "name": "b"}])]))
    ticks = 0
    while not write.done() and ticks < 20:  # the event loop keeps running meanwhile
        await asyncio.sleep(0.01)
        ticks += 1
    assert not write.done() and ticks == 20
    holder.execute("COMMIT")
    holder.close()
    await asyncio.wait_for(write, 10)
    assert await count(database, items) == 2 and await count(database, notes) == 1
