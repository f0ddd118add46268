""""Е-әкімдік"'s tables: the registrations, and the last number given in each year."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Text, UniqueConstraint
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel


class EAkimdikModel(SQLModel, registry=registry()):
    pass


class DocumentRegistration(EAkimdikModel, table=True):
    """One application's documents, registered under the akimat's number."""

    __tablename__ = "eakimdik_registrations"
    __table_args__ = (UniqueConstraint("year", "sequence"),)
    registration_number: str = Field(primary_key=True, description="EAK-<year>-<NNNNNN>")
    year: int = Field(description="year of the registration, Kazakhstan time")
    sequence: int = Field(description="number within the year, from 1, without gaps")
    application_id: str = Field(unique=True)
    reglament: str
    applicant_iin: str = Field(index=True, max_length=12)
    document_kind: str
    title: str
    executor: str | None = None
    sender_id: str = Field(description="the system that registered it (the gateway's senderId)")
    correlation_id: str | None = None
    fingerprint: str = Field(description="SHA-256 of the canonical request data")
    request: str = Field(sa_column=Column(Text, nullable=False))
    registered_us: int = Field(sa_column=Column(BigInteger, nullable=False))


class YearCounter(EAkimdikModel, table=True):
    """The last registration number given in a year."""

    __tablename__ = "eakimdik_counters"
    year: int = Field(primary_key=True)
    last_number: int = 0
