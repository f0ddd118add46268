"""Filling the registries: the synthetic population (in bulk) and the testers' fixtures."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterator
from importlib.resources import files
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import delete, select

from registries.models import (
    AddressHistory,
    AddressOccupant,
    IncomeRecord,
    PersonRecord,
    PopulationMeta,
    PowerOfAttorneyRecord,
    RealEstateRights,
    Tenancy,
)
from registries.population import Chunk, generate
from registries.records import Records
from simulation import jsoncodec
from simulation import yamltext
from simulation.database import Database
from simulation.identifiers import IdentifierError, validate_iin

log = logging.getLogger(__name__)

DEFAULT_FIXTURES = files(__package__) / "fixtures.yaml"
BY_IIN = {
    "persons": PersonRecord,
    "addresses": AddressHistory,
    "properties": RealEstateRights,
    "incomes": IncomeRecord,
    "tenancies": Tenancy,
}


class FixtureError(ValueError):
    """A fixture file that cannot be loaded: which file, which entry, which field."""


def _dump(document: dict[str, Any]) -> str:
    """A record's document as stored: compact UTF-8 JSON; a value JSON has no type for (a
    fixture's YAML date, say) as its text."""
    return jsoncodec.dumps_text(_plain(document))


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    if value is None or isinstance(value, (str, int, float)):
        return value
    return str(value)


def _current(history: dict[str, Any]) -> dict[str, Any] | None:
    """A person's current registration (the last one without an end date), if it has an arCode."""
    current = next((a for a in reversed(history.get("addresses") or []) if isinstance(a, dict) and not a.get("endDate")), None)
    return current if current is not None and current.get("arCode") else None


def _rows(chunk: Chunk, source: str) -> dict[type, list[dict[str, Any]]]:
    rows: dict[type, list[dict[str, Any]]] = {
        table: [{"iin": d["iin"], "document": _dump(d), "source": source} for d in getattr(chunk, name)]
        for name, table in BY_IIN.items()
    }
    rows[AddressOccupant] = [
        {"iin": d["iin"], "ar_code": str(current["arCode"]), "begin_date": str(current.get("beginDate") or ""),
         "source": source}
        for d in chunk.addresses
        if (current := _current(d)) is not None
    ]
    rows[PowerOfAttorneyRecord] = [
        {"number": p["number"], "principal_iin": p["principalIin"], "attorney_iin": p["attorneyIin"],
         "document": _dump(p), "source": source}
        for p in chunk.powers
    ]
    return rows


async def _insert(database: Database, rows: dict[type, list[dict[str, Any]]]) -> None:
    """One transaction, one multi-row statement a table: the bulk path."""
    await database.insert_rows([(table.__table__, values) for table, values in rows.items()])


# Persons generated and written at a time: small enough that the event loop is never held for
# long (the registries answer /health and wait for the data meanwhile), large enough that
# statements stay few. The population does not depend on it (whole households, one generator).
LOAD_CHUNK = 2_000


def _next_rows(chunks: Iterator[Chunk]) -> tuple[int, dict[type, list[dict[str, Any]]]] | None:
    chunk = next(chunks, None)
    return None if chunk is None else (len(chunk.persons), _rows(chunk, "generated"))


async def load_population(database: Database, seed: int, size: int) -> float:
    """Generate and bulk-load ``size`` persons, unless this very population is loaded already.
    Returns the seconds it took (0 when nothing had to be done)."""
    async with database.session() as session:
        meta = await session.get(PopulationMeta, 1)
    if meta is not None and (meta.seed, meta.size) == (seed, size) and await _indexed(database, meta.persons):
        return 0.0
    started = time.perf_counter()
    async with database.engine.begin() as connection:
        for table in (*BY_IIN.values(), AddressOccupant, PowerOfAttorneyRecord):
            await connection.execute(delete(table).where(table.source == "generated"))
    persons = 0
    chunks = generate(seed, size, chunk_persons=LOAD_CHUNK)
    # Generating is pure CPU work: done in a thread, chunk by chunk, it leaves the event loop free.
    while (made := await asyncio.to_thread(_next_rows, chunks)) is not None:
        count, rows = made
        await _insert(database, rows)
        persons += count
    async with database.session() as session:
        await session.merge(PopulationMeta(id=1, seed=seed, size=size, persons=persons))
        await session.commit()
    elapsed = time.perf_counter() - started
    log.info("loaded a population of %d persons (seed %d) in %.1f s", persons, seed, elapsed)
    return elapsed


async def _indexed(database: Database, persons: int) -> bool:
    """Whether the address index is filled (a population loaded before the index existed is not)."""
    if persons == 0:
        return True
    async with database.session() as session:
        found = (await session.exec(
            select(AddressOccupant.iin).where(AddressOccupant.source == "generated").limit(1))).first()
    return found is not None


def read_fixtures(path: Path | Traversable) -> Chunk:
    """A fixture file as the registries' records; FixtureError names the file, entry and field."""
    try:
        data = yamltext.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise FixtureError(f"{path}: {exc}") from None
    if not isinstance(data, dict):
        raise FixtureError(f"{path}: expected a mapping of persons, powers_of_attorney, addresses, …")
    unknown = set(data) - {*BY_IIN, "powers_of_attorney"}
    if unknown:
        raise FixtureError(f"{path}: unknown sections {sorted(unknown)}")
    chunk = Chunk()
    for section in BY_IIN:
        for index, entry in enumerate(data.get(section) or []):
            where = f"{path.name}: {section}[{index}]"
            if not isinstance(entry, dict):
                raise FixtureError(f"{where}: expected a mapping")
            try:
                entry["iin"] = validate_iin(str(entry.get("iin", "")), "iin")
            except IdentifierError as exc:
                raise FixtureError(f"{where}: {exc}") from None
            getattr(chunk, section).append(entry)
    for index, entry in enumerate(data.get("powers_of_attorney") or []):
        where = f"{path.name}: powers_of_attorney[{index}]"
        missing = {"number", "date", "principalIin", "attorneyIin", "validFrom", "validTo"} - set(entry)
        if missing:
            raise FixtureError(f"{where}: missing {sorted(missing)}")
        for key in ("principalIin", "attorneyIin"):
            try:
                entry[key] = validate_iin(str(entry[key]), key)
            except IdentifierError as exc:
                raise FixtureError(f"{where}: {exc}") from None
        chunk.powers.append(entry)
    return chunk


async def load_fixtures(database: Database, paths: list[Path | Traversable]) -> int:
    """Load fixture files over the population (a fixture replaces a generated record)."""
    count = 0
    for path in paths:
        chunk = read_fixtures(path)
        rows = _rows(chunk, "fixture")
        async with database.engine.begin() as connection:
            for table, values in rows.items():
                key = "number" if table is PowerOfAttorneyRecord else "iin"
                if values:
                    await connection.execute(delete(table).where(getattr(table, key).in_([v[key] for v in values])))
        await _insert(database, rows)
        count += sum(len(v) for v in rows.values())
    return count


GIVEN = "given"
"""The ``source`` of a record a tester gave through the records endpoint (kept over a reload of
the generated population, like the fixtures')."""


async def give_records(database: Database, records: Records) -> dict[str, int]:
    """Add ``records`` (checked: :func:`registries.records.check_records`), each replacing the
    record of its key there was -- in one transaction: all of them are taken, or none. The
    address registry's index of who lives where follows the histories given. How many records
    each section took."""
    documents = records.documents()
    chunk = Chunk(persons=documents["persons"], powers=documents["powers_of_attorney"],
                  addresses=documents["addresses"], properties=documents["properties"],
                  incomes=documents["incomes"], tenancies=documents["tenancies"])
    rows = _rows(chunk, GIVEN)
    replaced = {table: [v["number" if table is PowerOfAttorneyRecord else "iin"] for v in values]
                for table, values in rows.items()}
    # a history given without a current registration leaves nobody at its old address
    replaced[AddressOccupant] = [d["iin"] for d in documents["addresses"]]
    async with database.engine.begin() as connection:
        for table, keys in replaced.items():
            key = table.number if table is PowerOfAttorneyRecord else table.iin
            for start in range(0, len(keys), 1000):
                await connection.execute(delete(table).where(key.in_(keys[start:start + 1000])))
        for table, values in rows.items():
            if values:
                await connection.execute(table.__table__.insert(), values)
    return {section: len(entries) for section, entries in documents.items()}
