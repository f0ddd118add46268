"""The certification authority's tables: its own keys, every certificate it issued, and the
numbering of its CRLs. They persist in the service's database and survive restarts."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Text
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel


class SignaturesModel(SQLModel, registry=registry()):
    pass


class AuthorityRecord(SignaturesModel, table=True):
    """The root or one issuing CA: ``root``, ``rsa`` or ``gost``."""

    __tablename__ = "ca_authorities"
    role: str = Field(primary_key=True)
    key_pem: str = Field(sa_column=Column(Text, nullable=False))
    certificate_pem: str = Field(sa_column=Column(Text, nullable=False))
    crl_number: int = Field(default=0, description="the last CRL number this CA issued")
    base_crl_number: int | None = Field(default=None, description="number of the last full CRL")
    base_revocation_seq: int = Field(default=0, description="revocations the last full CRL holds")


class IssuedCertificate(SignaturesModel, table=True):
    __tablename__ = "ca_issued_certificates"
    serial_hex: str = Field(primary_key=True)
    ca: str = Field(index=True, description="the issuing CA: rsa or gost")
    profile: str
    subject: str
    subject_spec: str = Field(sa_column=Column(Text, nullable=False))
    """The Subject as JSON, so the certificate can be issued again."""
    iin: str | None = Field(default=None, index=True)
    bin: str | None = None
    usage: str
    not_before_us: int = Field(sa_column=Column(BigInteger, nullable=False))
    not_after_us: int = Field(sa_column=Column(BigInteger, nullable=False))
    certificate_pem: str = Field(sa_column=Column(Text, nullable=False))
    revoked_us: int | None = Field(default=None, sa_column=Column(BigInteger))
    revocation_reason: str | None = None
    revocation_seq: int | None = Field(default=None, index=True, description="order of revocation")
    superseded_by: str | None = None
