""""Е-собес"'s tables: the housing-aid applications received, and the last number of each year."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Text, UniqueConstraint
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel


class ESobesModel(SQLModel, registry=registry()):
    pass


class HousingAidApplication(ESobesModel, table=True):
    """One housing-aid application as received, under Е-собес's registration number."""

    __tablename__ = "esobes_housing_aid_applications"
    __table_args__ = (UniqueConstraint("year", "sequence"),)
    registration_number: str = Field(primary_key=True, description="ESB-<year>-<NNNNNN>")
    year: int = Field(description="year of receipt, Kazakhstan time")
    sequence: int = Field(description="number within the year, from 1, without gaps")
    application_id: str = Field(unique=True)
    applicant_iin: str = Field(index=True, max_length=12)
    period_from: str = Field(description="first month asked for, YYYY-MM")
    period_to: str = Field(description="last month asked for, YYYY-MM")
    status: str = Field(default="RECEIVED")
    sender_id: str = Field(description="the system that sent it (the gateway's senderId)")
    correlation_id: str | None = None
    signature: str | None = Field(default=None, sa_column=Column(Text), description="the applicant's CMS, base64")
    signer: str | None = Field(default=None, sa_column=Column(Text), description="who signed it, as JSON")
    fingerprint: str = Field(description="SHA-256 of the canonical request data, the signature left out")
    request: str = Field(sa_column=Column(Text, nullable=False))
    registered_us: int = Field(sa_column=Column(BigInteger, nullable=False))


class YearCounter(ESobesModel, table=True):
    """The last registration number given in a year."""

    __tablename__ = "esobes_counters"
    year: int = Field(primary_key=True)
    last_number: int = 0


class AidCase(ESobesModel, table=True):
    """A housing-aid application of a reglament (seed 004): what its staff procedures,
    the commission and the authorised person made of it."""

    __tablename__ = "esobes_aid_cases"
    application_id: str = Field(primary_key=True)
    registration_number: str = Field(index=True)
    reglament: str
    channel: str
    reply_service: str
    applicant_iin: str = Field(index=True, max_length=12)
    state: str = Field(default="registered", description="registered, decided, signed, dispatched")
    consent_ref: str | None = None
    executor: str | None = None
    decision: str | None = None
    refusal_ground: str | None = Field(default=None, sa_column=Column(Text))
    computation: str | None = Field(default=None, sa_column=Column(Text))
    commission: str | None = Field(default=None, sa_column=Column(Text))
    result_document: str | None = Field(default=None, sa_column=Column(Text))
    result_signature: str | None = Field(default=None, sa_column=Column(Text))
    registered_us: int = Field(sa_column=Column(BigInteger, nullable=False))
    due_us: int = Field(sa_column=Column(BigInteger, nullable=False))
