"""Shared fixtures: a fresh run (its own data directory, and its own PostgreSQL schemas when
EGOV_SIM_DATABASE_URL is set) and every system of it started in one process."""

from __future__ import annotations

from datetime import datetime

import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from egov_sim.inprocess import Simulation
from simulation.database import drop_run
from simulation.settings import Settings
from simulation.topology import SYSTEMS

RUN_SCHEMAS = (*SYSTEMS, "simulation")

SEEDS = Path(os.environ.get("EGOV_SIM_SEEDS") or Path(__file__).resolve().parents[2] / "shared" / "seeds")
"""The reglaments' seed texts: beside the repository (../shared/seeds), or where EGOV_SIM_SEEDS says."""


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "seeds: compares a definition with its seed text; skipped when the seeds are missing, "
        "failed instead when EGOV_SIM_REQUIRE_SEEDS=1 (as .ci/run sets it)",
    )


@pytest.fixture
def seeds() -> Path:
    """The folder of seed texts. Missing: the test is skipped, or failed when the run requires
    the seeds (EGOV_SIM_REQUIRE_SEEDS=1): a conformance test must not pass by not running."""
    if not SEEDS.is_dir():
        why = f"the reglaments' seeds are not at {SEEDS} (set EGOV_SIM_SEEDS)"
        if os.environ.get("EGOV_SIM_REQUIRE_SEEDS") == "1":
            pytest.fail(f"{why}, and EGOV_SIM_REQUIRE_SEEDS=1 requires them", pytrace=False)
        pytest.skip(why)
    return SEEDS


WORKING_MONDAY = datetime.fromisoformat("2026-11-02T10:00:00+05:00")
"""Where a test's virtual clock starts: a working Monday morning in Almaty. The staff work in
their offices' hours, so when a run starts decides where it meets nights, weekends and holidays;
a test does not depend on the hour it happens to run at."""


def gateway_fault(reply: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """A refusal in the ШЭП envelope: ``status``, ``errorInfo.errorCode`` ``code`` and its texts in
    Kazakh and Russian; the ``errorInfo``."""
    assert reply.status_code == status, reply.text
    info = reply.json()["errorInfo"]
    assert info["errorCode"] == code, info
    assert info["errorData"]["message_kk"] and info["errorData"]["message_ru"]
    return info


@pytest.fixture
async def settings(tmp_path) -> AsyncIterator[Settings]:
    run = Settings(data_dir=tmp_path / "run", population_size=300, clock_start=WORKING_MONDAY)
    yield run
    await drop_run(run, RUN_SCHEMAS)


@pytest.fixture
async def simulation(settings: Settings) -> AsyncIterator[Simulation]:
    async with Simulation(settings) as running:
        yield running
