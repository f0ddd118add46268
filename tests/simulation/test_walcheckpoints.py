"""simulation.walcheckpoints: the units' connections leave WAL checkpoints to a thread of their own."""

from __future__ import annotations

import asyncio
import os
import threading

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, insert

from simulation import walcheckpoints
from simulation.database import Database
from simulation.settings import Settings

metadata = MetaData()
rows = Table("test_wal_rows", metadata, Column("id", Integer, primary_key=True), Column("text", String))


async def _until(condition, ceiling: float = 30.0) -> None:
    """Wait for ``condition``; the ceiling only guards against a hang."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + ceiling
    while not condition():
        assert loop.time() < deadline, "the condition never came true"
        await asyncio.sleep(0.02)


@pytest.mark.skipif(bool(os.environ.get("EGOV_SIM_DATABASE_URL")), reason="SQLite's WAL")
async def test_the_units_connection_does_not_checkpoint_and_the_thread_does(tmp_path):
    db = Database(Settings(data_dir=tmp_path), "test-wal")
    await db.create_tables([metadata])
    try:
        await db.run(lambda connection: connection.execute(insert(rows), {"id": 0, "text": "first"}))
        autocheckpoint = await db.run(
            lambda connection: connection.connection.driver_connection.execute("PRAGMA wal_autocheckpoint").fetchone()[0],
            write=False,
        )
        assert autocheckpoint == 0
        assert db.sqlite_path in walcheckpoints._users
        assert any(t.name == "sqlite-checkpoints" for t in threading.enumerate())
        # more than SQLite's own 1,000-page threshold: the units' connection would have checkpointed
        for batch in range(12):
            await db.run(lambda connection, batch=batch: connection.execute(
                insert(rows), [{"id": 1 + batch * 100 + i, "text": "x" * 4000} for i in range(100)]))
        # the pages reach the database file itself only at a checkpoint (reading the log would not)
        await _until(lambda: os.path.getsize(db.sqlite_path) > 4_000 * 1_200)
    finally:
        await db.drop_schema()
        await db.dispose()
    assert db.sqlite_path not in walcheckpoints._users


def test_a_file_is_checkpointed_while_any_writer_of_it_is_left():
    walcheckpoints.register("/nonexistent/one.sqlite")
    walcheckpoints.register("/nonexistent/one.sqlite")
    walcheckpoints.unregister("/nonexistent/one.sqlite")
    assert walcheckpoints._users.get("/nonexistent/one.sqlite") == 1
    walcheckpoints.unregister("/nonexistent/one.sqlite")
    assert "/nonexistent/one.sqlite" not in walcheckpoints._users
