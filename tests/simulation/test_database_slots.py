"""A PostgreSQL server with no free connection slot: a new connection waits for one to free up
(for a while), instead of failing the request or the timer that needed it."""

from __future__ import annotations

import asyncio
import uuid

import psycopg
import pytest

from simulation import database as db_module
from simulation.settings import Settings


@pytest.fixture
async def limited_role(settings: Settings):
    """(conninfo) of a role that may hold one connection at a time."""
    if not settings.database_url:
        pytest.skip("needs the PostgreSQL server (EGOV_SIM_DATABASE_URL)")
    name = f"egs_slots_{uuid.uuid4().hex[:8]}"
    admin = await psycopg.AsyncConnection.connect(settings.database_url, autocommit=True)
    await admin.execute(f'CREATE ROLE "{name}" LOGIN CONNECTION LIMIT 1')
    host = psycopg.conninfo.conninfo_to_dict(settings.database_url)
    yield psycopg.conninfo.make_conninfo(settings.database_url, user=name, dbname=host.get("dbname", "test"))
    await admin.execute(f'DROP ROLE "{name}"')
    await admin.close()


async def test_a_connection_waits_for_a_slot_and_gets_it_when_one_frees_up(limited_role, caplog):
    held = await psycopg.AsyncConnection.connect(limited_role)

    async def let_go_soon() -> None:
        await asyncio.sleep(0.3)
        await held.close()

    releasing = asyncio.create_task(let_go_soon())
    waited = await db_module._connect_waiting(limited_role, application_name="egov-sim slots test")
    try:
        assert (await (await waited.execute("SELECT 1")).fetchone()) == (1,)
        assert held.closed
        assert "no free connection slot" in caplog.text
    finally:
        await waited.close()
        await releasing


async def test_no_slot_for_longer_than_the_wait_is_the_servers_error(limited_role, monkeypatch):
    monkeypatch.setattr(db_module, "CONNECT_WAIT", 0.2)
    held = await psycopg.AsyncConnection.connect(limited_role)
    try:
        with pytest.raises(psycopg.OperationalError, match="too many connections"):
            await db_module._connect_waiting(limited_role)
    finally:
        await held.close()


async def test_another_refusal_is_not_waited_for(limited_role, caplog):
    wrong = psycopg.conninfo.make_conninfo(limited_role, dbname=f"no_such_db_{uuid.uuid4().hex[:6]}")
    with pytest.raises(psycopg.OperationalError, match="does not exist"):
        await db_module._connect_waiting(wrong)
    assert "no free connection slot" not in caplog.text  # refused at once: no wait began
