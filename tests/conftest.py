"""Shared fixtures: a fresh run (its own data directory, and its own PostgreSQL schemas when
EGOV_SIM_DATABASE_URL is set) and every system of it started in one process."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from egov_sim.inprocess import Simulation
from simulation.database import drop_run
from simulation.settings import Settings
from simulation.topology import SYSTEMS

RUN_SCHEMAS = (*SYSTEMS, "simulation")


@pytest.fixture
async def settings(tmp_path) -> AsyncIterator[Settings]:
    run = Settings(data_dir=tmp_path / "run", population_size=300)
    yield run
    await drop_run(run, RUN_SCHEMAS)


@pytest.fixture
async def simulation(settings: Settings) -> AsyncIterator[Simulation]:
    async with Simulation(settings) as running:
        yield running
