"""The certification authority's tables: its own keys and every certificate it issued."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Text
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel


class SignaturesModel(SQLModel, registry=registry()):
    pass


class AuthorityRecord(SignaturesModel, table=True):
    __tablename__ = "ca_authorities"
    role: str = Field(primary_key=True, description="root or issuing")
    key_pem: str = Field(sa_column=Column(Text, nullable=False))
    certificate_pem: str = Field(sa_column=Column(Text, nullable=False))


class IssuedCertificate(SignaturesModel, table=True):
    __tablename__ = "ca_issued_certificates"
    serial_hex: str = Field(primary_key=True)
    profile: str
    subject: str
    iin: str | None = Field(default=None, index=True)
    bin: str | None = None
    usage: str
    not_before_us: int = Field(sa_column=Column(BigInteger, nullable=False))
    not_after_us: int = Field(sa_column=Column(BigInteger, nullable=False))
    certificate_pem: str = Field(sa_column=Column(Text, nullable=False))
    revoked_us: int | None = Field(default=None, sa_column=Column(BigInteger))
    revocation_reason: str | None = None
