"""The registries' tables: each record keeps its registry's own document as JSON."""

from __future__ import annotations

from sqlalchemy import Column, Text
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel


class RegistriesModel(SQLModel, registry=registry()):
    pass


class PersonRecord(RegistriesModel, table=True):
    """A person of ЖТ МДҚ (ГБД ФЛ), keyed by ЖСН."""

    __tablename__ = "gbdfl_persons"
    iin: str = Field(primary_key=True, max_length=12)
    document: str = Field(sa_column=Column(Text, nullable=False))


class PowerOfAttorneyRecord(RegistriesModel, table=True):
    """A notarised power of attorney of БНАЖ (ЕНИС), keyed by its number."""

    __tablename__ = "enis_powers_of_attorney"
    number: str = Field(primary_key=True)
    principal_iin: str = Field(index=True, max_length=12)
    attorney_iin: str = Field(index=True, max_length=12)
    document: str = Field(sa_column=Column(Text, nullable=False))
