"""Registries benchmark: generating and bulk-loading the synthetic population, and look-ups by ЖСН,
at 100,000 and at 1,000,000 persons (the look-up cost must not grow with the population).

    python bench/registries.py [--sizes 100000 1000000] [--lookups 20000] [--database-url URL]

Each size is loaded into a fresh database (SQLite in a temporary folder, or PostgreSQL schemas
with --database-url), timed end to end: generation, JSON encoding and the bulk inserts of all six
registries. Look-ups then read random persons by ЖСН through the primary-key index, the way the
registries answer. The last line is key=value pairs.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlmodel import select  # noqa: E402

from registries.loader import load_population  # noqa: E402
from registries.models import PersonRecord, RegistriesModel  # noqa: E402
from simulation.database import Database, drop_run  # noqa: E402
from simulation.settings import Settings  # noqa: E402


async def measure(size: int, lookups: int, database_url: str | None, workdir: Path) -> dict[str, float]:
    settings = Settings(data_dir=workdir / f"size-{size}", database_url=database_url)
    database = Database(settings, "registries")
    try:
        await database.create_tables([RegistriesModel.metadata])
        seconds = await load_population(database, seed=2026, size=size)
        async with database.session() as session:
            iins = list((await session.exec(select(PersonRecord.iin))).all())
        rng = random.Random(1)
        sample = [rng.choice(iins) for _ in range(lookups)]
        async with database.session() as session:  # warm up
            for iin in sample[:500]:
                await session.get(PersonRecord, iin)
        started = time.perf_counter()
        async with database.session() as session:
            for iin in sample:
                session.expunge_all()
                assert await session.get(PersonRecord, iin) is not None
        rate = lookups / (time.perf_counter() - started)
        print(f"{size:>9,} persons: generated and loaded in {seconds:6.1f} s "
              f"({size / seconds:,.0f} persons/s); {rate:,.0f} look-ups/s", flush=True)
        return {"load_s": seconds, "lookups_per_s": rate}
    finally:
        await database.dispose()
        await drop_run(settings, ["registries"])


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--lookups", type=int, default=20_000)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    results = {}
    with tempfile.TemporaryDirectory(prefix="egov-sim-bench-") as folder:
        for size in args.sizes:
            results[size] = await measure(size, args.lookups, args.database_url, Path(folder))
    pairs = []
    for size, result in results.items():
        label = f"{size // 1000}k" if size < 1_000_000 else f"{size // 1_000_000}m"
        pairs += [f"load_s_{label}={result['load_s']:.1f}", f"lookups_per_s_{label}={result['lookups_per_s']:.0f}"]
    if len(results) >= 2:
        small, large = results[min(results)], results[max(results)]
        pairs.append(f"lookup_ratio_large_small={large['lookups_per_s'] / small['lookups_per_s']:.3f}")
    print(" ".join(pairs))


if __name__ == "__main__":
    asyncio.run(main())
