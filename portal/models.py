"""The portal's tables."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Text
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel


class PortalModel(SQLModel, registry=registry()):
    pass


class Account(PortalModel, table=True):
    """A citizen registered on the portal with ЖСН and password."""

    __tablename__ = "portal_accounts"
    iin: str = Field(primary_key=True, max_length=12)
    password_hash: str
    created_us: int = Field(sa_column=Column(BigInteger, nullable=False))


class RegistrationChallenge(PortalModel, table=True):
    """A one-time text the portal hands out for registration: the citizen signs it with their
    AUTH key to prove the ЖСН. Used at most once (``used_us``), valid until ``expires_us``."""

    __tablename__ = "portal_challenges"
    nonce: str = Field(primary_key=True)
    issued_us: int = Field(sa_column=Column(BigInteger, nullable=False))
    expires_us: int = Field(sa_column=Column(BigInteger, nullable=False))
    used_us: int | None = Field(default=None, sa_column=Column(BigInteger))
    used_by_iin: str | None = Field(default=None, max_length=12)
    certificate_serial: str | None = None


class LoginGuard(PortalModel, table=True):
    """An account's failed log-ins in a row, and until when it is locked after too many.

    A table of its own, keyed by the account's ЖСН, so that a run's data directory made before it
    gains it on start (tables are created, columns are not added)."""

    __tablename__ = "portal_login_guard"
    iin: str = Field(primary_key=True, max_length=12)
    failures: int = 0
    locked_until_us: int | None = Field(default=None, sa_column=Column(BigInteger))


class PortalSession(PortalModel, table=True):
    __tablename__ = "portal_sessions"
    id: str = Field(primary_key=True)
    iin: str = Field(max_length=12)
    created_us: int = Field(sa_column=Column(BigInteger, nullable=False))
    reglament: str | None = None


class Application(PortalModel, table=True):
    """A citizen's application as the personal cabinet keeps it."""

    __tablename__ = "portal_applications"
    id: str = Field(primary_key=True)
    iin: str = Field(index=True, max_length=12)
    session_id: str
    reglament: str
    status: str
    submitted_us: int = Field(sa_column=Column(BigInteger, nullable=False))
    due_us: int | None = Field(default=None, sa_column=Column(BigInteger))
    registration_number: str | None = None
    request_document: str = Field(sa_column=Column(Text, nullable=False))
    request_signature: str = Field(sa_column=Column(Text, nullable=False))
    refusal: str | None = Field(default=None, sa_column=Column(Text))
    result_document: str | None = Field(default=None, sa_column=Column(Text))
    result_signature: str | None = Field(default=None, sa_column=Column(Text))


class StatusEvent(PortalModel, table=True):
    """One line of an application's status history in the cabinet."""

    __tablename__ = "portal_status_history"
    id: int | None = Field(default=None, primary_key=True)
    application_id: str = Field(index=True)
    status: str
    at_us: int = Field(sa_column=Column(BigInteger, nullable=False))
    note: str = Field(default="", sa_column=Column(Text, nullable=False))


class CabinetNotice(PortalModel, table=True):
    """A signed decision outside the reglament's numbered steps, delivered to an application's
    cabinet (EPORTAL_CabinetNotification), e.g. the decision to provide housing."""

    __tablename__ = "portal_notices"
    id: int | None = Field(default=None, primary_key=True)
    application_id: str = Field(index=True)
    kind: str
    document: str = Field(sa_column=Column(Text, nullable=False))
    signature: str = Field(sa_column=Column(Text, nullable=False))
    received_us: int = Field(sa_column=Column(BigInteger, nullable=False))


class StageResult(PortalModel, table=True):
    """The signed result of one stage of a service in stages (privatization, seed 001), as the
    cabinet keeps it: what the citizen signed of it (a contract), and the payment it asks for."""

    __tablename__ = "portal_stage_results"
    id: int | None = Field(default=None, primary_key=True)
    application_id: str = Field(index=True)
    stage: int
    document: str = Field(sa_column=Column(Text, nullable=False))
    signature: str = Field(sa_column=Column(Text, nullable=False))
    received_us: int = Field(sa_column=Column(BigInteger, nullable=False))
    citizen_signature: str | None = Field(default=None, sa_column=Column(Text))
    signed_us: int | None = Field(default=None, sa_column=Column(BigInteger))
    paid_amount: float | None = None
    paid_us: int | None = Field(default=None, sa_column=Column(BigInteger))
    payment_reference: str | None = None
