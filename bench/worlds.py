"""A fresh world's start: built anew against copied from its template (egov_sim.templates).

Each round starts two worlds of the same kind in one process, in alternation -- (A) a fresh world
built anew (``Simulation(..., from_template=False)``: the CA's keys, the seeded people, the
registries' population, every system's tables and key) and (B) a fresh world copied from the
template (``EGOV_SIM_WORLD_TEMPLATES``: the template's snapshot restored into the new world's own
files or schemas, then the same systems started on it) -- and times each from ``__aenter__`` to
every system ready, wall clock and this process's CPU. The template is built once before the
rounds (not counted). Medians of the rounds, and the ratio B ÷ A, on the backend the settings
choose (``EGOV_SIM_DATABASE_URL`` for PostgreSQL).

    .venv/bin/python bench/worlds.py               # 7 rounds on SQLite, ~1 min
    EGOV_SIM_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/test .venv/bin/python bench/worlds.py
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from egov_sim import templates  # noqa: E402
from egov_sim.inprocess import Simulation  # noqa: E402
from simulation.database import drop_run  # noqa: E402
from simulation.settings import Settings  # noqa: E402
from simulation.topology import SYSTEMS  # noqa: E402

RUN = (*SYSTEMS, "simulation")
START = datetime.fromisoformat("2026-11-02T10:00:00+05:00")


async def _start(settings: Settings, from_template: bool) -> tuple[float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    async with Simulation(settings, from_template=from_template):
        elapsed = time.perf_counter() - wall, time.process_time() - cpu
    await drop_run(settings, RUN)
    return elapsed


async def main(rounds: int) -> None:
    work = Path(tempfile.mkdtemp(prefix="bench-worlds-"))
    os.environ[templates.ENV] = str(work / "templates")
    kind = {"population_size": 300, "clock_start": START}
    try:
        await _start(Settings(data_dir=work / "warm", **kind), True)  # builds the template
        fresh, copied = [], []
        for n in range(rounds):
            fresh.append(await _start(Settings(data_dir=work / f"fresh-{n}", **kind), False))
            copied.append(await _start(Settings(data_dir=work / f"copy-{n}", **kind), True))
        backend = "PostgreSQL" if Settings().database_url else "SQLite"
        print(f"{rounds} rounds on {backend}, population 300, medians:")
        print("| start | wall s | CPU s |\n|---|---|---|")
        for name, rows in (("A built anew", fresh), ("B from the template", copied)):
            print(f"| {name} | {statistics.median(r[0] for r in rows):.2f} | {statistics.median(r[1] for r in rows):.2f} |")
        a = statistics.median(r[0] for r in fresh)
        b = statistics.median(r[0] for r in copied)
        print(f"wall B ÷ A = {b / a:.2f}")
    finally:
        await templates.drop_all(work / "templates")
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=7)
    asyncio.run(main(parser.parse_args().rounds))
