"""Records a tester gives the registries (``PUT /api/admin/records``; a scenario's ``given``).

The sections and field names are those of ``registries/fixtures.yaml`` (:mod:`registries.loader`):
ЖТ МДҚ persons (families through ``familyRelations``), БНАЖ powers of attorney, the address
registry's histories, real-estate rights, incomes with the unemployed registration, communal
tenancies. A record keeps every field it is given; the fields the registries and the providers
read are checked: every ЖСН (check digit, century, birth date: :mod:`simulation.identifiers`),
dates in ISO form, amounts as numbers, and no key given twice in one request.
"""

from __future__ import annotations

import math
import re
from datetime import date, datetime
from typing import Annotated, Any

from pydantic import (
    AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, PlainValidator, StringConstraints, ValidationError,
    WithJsonSchema,
)

from simulation.identifiers import IdentifierError, validate_iin

MAX_RECORDS = 10_000
"""The most records one section of one request may carry."""

_PRINTABLE = r"^[^\x00-\x1f\x7f]*$"


def _as_text(value: Any) -> Any:
    """A YAML date (a scenario file's unquoted 2025-06-01) as its ISO text."""
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return value


def _iso_date(value: str) -> str:
    try:
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
            raise ValueError
        date.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{value[:40]!r} is not a date in ISO form (YYYY-MM-DD)") from None
    return value


def _iin(value: str) -> str:
    return validate_iin(value, "iin")


IsoDate = Annotated[str, BeforeValidator(_as_text), AfterValidator(_iso_date),
                    WithJsonSchema({"type": "string", "format": "date", "pattern": r"^\d{4}-\d{2}-\d{2}$"})]
"""A calendar date, YYYY-MM-DD."""
Iin = Annotated[str, AfterValidator(_iin), WithJsonSchema({"type": "string", "pattern": "^[0-9]{12}$"})]
"""A ЖСН: 12 digits, a valid check digit, century and birth date."""
Text = Annotated[str, StringConstraints(min_length=1, max_length=500, pattern=_PRINTABLE)]


def _amount(value: Any) -> int | float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
        raise ValueError(f"{value!r} is no amount: a finite number, 0 or more")
    return value


Amount = Annotated[int | float, PlainValidator(_amount), WithJsonSchema({"type": "number", "minimum": 0})]
"""A sum in tenge, 0 or more (kept as given: an integer stays one)."""


class _Record(BaseModel):
    """A registry record: the fields checked below, and any other the real system has, kept as given."""

    model_config = ConfigDict(extra="allow")


class Relation(_Record):
    iin: Iin
    type: dict[str, Any] | None = Field(default=None, description="{code, nameKz, nameRu}: 01 spouse, 02 child, ...")


class Person(_Record):
    """ЖТ МДҚ (ГБД ФЛ): a person, as ``GBDFL_UniversalServiceSync`` answers it."""

    iin: Iin
    surname: Text
    name: Text
    patronymic: Text | None = None
    birthDate: IsoDate
    familyRelations: list[Relation] = Field(default_factory=list, max_length=100)


class PowerOfAttorney(_Record):
    """БНАЖ (ЕНИС): a notarised power of attorney, by its number."""

    number: Text
    date: IsoDate
    principalIin: Iin
    attorneyIin: Iin
    validFrom: IsoDate
    validTo: IsoDate
    scope: list[Text] = Field(default_factory=list, max_length=1000, description="the serviceIds it is for")
    revoked: bool = False


class Registration(_Record):
    beginDate: IsoDate
    endDate: IsoDate | None = None
    arCode: Annotated[str, BeforeValidator(lambda v: str(v) if isinstance(v, int) else v),
                      StringConstraints(min_length=1, max_length=40, pattern=_PRINTABLE)] | None = None


class AddressHistory(_Record):
    """The address registry: a person's registrations, the current one (no ``endDate``) last."""

    iin: Iin
    addresses: list[Registration] = Field(max_length=1000)


class Right(_Record):
    cadastralNumber: Text
    acquisitionDate: IsoDate | None = None
    alienationDate: IsoDate | None = Field(default=None, description="none while the right is held")


class RealEstateRights(_Record):
    """The real-estate rights registry: dwellings a person owns or owned."""

    iin: Iin
    rights: list[Right] = Field(default_factory=list, max_length=1000)


class Unemployed(_Record):
    registered: bool = False
    since: IsoDate | None = None


class IncomeItem(_Record):
    amount: Amount
    source: dict[str, Any] | None = None


class IncomeMonth(_Record):
    period: Annotated[str, BeforeValidator(lambda v: v.strftime("%Y-%m") if isinstance(v, date) else v),
                      StringConstraints(pattern=r"^\d{4}-(0[1-9]|1[0-2])$")]
    items: list[IncomeItem] = Field(default_factory=list, max_length=100)


class Incomes(_Record):
    """Incomes by month and source, the unemployed registration, the social statuses."""

    iin: Iin
    unemployed: Unemployed = Field(default_factory=Unemployed)
    months: list[IncomeMonth] = Field(default_factory=list, max_length=1000)
    statuses: list[dict[str, Any]] = Field(default_factory=list, max_length=100)


class TenancyRecord(_Record):
    """The communal housing fund: the dwelling held in permanent use, if any, and those that ended."""

    iin: Iin
    tenancy: dict[str, Any] | None = None
    formerTenancies: list[dict[str, Any]] = Field(default_factory=list, max_length=100)


class Records(BaseModel):
    """Records for the registries, by section; each added or, when its key (ЖСН, or a power of
    attorney's number) is known, replacing the record there was."""

    model_config = ConfigDict(extra="forbid")
    persons: list[Person] = Field(default_factory=list, max_length=MAX_RECORDS)
    powers_of_attorney: list[PowerOfAttorney] = Field(default_factory=list, max_length=MAX_RECORDS)
    addresses: list[AddressHistory] = Field(default_factory=list, max_length=MAX_RECORDS)
    incomes: list[Incomes] = Field(default_factory=list, max_length=MAX_RECORDS)
    properties: list[RealEstateRights] = Field(default_factory=list, max_length=MAX_RECORDS)
    tenancies: list[TenancyRecord] = Field(default_factory=list, max_length=MAX_RECORDS)

    def documents(self) -> dict[str, list[dict[str, Any]]]:
        """Each section's records as the registries store them: the fields as given (nothing
        added), dates as their ISO text."""
        return {
            section: [record.model_dump(mode="json", exclude_unset=True) for record in getattr(self, section)]
            for section in type(self).model_fields
        }

    def count(self) -> int:
        return sum(len(getattr(self, section)) for section in type(self).model_fields)


class RecordProblem(ValueError):
    """One rule a given record breaks: which record (section and index, with its key when it
    has one), which field, what is wrong; for a ЖСН also the rule and the texts in Kazakh and Russian."""

    def __init__(self, record: str, field: str, problem: str, key: str | None = None,
                 rule: str | None = None, message_kk: str | None = None, message_ru: str | None = None) -> None:
        super().__init__(f"{record}{f' ({key})' if key else ''}.{field}: {problem}")
        self.record, self.field, self.problem, self.key = record, field, problem, key
        self.rule, self.message_kk, self.message_ru = rule, message_kk, message_ru

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"record": self.record, "field": self.field, "problem": self.problem}
        for name in ("key", "rule", "message_kk", "message_ru"):
            if getattr(self, name):
                out[name] = getattr(self, name)
        return out


class RecordsRefused(ValueError):
    """Records not taken, with every problem found (nothing of them is stored)."""

    def __init__(self, problems: list[RecordProblem]) -> None:
        super().__init__("; ".join(str(p) for p in problems))
        self.problems = problems


KEYS = {"powers_of_attorney": "number"}
"""The key of a section's records where it is not the ЖСН (``iin``)."""


def _key_of(data: Any, section: str, index: int) -> str | None:
    if not isinstance(data, dict):
        return None
    entries = data.get(section)
    if not isinstance(entries, list) or not 0 <= index < len(entries) or not isinstance(entries[index], dict):
        return None
    key = entries[index].get(KEYS.get(section, "iin"))
    if not isinstance(key, str) or not re.fullmatch(_PRINTABLE, key):
        return None
    return f"{KEYS.get(section, 'ЖСН')} {key[:40]}"


def _duplicates(data: Any) -> list[RecordProblem]:
    """Keys given twice in one section (which of the two would win is nobody's guess)."""
    problems = []
    for section in Records.model_fields if isinstance(data, dict) else ():
        entries = data.get(section)
        key_field = KEYS.get(section, "iin")
        seen: dict[str, int] = {}
        for index, entry in enumerate(entries if isinstance(entries, list) else []):
            key = entry.get(key_field) if isinstance(entry, dict) else None
            if not isinstance(key, str):
                continue
            if key in seen:
                problems.append(RecordProblem(
                    f"{section}[{index}]", key_field,
                    f"{key[:40]} is given twice in one request ({section}[{seen[key]}] as well)",
                    _key_of(data, section, index)))
            seen.setdefault(key, index)
    return problems


def check_records(data: Any) -> Records:
    """``data`` (a JSON object of sections) as :class:`Records`, or :class:`RecordsRefused`
    naming, for every problem, the record and the field."""
    duplicates = _duplicates(data)
    try:
        records = Records.model_validate(data)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            loc = list(error["loc"])
            if len(loc) >= 2 and isinstance(loc[1], int):
                section, index = str(loc[0]), loc[1]
                record, rest, key = f"{section}[{index}]", loc[2:], _key_of(data, section, index)
            else:
                record, rest, key = "body", loc, None
            field = ".".join(f"[{p}]" if isinstance(p, int) else str(p) for p in rest).replace(".[", "[") or record
            cause = (error.get("ctx") or {}).get("error")
            if isinstance(cause, IdentifierError):
                problems.append(RecordProblem(record, field, str(cause).split(": ", 1)[-1], key, cause.code,
                                              cause.message_kk, cause.message_ru))
            else:
                problems.append(RecordProblem(record, field, error["msg"].removeprefix("Value error, "), key))
        raise RecordsRefused(problems + duplicates) from None
    if duplicates:
        raise RecordsRefused(duplicates)
    return records
