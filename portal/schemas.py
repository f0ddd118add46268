"""What the portal takes and gives."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from simulation.identifiers import validate_iin


class Credentials(BaseModel):
    iin: str = Field(description="ЖСН, 12 digits")
    password: str = Field(min_length=1, max_length=200)
    reglament: str | None = Field(
        default=None, description="The service the citizen logs in for (its trace starts here)"
    )


class NewAccount(BaseModel):
    """Registration, proved with the citizen's AUTH ЭЦҚ as on egov.kz: the one-time challenge of
    ``POST /api/accounts/challenge`` signed with the AUTH key whose certificate names ``iin``."""

    iin: str
    password: str = Field(min_length=8, max_length=200)
    challenge: str = Field(min_length=1, max_length=200,
                           description="the `challenge` of POST /api/accounts/challenge, unused and not expired")
    signature: str = Field(
        min_length=1,
        description=(
            "Base64 of a CMS signature (DER) over the challenge's UTF-8 bytes (the challenge's "
            "`dataToSign`, decoded), made with the citizen's AUTH key (NCALayer, format cms)"
        ),
    )

    @field_validator("iin")
    @classmethod
    def _iin(cls, value: str) -> str:
        return validate_iin(value, "iin")


class Applicant(BaseModel):
    model_config = ConfigDict(extra="allow")
    iin: str

    @field_validator("iin")
    @classmethod
    def _iin(cls, value: str) -> str:
        return validate_iin(value, "document.applicant.iin")


class Attachment(BaseModel):
    code: str = Field(min_length=1)
    name: str = Field(min_length=1)
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")


class RequestForm(BaseModel):
    model_config = ConfigDict(extra="allow")
    queueList: str | None = Field(default=None, min_length=1,
                                  description="the queue list, for a service that keeps lists")


class RequestDocument(BaseModel):
    """The request the citizen fills in and signs with an ЭЦҚ (the reglament's request step)."""

    model_config = ConfigDict(extra="forbid")
    reglament: str
    applicant: Applicant
    form: RequestForm
    attachments: list[Attachment] = Field(default_factory=list)
    createdAt: datetime | None = None


class SignedApplication(BaseModel):
    document: RequestDocument
    signature: str = Field(
        min_length=1,
        description=(
            "Base64 of a detached CMS signature (DER) over the RFC 8785 canonical JSON of "
            "`document`, made with the applicant's SIGN key (NCALayer, format cms)"
        ),
    )


class FormAttachment(BaseModel):
    """A file attached to the form: its hash, or its content for the portal to hash."""

    model_config = ConfigDict(extra="forbid")
    code: str = Field(min_length=1, description="one of the form's requiredDocuments[].code")
    name: str = Field(min_length=1, description="the file's name")
    sha256: str | None = Field(default=None, pattern=r"^[0-9a-f]{64}$", description="hex SHA-256 of the file")
    content: str | None = Field(default=None, description="base64 of the file; the portal hashes it")

    @model_validator(mode="after")
    def _one_of(self) -> "FormAttachment":
        if (self.sha256 is None) == (self.content is None):
            raise ValueError("give either sha256 (hex) or content (base64) of the file, not both or neither")
        return self


class FilledForm(BaseModel):
    """The request form as the citizen fills it in on the portal page, before signing."""

    model_config = ConfigDict(extra="forbid")
    applicant: Applicant | None = Field(default=None, description="default: the logged-in citizen")
    form: RequestForm
    attachments: list[FormAttachment] = Field(default_factory=list)


class CabinetSignature(BaseModel):
    """The citizen's signature on a document the cabinet asks them to sign (``toSign``)."""

    signature: str = Field(min_length=1, description="Base64 of a detached CMS (DER) over the RFC 8785 canonical "
                                                     "JSON of toSign.document, made with the citizen's SIGN key")


class CabinetPayment(BaseModel):
    """A payment of the sum a signed contract asks for."""

    amount: float = Field(gt=0, description="tenge: the contract's price")
