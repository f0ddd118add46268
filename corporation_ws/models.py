"""The operator workstation's tables."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Text
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel


class CorporationModel(SQLModel, registry=registry()):
    pass


class OperatorSession(CorporationModel, table=True):
    """An operator logged in at the workstation with the AUTH key."""

    __tablename__ = "corporation_sessions"
    id: str = Field(primary_key=True)
    iin: str = Field(max_length=12)
    name: str
    created_us: int = Field(sa_column=Column(BigInteger, nullable=False))


class Ticket(CorporationModel, table=True):
    """An electronic queue ticket of the front office."""

    __tablename__ = "corporation_tickets"
    number: str = Field(primary_key=True)
    reglament: str
    issued_us: int = Field(sa_column=Column(BigInteger, nullable=False))
    used_by: str | None = None
    booked_us: int | None = Field(default=None, sa_column=Column(BigInteger, index=True),
                                  description="the slot booked on the portal (GK_EQueueBooking), if booked")
    booked_iin: str | None = Field(default=None, max_length=12, description="who booked it")


class FrontApplication(CorporationModel, table=True):
    """An application taken at the front office, with its receipts and its result."""

    __tablename__ = "corporation_applications"
    id: str = Field(primary_key=True)
    reglament: str
    ticket: str
    session_id: str
    applicant_iin: str = Field(index=True, max_length=12)
    representative_iin: str | None = None
    entry: str = Field(default="{}", sa_column=Column(Text, nullable=False))
    """What the operator entered (:class:`corporation_ws.schemas.FrontRequest`, JSON): the steps
    read it whenever they happen, in the same request or when a timer brings them."""
    status: str
    created_us: int = Field(sa_column=Column(BigInteger, nullable=False))
    registration_number: str | None = None
    request_document: str | None = Field(default=None, sa_column=Column(Text))
    request_signature: str | None = Field(default=None, sa_column=Column(Text))
    receipts: str = Field(default="[]", sa_column=Column(Text, nullable=False))
    result_document: str | None = Field(default=None, sa_column=Column(Text))
    result_signature: str | None = Field(default=None, sa_column=Column(Text))
    handed_us: int | None = Field(default=None, sa_column=Column(BigInteger))


class FrontNotice(CorporationModel, table=True):
    """A signed decision outside the reglament's numbered steps, for the applicant of a front-office
    application (GK_NotificationDelivery), e.g. the decision to provide housing."""

    __tablename__ = "corporation_notices"
    id: int | None = Field(default=None, primary_key=True)
    application_id: str = Field(index=True)
    kind: str
    document: str = Field(sa_column=Column(Text, nullable=False))
    signature: str = Field(sa_column=Column(Text, nullable=False))
    received_us: int = Field(sa_column=Column(BigInteger, nullable=False))
