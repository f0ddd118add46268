"""Registration numbers: gap-free per year even when two processes register at once, one number per
application, other data for a registered application refused; request data refused field by field."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any

import pytest
from pydantic import BaseModel, ConfigDict
from sqlalchemy import BigInteger, Column, Text
from sqlalchemy.exc import CompileError
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

from gateway_protocol.provider import ProviderError
from simulation.database import Database, drop_run
from runtime.registration import Iin, Registrar, field_path, parse_data
from simulation.settings import Settings

AT = datetime.fromisoformat("2026-12-31T23:59:00+05:00")


class Tables(SQLModel, registry=registry()):
    pass


class Registration(Tables, table=True):
    """The columns a Registrar needs, and one of the provider's own (``title``)."""

    __tablename__ = "test_registrations"
    registration_number: str = Field(primary_key=True)
    year: int
    sequence: int
    application_id: str = Field(unique=True)
    title: str
    fingerprint: str
    request: str = Field(sa_column=Column(Text, nullable=False))
    registered_us: int = Field(sa_column=Column(BigInteger, nullable=False))


class Counter(Tables, table=True):
    __tablename__ = "test_counters"
    year: int = Field(primary_key=True)
    last_number: int = 0


@pytest.fixture
async def databases(tmp_path):
    """Two connections pools to one system's database, as two processes of it would have."""
    settings = Settings(data_dir=tmp_path / "run")
    first, second = Database(settings, "registrar"), Database(settings, "registrar")
    await first.create_tables([Tables.metadata])
    yield first, second
    await first.dispose()
    await second.dispose()
    await drop_run(settings, ["registrar"])


def registrar(db: Database) -> Registrar:
    return Registrar(
        db, registrations=Registration.__table__, counters=Counter.__table__, prefix="EAK",
    )


def columns(n: int) -> dict[str, Any]:
    return {"title": f"document {n}"}


async def test_two_processes_share_one_gap_free_sequence(databases):
    one, two = registrar(databases[0]), registrar(databases[1])
    jobs = [
        (one if n % 2 else two).register(f"app-{n}", {"n": n}, AT, columns(n)) for n in range(40)
    ] + [
        side.register("app-raced", {"n": "raced"}, AT, columns(99)) for side in (one, two, one, two)
    ]
    results = await asyncio.gather(*jobs)
    numbers = sorted(r.number for r in results if r.created)
    assert numbers == [f"EAK-2026-{n:06d}" for n in range(1, 42)]
    raced = results[40:]
    assert sum(r.created for r in raced) == 1 and len({r.number for r in raced}) == 1

    next_year = await one.register("app-2027", {"n": 2027}, AT + timedelta(minutes=1), columns(2027))
    assert (next_year.number, next_year.at.isoformat()) == ("EAK-2027-000001", "2027-01-01T00:00:00+05:00")
    assert [r["registration_number"] for r in await two.all(year=2027)] == ["EAK-2027-000001"]
    assert len(await two.all()) == 42


async def test_the_same_application_with_other_data_is_refused(databases):
    one = registrar(databases[0])
    first = await one.register("app-1", {"title": "a", "iin": "1"}, AT, columns(1))
    again = await one.register("app-1", {"iin": "1", "title": "a"}, AT + timedelta(days=3), columns(1))
    assert (again.number, again.created, again.at) == (first.number, False, first.at)
    with pytest.raises(ProviderError) as refused:
        await one.register("app-1", {"title": "b", "iin": "1", "extra": 1}, AT, columns(1))
    assert refused.value.code == "Provider.Refused"
    assert refused.value.data["fields"] == ["extra", "title"]
    assert refused.value.data["registrationNumber"] == first.number


async def test_a_column_the_registrations_table_has_not_is_refused_and_nothing_is_taken(databases):
    one = registrar(databases[0])
    with pytest.raises(CompileError, match="Unconsumed column names: colour"):
        await one.register("app-1", {"n": 1}, AT, {**columns(1), "colour": "red"})
    assert await one.all() == []
    assert (await one.register("app-1", {"n": 1}, AT, columns(1))).number == "EAK-2026-000001"


class Person(BaseModel):
    model_config = ConfigDict(extra="forbid")
    iin: Iin
    children: list[Iin] = []


@pytest.mark.parametrize(
    ("data", "field", "rule"),
    [
        ({"iin": "900515401231"}, "iin", "iin_checksum"),
        ({"iin": "9005154012301"}, "iin", "iin_format"),
        ({"iin": "900515700003"}, "iin", "iin_century"),
        ({"iin": "900515401230", "children": ["900515401230", "x"]}, "children[1]", "iin_format"),
        ({}, "iin", "missing"),
        ({"iin": "900515401230", "age": 3}, "age", "extra_forbidden"),
        (None, "requestData.data", "model_type"),
    ],
)
def test_request_data_is_refused_with_field_and_rule(data, field, rule):
    with pytest.raises(ProviderError) as refused:
        parse_data(Person, data)
    assert refused.value.code == "Provider.RequestInvalid"
    assert (refused.value.data["field"], refused.value.data["rule"]) == (field, rule)
    assert refused.value.detail.startswith(f"{field}: ")


def test_field_paths():
    assert field_path(("familyMembers", 1, "iin")) == "familyMembers[1].iin"
    assert field_path(()) == "requestData.data"
