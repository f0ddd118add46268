"""A run stops without a traceback: every system's background tasks (the timer workers polling the
clock, the gateways' async delivery, the message log's writers) are cancelled as their app stops,
and none of them may be cut off while its pooled connection goes back to the pool.

The race is narrow on a quick disk (``egov-sim run`` printed SQLAlchemy's "Exception during reset
or similar" with a CancelledError about once in ten runs), so here every connection returned
while the systems stop is reset slowly: a timer worker polling every 20 ms is then nearly always
inside that reset when its system stops it.
"""

from __future__ import annotations

import asyncio
import logging

from sqlalchemy import event
from sqlalchemy.util import await_

from egov_sim.inprocess import Simulation
from egov_sim.scenarios import play
from reglaments import get_reglament
from simulation.database import drop_run
from simulation.settings import Settings
from tests.conftest import RUN_SCHEMAS, WORKING_MONDAY

REGLAMENT, CHANNEL, CASE = "almaty-queue", "corporation", "approved"
SLOW_RESET = 0.03
"""Seconds each connection's reset takes while the run stops (a slow disk, a loaded box)."""


def _engines(simulation: Simulation):
    seen = {}
    for system in simulation.systems:
        runtime = simulation.runtime(system)
        for database in (runtime.db, runtime.store):
            seen[id(database.engine)] = database.engine
    return list(seen.values())


def _reset_slowly(simulation: Simulation) -> None:
    """From now on every connection a pool of the run gets back is reset ``SLOW_RESET`` seconds
    longer, inside the pool's own reset (where SQLAlchemy logs what interrupts it)."""

    def reset(_dbapi_connection, _record, state) -> None:
        if state.asyncio_safe and not state.terminate_only:
            await_(asyncio.sleep(SLOW_RESET))

    for engine in _engines(simulation):
        event.listen(engine.sync_engine, "reset", reset)


def _problems(records: list[logging.LogRecord]) -> list[str]:
    return [f"{r.levelname} {r.name}: {r.getMessage()}" for r in records
            if r.levelno >= logging.ERROR or r.exc_info]


async def test_a_run_stops_with_no_traceback_while_its_connections_go_back_slowly(settings: Settings, caplog):
    caplog.set_level(logging.WARNING)
    async with Simulation(settings) as simulation:
        spec = get_reglament(REGLAMENT).cases[CHANNEL][CASE]
        report = await play(simulation, REGLAMENT, CHANNEL, spec, CASE)
        assert report["outcome"] == "approved", report
        assert not _problems(caplog.records)
        _reset_slowly(simulation)
        await asyncio.sleep(SLOW_RESET * 3)  # the timer workers are inside slow resets by now
    assert not _problems(caplog.records)


async def test_start_and_stop_again_and_again_with_no_traceback(tmp_path, caplog):
    caplog.set_level(logging.WARNING)
    for run in range(2):
        settings = Settings(data_dir=tmp_path / f"run{run}", population_size=0, clock_start=WORKING_MONDAY)
        try:
            async with Simulation(settings) as simulation:
                _reset_slowly(simulation)
                await asyncio.sleep(SLOW_RESET * 3)
        finally:
            await drop_run(settings, RUN_SCHEMAS)
    assert not _problems(caplog.records)
