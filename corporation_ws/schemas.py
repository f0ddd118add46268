"""What the operator enters at the workstation for one applicant (the request body of
``POST /api/applications``)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field, field_validator

from simulation.identifiers import validate_iin


class Representative(BaseModel):
    iin: str
    power_of_attorney: str = Field(min_length=1, description="the notarised power of attorney's number")

    @field_validator("iin")
    @classmethod
    def _iin(cls, value: str) -> str:
        return validate_iin(value, "representative.iin")


class FrontRequest(BaseModel):
    """What the operator enters for one applicant at the front office."""

    reglament: str
    channel: str | None = Field(
        default=None,
        description="the reglament's channel taken at the front office; by default the one that starts here",
    )
    ticket: str
    applicant_iin: str
    representative: Representative | None = None
    presented_documents: list[str] = Field(description="codes of the documents the applicant brought")
    form: dict[str, Any] = Field(default_factory=dict, description="e.g. {\"queueList\": \"socially-vulnerable\"}")

    @field_validator("applicant_iin")
    @classmethod
    def _iin(cls, value: str) -> str:
        return validate_iin(value, "applicant_iin")
