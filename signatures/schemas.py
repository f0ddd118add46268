"""What the certification authority's routes take: certificate requests, revocations, and the
NCALayer call with the person's choices in its dialog."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from signatures.certificates import Role


class Proof(BaseModel):
    """Proof of holding the key of one's own certificate (see :mod:`signatures.proofs`)."""

    serial: str = Field(min_length=1, max_length=64, pattern=r"^[0-9A-Fa-f]+$",
                        description="the certificate whose key signs, in hex")
    requested_at: str = Field(min_length=1, max_length=64,
                              description="the virtual moment of the request, ISO 8601 with its offset")
    nonce: str = Field(min_length=8, max_length=128, description="fresh for every request")
    signature: str = Field(min_length=1, max_length=64 * 1024,
                           description="detached JWS over {action, serial, requested_at, nonce, …}, "
                                       "x5c[0] = that certificate")


PROOF_FIELD = Field(
    default=None,
    description="instead of the admin token (X-Egov-Sim-Token): proof of holding the current key",
)


class SystemCertificateRequest(BaseModel):
    system: str
    csr_pem: str
    proof: Proof | None = Field(
        default=None,
        description="a renewal instead of the admin token: proof of holding the system's current key "
                    "(binding system and csr_sha256)",
    )


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
    notify: bool = Field(
        default=True,
        description="tell every gateway of the run to forget its cached OCSP answer for the "
                    "certificate at once (false: they learn it when their cached answer expires)",
    )
    proof: Proof | None = PROOF_FIELD


class ReissueRequest(BaseModel):
    password: str | None = None
    proof: Proof | None = PROOF_FIELD


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
