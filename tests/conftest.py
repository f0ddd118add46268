"""Shared fixtures: a fresh run (its own data directory, and its own PostgreSQL schemas when
EGOV_SIM_DATABASE_URL is set) and every system of it started in one process."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from egov_sim.inprocess import Simulation
from simulation.database import Database
from simulation.settings import Settings
from simulation.topology import SYSTEMS


async def drop_run(settings: Settings) -> None:
    if not settings.database_url:
        return
    for name in (*SYSTEMS, "simulation"):
        database = Database(settings, name)
        await database.drop_schema()
        await database.dispose()


@pytest.fixture
async def settings(tmp_path) -> AsyncIterator[Settings]:
    run = Settings(data_dir=tmp_path / "run")
    yield run
    await drop_run(run)


@pytest.fixture
async def simulation(settings: Settings) -> AsyncIterator[Simulation]:
    async with Simulation(settings) as running:
        yield running
