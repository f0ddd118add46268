"""A process's PostgreSQL connection budget (``EGOV_SIM_PG_CONNECTIONS``): its engines' pools and
the clock reader together stay within it, and a burst of units waits for the pool instead of
opening more connections.

Only the last test needs the server; the others look at the engines, which connect only when used."""

from __future__ import annotations

import asyncio
import time

import psycopg
import pytest
from pydantic import ValidationError
from sqlalchemy import text

from simulation.database import (
    CLOCK_READER_CONNECTIONS,
    MIN_PG_CONNECTIONS,
    POOL_OVERFLOW,
    POOL_SIZE,
    POOL_TIMEOUT,
    STORE,
    STORE_POOL_SIZE,
    ConnectionBudgetError,
    Database,
    drop_run,
    pool_sizes,
)
from simulation.settings import Settings

URL = "postgresql://nobody@127.0.0.1:1/none"


def _room(database: Database) -> int:
    """The most connections the engine's pool opens: its size and its overflow."""
    pool = database.engine.pool
    return pool.size() + pool._max_overflow  # QueuePool keeps the overflow only privately


@pytest.mark.parametrize("budget", range(MIN_PG_CONNECTIONS, 40))
def test_a_budget_is_split_between_the_engines_and_the_clock_reader_exactly(budget):
    system, store = pool_sizes(budget)
    assert system >= 1 and store >= 1
    assert system + store + CLOCK_READER_CONNECTIONS == budget
    assert store >= system  # the store serves the clock, the timers and the trace


def test_the_split_gives_the_store_two_thirds():
    assert pool_sizes(3) == (1, 1)
    assert pool_sizes(5) == (1, 3)
    assert pool_sizes(7) == (2, 4)
    assert pool_sizes(31) == (10, 20)


@pytest.mark.parametrize("budget", [1, 2])
def test_a_budget_too_small_names_the_setting_and_the_numbers(budget):
    with pytest.raises(ConnectionBudgetError) as raised:
        pool_sizes(budget)
    message = str(raised.value)
    assert f"EGOV_SIM_PG_CONNECTIONS={budget}" in message
    assert f"at least {MIN_PG_CONNECTIONS}" in message


def test_the_setting_is_read_from_the_environment(monkeypatch):
    monkeypatch.delenv("EGOV_SIM_PG_CONNECTIONS", raising=False)
    assert Settings().pg_connections is None
    monkeypatch.setenv("EGOV_SIM_PG_CONNECTIONS", "7")
    assert Settings().pg_connections == 7
    for wrong in ("0", "-3", "many"):
        monkeypatch.setenv("EGOV_SIM_PG_CONNECTIONS", wrong)
        with pytest.raises(ValidationError, match="pg_connections"):
            Settings()


async def test_a_budgeted_process_sizes_its_engines_to_fit(tmp_path):
    settings = Settings(data_dir=tmp_path / "run", database_url=URL, pg_connections=7)
    system, store = Database(settings, "portal"), Database(settings, STORE)
    try:
        assert (_room(system), _room(store)) == pool_sizes(7) == (2, 4)
        assert _room(system) + _room(store) + CLOCK_READER_CONNECTIONS == 7
        assert system.engine.pool.size() == 2 and store.engine.pool.size() == 4  # kept open: at most the defaults
        assert system.engine.pool._timeout == store.engine.pool._timeout == POOL_TIMEOUT
    finally:
        await system.dispose()
        await store.dispose()


async def test_a_large_budget_keeps_the_default_sizes_open_and_the_rest_as_overflow(tmp_path):
    settings = Settings(data_dir=tmp_path / "run", database_url=URL, pg_connections=61)
    system, store = Database(settings, "gateway"), Database(settings, STORE)
    try:
        assert system.engine.pool.size() == POOL_SIZE and _room(system) == 20
        assert store.engine.pool.size() == STORE_POOL_SIZE and _room(store) == 40
    finally:
        await system.dispose()
        await store.dispose()


async def test_without_a_budget_the_pools_keep_their_sizes(tmp_path):
    settings = Settings(data_dir=tmp_path / "run", database_url=URL)
    system, store = Database(settings, "portal"), Database(settings, STORE)
    try:
        assert _room(system) == POOL_SIZE + POOL_OVERFLOW and _room(store) == STORE_POOL_SIZE + POOL_OVERFLOW
        assert system.engine.pool._timeout == 30  # SQLAlchemy's default, as before
    finally:
        await system.dispose()
        await store.dispose()


async def test_a_budget_too_small_refuses_the_database(tmp_path):
    settings = Settings(data_dir=tmp_path / "run", database_url=URL, pg_connections=2)
    with pytest.raises(ConnectionBudgetError, match="EGOV_SIM_PG_CONNECTIONS=2 is too small"):
        Database(settings, "portal")


async def test_a_budget_is_for_a_process_of_one_system(tmp_path):
    settings = Settings(data_dir=tmp_path / "run", database_url=URL, pg_connections=7)
    portal, store, again = Database(settings, "portal"), Database(settings, STORE), Database(settings, "portal")
    try:
        with pytest.raises(ConnectionBudgetError, match="runs one system.*gateway"):
            Database(settings, "gateway")
    finally:
        for database in (portal, store, again):
            await database.dispose()
    later = Database(settings, "gateway")  # once the portal's engine is gone, another system may come
    await later.dispose()


# ---- on the server -------------------------------------------------------------------------------


async def test_a_burst_of_units_never_holds_more_connections_than_the_budget(tmp_path):
    url = Settings().database_url
    if not url:
        pytest.skip("needs the PostgreSQL server (EGOV_SIM_DATABASE_URL)")
    budget = 5
    settings = Settings(data_dir=tmp_path / "run", database_url=url, pg_connections=budget)
    system, store = Database(settings, "portal"), Database(settings, STORE)
    await system.create_tables([])
    await store.create_tables([])
    schemas = (system.schema, store.schema)
    conninfo = url.replace("postgresql+psycopg://", "postgresql://")
    peak_server = peak_pools = 0
    done = asyncio.Event()

    async def watch() -> None:
        nonlocal peak_server, peak_pools
        async with await psycopg.AsyncConnection.connect(conninfo, autocommit=True) as admin:
            while not done.is_set():
                row = await (await admin.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE application_name = ANY(%s)",
                    ([f"egov-sim portal ({schemas[0]})"[:63], f"egov-sim {STORE} ({schemas[1]})"[:63]],),
                )).fetchone()
                peak_server = max(peak_server, row[0])
                peak_pools = max(peak_pools, system.engine.pool.checkedout() + store.engine.pool.checkedout())
                await asyncio.sleep(0.005)

    def unit(connection) -> int:
        return connection.execute(text("SELECT 1 FROM pg_sleep(0.02)")).scalar_one()

    watcher = asyncio.create_task(watch())
    try:
        began = time.monotonic()
        results = await asyncio.gather(*(database.run(unit, write=False)
                                         for _ in range(30) for database in (system, store)))
        assert results == [1] * 60
        assert time.monotonic() - began < POOL_TIMEOUT
    finally:
        done.set()
        await watcher
        await system.dispose()
        await store.dispose()
        await drop_run(Settings(data_dir=tmp_path / "run", database_url=url), ("portal", STORE))
    engines = budget - CLOCK_READER_CONNECTIONS
    assert peak_pools == engines  # the burst used every connection it may...
    assert peak_server <= engines  # ...and the server never saw more


def _engines_in_a_forked_child(queue) -> None:
    from simulation import database

    queue.put(len(database._ENGINES))


def test_a_forked_process_keeps_none_of_its_parents_engines(monkeypatch):
    """``egov-sim up`` forks its systems: an engine its parent holds (a test's run left open) is not
    the child's to use, nor counted in the child's budget."""
    import multiprocessing

    from simulation import database

    monkeypatch.setitem(database._ENGINES, ("postgresql+psycopg://x@127.0.0.1/none", "egs_other_control"), (object(), 1))
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    child = context.Process(target=_engines_in_a_forked_child, args=(queue,))
    child.start()
    child.join(60)  # a ceiling against a hang only
    assert child.exitcode == 0 and queue.get(timeout=5) == 0
