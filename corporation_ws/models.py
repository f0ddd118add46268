"""The operator workstation's tables."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Text
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel


class CorporationModel(SQLModel, registry=registry()):
    pass


class ReceivedResult(CorporationModel, table=True):
    """A provider's result waiting at the front office for the applicant (10-процесс)."""

    __tablename__ = "corporation_results"
    application_id: str = Field(primary_key=True)
    reglament: str
    registration_number: str | None = None
    decision: str | None = None
    received_us: int = Field(sa_column=Column(BigInteger, nullable=False))
    document: str = Field(sa_column=Column(Text, nullable=False))
    signature: str = Field(sa_column=Column(Text, nullable=False))
