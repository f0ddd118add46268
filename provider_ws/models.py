"""The provider workstation's tables."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Index, Text, UniqueConstraint
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel


class ProviderModel(SQLModel, registry=registry()):
    pass


class CaseRecord(ProviderModel, table=True):
    """One application registered at the provider (at the registration step of its reglament)."""

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
    executor: str | None = None
    decision: str | None = None
    refusal_ground: str | None = Field(default=None, sa_column=Column(Text))
    result_document: str | None = Field(default=None, sa_column=Column(Text))
    result_signature: str | None = Field(default=None, sa_column=Column(Text))


class QueueEntry(ProviderModel, table=True):
    """A place in one of the housing queue lists of one reglament.

    Each provider organisation keeps its own lists (Law "On housing relations", art. 74: the local
    executive body keeps them): a list is the pair (reglament, queue list code), numbered on its own,
    even where two reglaments use the same code."""

    __tablename__ = "provider_queue"
    __table_args__ = (
        UniqueConstraint("reglament", "queue_list", "sequence_number"),
        Index("ix_provider_queue_reglament_list", "reglament", "queue_list"),
    )
    id: int | None = Field(default=None, primary_key=True)
    reglament: str = Field(index=True, description="the reglament (its provider) whose list it is")
    queue_list: str = Field(index=True)
    sequence_number: int
    application_id: str = Field(unique=True)
    filed_us: int = Field(sa_column=Column(BigInteger, nullable=False))


# ---- the decision to provide housing (provider_ws.allocation) --------------------------------


class Dwelling(ProviderModel, table=True):
    """A dwelling the housing department has to give: of the state housing fund, or rented by the
    local executive body in the private fund (Law "On housing relations", art. 74)."""

    __tablename__ = "provider_dwellings"
    id: int | None = Field(default=None, primary_key=True)
    address: str = Field(sa_column=Column(Text, nullable=False))
    rooms: int
    area_m2: float
    fund: str = Field(description='"state" or "rented-private"')
    queue_list: str = Field(index=True, description="the list whose applicants it is for")
    reglament: str = Field(description="the housing-queue reglament whose lists it serves")
    registered_us: int = Field(sa_column=Column(BigInteger, nullable=False))
    state: str = Field(default="available", description="available, offered or allocated")


class Allocation(ProviderModel, table=True):
    """One offer of one dwelling to one applicant of its list: the signed decision and the answer."""

    __tablename__ = "provider_allocations"
    __table_args__ = (UniqueConstraint("dwelling_id", "application_id"),)
    id: int | None = Field(default=None, primary_key=True)
    dwelling_id: int = Field(index=True)
    application_id: str = Field(index=True)
    queue_list: str
    sequence_number: int
    place: int = Field(description="the applicant's place among those waiting when offered")
    state: str = Field(default="offered", description="offered, accepted, declined or expired")
    offered_us: int = Field(sa_column=Column(BigInteger, nullable=False))
    answer_by_us: int = Field(sa_column=Column(BigInteger, nullable=False))
    answered_us: int | None = Field(default=None, sa_column=Column(BigInteger))
    document: str = Field(sa_column=Column(Text, nullable=False))
    signature: str = Field(sa_column=Column(Text, nullable=False))
    delivered_to: str = Field(description="serviceId the decision was sent to")


class QueueOutcome(ProviderModel, table=True):
    """How an applicant left a queue list: housed (an offer accepted) or removed from the register.
    An entry of provider_queue without an outcome is still waiting."""

    __tablename__ = "provider_queue_outcomes"
    application_id: str = Field(primary_key=True)
    outcome: str = Field(description="housed or removed")
    at_us: int = Field(sa_column=Column(BigInteger, nullable=False))
    allocation_id: int | None = None


# ---- what a courier brings with a request (a State Corporation's delivery register) -------------


class DeliveryRegister(ProviderModel, table=True):
    """A delivery register (реестр) a courier brought with an application, signed by the sender
    (the State Corporation), with the provider's chancellery's receipt on it, signed."""

    __tablename__ = "provider_delivery_registers"
    id: int | None = Field(default=None, primary_key=True)
    application_id: str = Field(index=True)
    number: str
    document: str = Field(sa_column=Column(Text, nullable=False))
    signature: str = Field(sa_column=Column(Text, nullable=False))
    arrived_us: int = Field(sa_column=Column(BigInteger, nullable=False))
    """When the courier brought it (with the request)."""
    verdict: str | None = Field(default=None, description="the sender's signature as checked on receipt (VALID, …)")
    receipt: str | None = Field(default=None, sa_column=Column(Text))
    """The chancellery's receipt, once it registered the delivery; None until then."""
    receipt_signature: str | None = Field(default=None, sa_column=Column(Text))
