"""The registries' tables. Every registry keeps its own records, as JSON documents in the real
system's field names, found by ЖСН through an index."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Text
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel


class RegistriesModel(SQLModel, registry=registry()):
    pass


class _ByIin(RegistriesModel):
    iin: str = Field(primary_key=True, max_length=12)
    document: str = Field(sa_type=Text, nullable=False)
    source: str = Field(default="generated", description="generated or fixture")


class PersonRecord(_ByIin, table=True):
    """ЖТ МДҚ (ГБД ФЛ): a person."""

    __tablename__ = "gbdfl_persons"


class AddressHistory(_ByIin, table=True):
    """The address registry: a person's registrations, the current one last."""

    __tablename__ = "address_history"


class AddressOccupant(RegistriesModel, table=True):
    """The address registry's index of who is registered where now: one row a person, found by the
    address's registration code (arCode), so that the registry can tell who lives at an address."""

    __tablename__ = "address_occupants"
    iin: str = Field(primary_key=True, max_length=12)
    ar_code: str = Field(index=True)
    begin_date: str
    source: str = Field(default="generated", description="generated or fixture")


class RealEstateRights(_ByIin, table=True):
    """The real-estate rights registry: dwellings a person owns or owned."""

    __tablename__ = "realestate_rights"


class IncomeRecord(_ByIin, table=True):
    """Incomes over the last twelve months by source, and unemployed registration."""

    __tablename__ = "incomes"


class Tenancy(_ByIin, table=True):
    """The communal housing fund: a dwelling held in permanent use."""

    __tablename__ = "housing_fund_tenancies"


class PowerOfAttorneyRecord(RegistriesModel, table=True):
    """БНАЖ (ЕНИС): a notarised power of attorney, by its number."""

    __tablename__ = "enis_powers_of_attorney"
    number: str = Field(primary_key=True)
    principal_iin: str = Field(index=True, max_length=12)
    attorney_iin: str = Field(index=True, max_length=12)
    document: str = Field(sa_column=Column(Text, nullable=False))
    source: str = Field(default="generated")


class AccessRecord(RegistriesModel, table=True):
    """Who asked what about whom, why (the serviceId as declared purpose), and when."""

    __tablename__ = "registries_access_log"
    id: int | None = Field(default=None, primary_key=True)
    registry_name: str
    service_id: str
    requester: str = Field(description="the sending system, as its verified signature names it (the certificate's CN)")
    hop: str | None = Field(default=None, description="the gateway whose signed hop brought the request")
    purpose: str
    consent_ref: str | None = None
    correlation_id: str | None = Field(default=None, index=True)
    subject_iin: str | None = Field(default=None, index=True)
    at_us: int = Field(sa_column=Column(BigInteger, nullable=False))
    outcome: str


class PopulationMeta(RegistriesModel, table=True):
    __tablename__ = "registries_population"
    id: int = Field(default=1, primary_key=True)
    seed: int
    size: int
    persons: int


class ConsentRecord(RegistriesModel, table=True):
    """A citizen's consent to the use of their data protected by law (seed 004, item 11), recorded
    with the evidence it was given on: the signed request that states it. Registries that give out
    such data answer a recorded consent's reference only to the system it was granted to, about the
    people it covers, for the services it names, while it lasts."""

    __tablename__ = "registries_consents"
    consent_ref: str = Field(primary_key=True)
    subject_iin: str = Field(index=True, max_length=12)
    covered: str = Field(sa_column=Column(Text, nullable=False), description="JSON list of ЖСН it covers")
    services: str = Field(sa_column=Column(Text, nullable=False), description="JSON list of serviceIds")
    granted_to: str = Field(description="the system (senderId) that may use it")
    purpose: str
    evidence_sha256: str
    signer_iin: str | None = None
    witnessed_by: str | None = Field(default=None, description="the organisation (BIN) whose employee signed the evidence")
    given_us: int = Field(sa_column=Column(BigInteger, nullable=False))
    valid_to_us: int = Field(sa_column=Column(BigInteger, nullable=False))
