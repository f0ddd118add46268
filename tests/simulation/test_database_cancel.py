"""A task cancelled while its session commits (a background loop stopped as its system shuts down)
gives its pooled connection back before the cancellation takes effect: nothing is logged, nothing
is left checked out, and what it committed stays committed."""

from __future__ import annotations

import asyncio
import logging

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, event, func, insert, select

from simulation.database import Database, drop_run
from simulation.settings import Settings

METADATA = MetaData()
NOTES = Table("cancel_notes", METADATA, Column("id", Integer, primary_key=True), Column("text", String))
SYSTEM = "cancel_test"


@pytest.fixture
async def database(settings: Settings):
    db = Database(settings, SYSTEM)
    await db.create_tables([METADATA])
    yield db
    await db.dispose()
    await drop_run(settings, [SYSTEM])


def _cancel_on_reset(db: Database, victim: list[asyncio.Task]) -> None:
    """Cancel ``victim[0]`` the moment the pool resets a connection it gets back (the rollback
    SQLAlchemy does on every return, after a commit too): the widest-open point of the race."""

    def reset(*_args) -> None:
        if victim:
            victim.pop().cancel()

    event.listen(db.engine.sync_engine, "reset", reset)


async def _rows(db: Database) -> int:
    async with db.engine.connect() as connection:
        return (await connection.execute(select(func.count()).select_from(NOTES))).scalar_one()


@pytest.mark.parametrize("end", ["commit", "rollback"])
async def test_a_cancellation_during_a_commit_waits_for_the_connection_to_go_back(database, caplog, end):
    victim: list[asyncio.Task] = []
    _cancel_on_reset(database, victim)

    async def write() -> None:
        async with database.session() as session:
            await session.exec(insert(NOTES).values(text="kept"))
            await getattr(session, end)()

    task = asyncio.create_task(write())
    victim.append(task)
    with caplog.at_level(logging.DEBUG, logger="sqlalchemy.pool"):
        with pytest.raises(asyncio.CancelledError):
            await task
    assert not victim, "the pool never reset a connection: the test did not reach the race"

    problems = [r for r in caplog.records if r.levelno >= logging.WARNING and r.name.startswith("sqlalchemy")]
    assert not problems, [r.getMessage() for r in problems]
    assert database.engine.pool.checkedout() == 0
    assert await _rows(database) == (1 if end == "commit" else 0)
