"""What the registries answer."""

from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path
from typing import Any

import yaml

from gateway_protocol.errors import ErrorCode
from gateway_protocol.provider import Incoming, ProviderError
from registries.models import PersonRecord, PowerOfAttorneyRecord
from simulation.calendar import to_local
from simulation.identifiers import IdentifierError, validate_iin
from simulation.runtime import SystemRuntime

FIXTURES = Path(__file__).with_name("fixtures.yaml")
RESULT_OK = {"code": "00000", "message": "Сообщение успешно обработано"}


def _iin(data: Any, field: str) -> str:
    value = data.get(field) if isinstance(data, dict) else None
    if not isinstance(value, str):
        raise ProviderError(ErrorCode.PROVIDER_REQUEST_INVALID, f"{field}: a 12-digit ЖСН is required")
    try:
        return validate_iin(value, field)
    except IdentifierError as exc:
        raise ProviderError(
            ErrorCode.PROVIDER_REQUEST_INVALID,
            str(exc),
            data={"field": field, "rule": exc.code, "message_kk": exc.message_kk},
        ) from None


async def load_fixtures(runtime: SystemRuntime, path: Path = FIXTURES) -> None:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    async with runtime.db.session() as session:
        for person in data.get("persons", []):
            iin = validate_iin(str(person["iin"]), "persons[].iin")
            await session.merge(PersonRecord(iin=iin, document=json.dumps(person, ensure_ascii=False)))
        for poa in data.get("powers_of_attorney", []):
            await session.merge(
                PowerOfAttorneyRecord(
                    number=poa["number"],
                    principal_iin=validate_iin(str(poa["principalIin"]), "principalIin"),
                    attorney_iin=validate_iin(str(poa["attorneyIin"]), "attorneyIin"),
                    document=json.dumps(poa, ensure_ascii=False, default=str),
                )
            )
        await session.commit()


class Registries:
    def __init__(self, runtime: SystemRuntime) -> None:
        self.runtime = runtime

    async def person(self, request: Incoming) -> dict[str, Any]:
        """ЖТ МДҚ: the person with the given ЖСН."""
        iin = _iin(request.data, "iin")
        async with self.runtime.db.session() as session:
            record = await session.get(PersonRecord, iin)
        if record is None:
            raise ProviderError(
                ErrorCode.PROVIDER_NOT_FOUND, f"no person with ЖСН {iin} in ЖТ МДҚ",
                data={"registry": "ЖТ МДҚ", "iin": iin},
            )
        return {"result": RESULT_OK, "person": json.loads(record.document)}

    async def power_of_attorney(self, request: Incoming) -> dict[str, Any]:
        """БНАЖ: is this power of attorney valid for this service today?"""
        data = request.data if isinstance(request.data, dict) else {}
        number = data.get("number")
        if not isinstance(number, str) or not number:
            raise ProviderError(ErrorCode.PROVIDER_REQUEST_INVALID, "number: required")
        principal = _iin(data, "principalIin")
        attorney = _iin(data, "attorneyIin")
        service = data.get("serviceId")
        async with self.runtime.db.session() as session:
            record = await session.get(PowerOfAttorneyRecord, number)
        today = to_local(await self.runtime.now()).date()
        status = _poa_status(record, principal, attorney, service, today)
        answer: dict[str, Any] = {"result": RESULT_OK, "number": number, "status": status}
        if record is not None and status != "not_found":
            answer["powerOfAttorney"] = json.loads(record.document)
        return answer


def _poa_status(
    record: PowerOfAttorneyRecord | None, principal: str, attorney: str, service: Any, today: date
) -> str:
    if record is None or record.principal_iin != principal or record.attorney_iin != attorney:
        return "not_found"
    doc = json.loads(record.document)
    if doc.get("revoked"):
        return "revoked"
    valid_from = datetime.fromisoformat(str(doc["validFrom"])).date()
    valid_to = datetime.fromisoformat(str(doc["validTo"])).date()
    if not valid_from <= today <= valid_to:
        return "expired"
    if service and service not in doc.get("scope", []):
        return "out_of_scope"
    return "valid"
