"""What the certification authority's routes take: certificate requests, revocations, and the
NCALayer call with the person's choices in its dialog."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from signatures.certificates import Role


class SystemCertificateRequest(BaseModel):
    system: str
    csr_pem: str


class PersonCertificateRequest(BaseModel):
    iin: str
    surname: str = Field(min_length=1)
    name: str = Field(min_length=1)
    patronymic: str | None = None
    organisation: str | None = None
    bin: str | None = None
    roles: list[Role] = Field(default_factory=list)
    usage: Literal["sign", "auth"] = "sign"
    ca: Literal["rsa", "gost"] = Field(default="rsa", description="gost: the ECDSA P-256 stand-in CA")
    validity: Literal["valid", "expired", "not-yet-valid"] = Field(
        default="valid", description="expired / not-yet-valid certificates are for tests"
    )
    password: str | None = Field(default=None, description="Key storage password (default Qwerty12)")


class RevocationRequest(BaseModel):
    reason: str = Field(default="unspecified", examples=["keyCompromise", "superseded"])
    at: datetime | None = Field(default=None, description="when it took effect (default: now)")


class ReissueRequest(BaseModel):
    password: str | None = None


class Dialog(BaseModel):
    """What the person does in NCALayer's window."""

    model_config = ConfigDict(extra="forbid")
    iin: str | None = Field(
        default=None, description="choose my seeded key storage in this run (<data dir>/people/<ЖСН>/)"
    )
    usage: Literal["sign", "auth"] = Field(default="sign", description="which of my seeded storages (with iin)")
    pkcs12: str | None = Field(default=None, description="or: base64 of a key storage file (PKCS#12) I bring")
    password: str = Field(min_length=1, description="the key storage's password (seeded ones: Qwerty12)")
    cancel: bool = Field(default=False, description="press cancel instead of signing")


class NCALayerCall(BaseModel):
    model_config = ConfigDict(extra="forbid")
    module: str = Field(examples=["kz.gov.pki.knca.basics"])
    method: str = Field(examples=["sign"])
    args: dict[str, Any] = Field(default_factory=dict)
    dialog: Dialog | None = Field(default=None, description="needed by sign: the key storage and its password")
