"""The provider workstation's tables."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Text, UniqueConstraint
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel


class ProviderModel(SQLModel, registry=registry()):
    pass


class CaseRecord(ProviderModel, table=True):
    """One application registered at the provider (6-процесс on the portal channel)."""

    __tablename__ = "provider_cases"
    registration_number: str = Field(primary_key=True)
    application_id: str = Field(index=True, unique=True)
    reglament: str
    channel: str
    reply_service: str = Field(description="serviceId that takes the result back")
    applicant_iin: str = Field(index=True, max_length=12)
    queue_list: str | None = None
    request_document: str = Field(sa_column=Column(Text, nullable=False))
    request_signature: str = Field(sa_column=Column(Text, nullable=False))
    registered_us: int = Field(sa_column=Column(BigInteger, nullable=False))
    state: str = Field(default="registered")
    steps_done: int = Field(default=0, description="how many section-2 staff procedures are done")
    executor: str | None = None
    decision: str | None = None
    refusal_ground: str | None = Field(default=None, sa_column=Column(Text))
    result_document: str | None = Field(default=None, sa_column=Column(Text))
    result_signature: str | None = Field(default=None, sa_column=Column(Text))


class QueueEntry(ProviderModel, table=True):
    """A place in one of the housing queue lists."""

    __tablename__ = "provider_queue"
    __table_args__ = (UniqueConstraint("queue_list", "sequence_number"),)
    id: int | None = Field(default=None, primary_key=True)
    queue_list: str = Field(index=True)
    sequence_number: int
    application_id: str = Field(unique=True)
    filed_us: int = Field(sa_column=Column(BigInteger, nullable=False))
