"""The request data of ``ESOBES_HousingAidApplication`` (the rules within one field; the rules
between fields are :func:`e_sobes.service.cross_check`)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from runtime.registration import Iin

Month = Annotated[str, Field(pattern=r"^(19|20)[0-9]{2}-(0[1-9]|1[0-2])$", description="YYYY-MM")]
Tenge = Annotated[float, Field(strict=True, ge=0, le=1e10, description="tenge")]


class _Data(BaseModel):
    model_config = ConfigDict(extra="forbid", alias_generator=to_camel)


class Period(_Data):
    first: Month = Field(alias="from")
    last: Month = Field(alias="to")


class FamilyMember(_Data):
    iin: Iin
    relation: Literal["spouse", "child", "dependant"]


class Income(_Data):
    iin: Iin
    kind: Literal["social-payments", "business-and-other-activities", "alimony"]
    month: Month
    amount: Tenge


class HousingCost(_Data):
    kind: Literal["maintenance", "heating", "hot-water", "cold-water", "gas"]
    month: Month
    amount: Tenge
    quantity: float | None = Field(default=None, strict=True, gt=0, le=1e6)


class Housing(_Data):
    area: float = Field(strict=True, gt=0, le=10_000, description="floor area, m²")
    costs: list[HousingCost] = Field(min_length=1, max_length=1000)


class HousingAidRequest(_Data):
    """The request data of ``ESOBES_HousingAidApplication``."""

    application_id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]*$")
    applicant_iin: Iin
    period: Period
    family_members: list[FamilyMember] = Field(default_factory=list, max_length=50)
    incomes: list[Income] = Field(default_factory=list, max_length=1000)
    housing: Housing
    document: dict[str, Any] | None = None
    signature: str | None = Field(default=None, min_length=1)
