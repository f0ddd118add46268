"""PostgreSQL engines: one per (server, schema) in a process, closed by the last of its users.

No server is needed: an engine connects only when it is first used."""

from __future__ import annotations

from simulation import database as db_module
from simulation.database import POOL_SIZE, STORE, STORE_POOL_SIZE, Database
from simulation.settings import Settings

URL = "postgresql://nobody@127.0.0.1:1/none"


def _settings(tmp_path, name: str) -> Settings:
    return Settings(data_dir=tmp_path / name, database_url=URL)


async def test_systems_of_one_run_share_the_store_engine_until_the_last_lets_go(tmp_path):
    settings = _settings(tmp_path, "run")
    portal_store, gateway_store = Database(settings, STORE), Database(settings, STORE)
    portal, gateway = Database(settings, "portal"), Database(settings, "gateway")
    try:
        assert portal_store.engine is gateway_store.engine
        assert portal.engine is not gateway.engine and portal.engine is not portal_store.engine
        assert portal_store.engine.pool.size() == STORE_POOL_SIZE and portal.engine.pool.size() == POOL_SIZE

        shared = portal_store.engine
        await portal_store.dispose()
        await portal_store.dispose()  # twice: still one user less, not two
        assert any(engine is shared for engine, _ in db_module._ENGINES.values())
        await gateway_store.dispose()
        assert not any(engine is shared for engine, _ in db_module._ENGINES.values())
    finally:
        for database in (portal, gateway, portal_store, gateway_store):
            await database.dispose()


async def test_another_run_gets_engines_of_its_own(tmp_path):
    first, second = Database(_settings(tmp_path, "one"), STORE), Database(_settings(tmp_path, "two"), STORE)
    try:
        assert first.schema != second.schema and first.engine is not second.engine
    finally:
        await first.dispose()
        await second.dispose()
