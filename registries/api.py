"""The registries' routes: every registry under its serviceIds (only from the gateway), what a
tester reads about personal data -- who accessed whose, and the population loaded: the auditor's
or the administrator's (:data:`AUDIT`) -- and the records a tester gives them (the
administrator's, :data:`ADMIN`)."""

from __future__ import annotations

from typing import Any

import asyncio

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse
from sqlmodel import select

from gateway_protocol.provider import provider_router
from registries.loader import give_records
from registries.models import AccessRecord, PopulationMeta
from registries.records import Records, RecordsRefused, check_records
from registries.service import Registries
from runtime import Runtime, SystemRuntime
from simulation import jsoncodec
from simulation.access import ADMIN, AUDIT
from simulation.calendar import to_local
from simulation.clock import from_us

audit = APIRouter(prefix="/api", tags=["personal data"], dependencies=[AUDIT])


@audit.get("/access-log", summary="Who accessed whose personal data, why and when")
async def access_log(
    runtime: Runtime, iin: str | None = Query(default=None, description="the person whose data"),
    limit: int = Query(default=100, ge=1, le=10_000),
) -> list[dict[str, Any]]:
    query = select(AccessRecord).order_by(AccessRecord.id.desc())  # type: ignore[union-attr]
    if iin:
        query = query.where(AccessRecord.subject_iin == iin)
    async with runtime.db.session() as session:
        rows = (await session.exec(query.limit(limit))).all()
    return [
        {"registry": r.registry_name, "serviceId": r.service_id, "requester": r.requester, "hop": r.hop, "purpose": r.purpose,
         "consentRef": r.consent_ref, "correlationId": r.correlation_id, "iin": r.subject_iin,
         "at": to_local(from_us(r.at_us)).isoformat(), "outcome": r.outcome}
        for r in rows
    ]


@audit.get("/population", summary="The synthetic population loaded")
async def population(runtime: Runtime) -> dict[str, Any]:
    async with runtime.db.session() as session:
        meta = await session.get(PopulationMeta, 1)
    return {"seed": meta.seed, "size": meta.size, "persons": meta.persons} if meta else {"size": 0}


def _refused(status: int, error: str, texts: tuple[str, str, str], problems: list[dict[str, Any]]) -> JSONResponse:
    en, kk, ru = texts
    return JSONResponse({"error": error, "message": en, "message_kk": kk, "message_ru": ru, "fields": problems},
                        status_code=status)


RECORDS_REFUSED = (
    "The records are not taken: {problems}",
    "Жазбалар қабылданбады: тізілім жазбасы немесе өрісі дұрыс емес",
    "Записи не приняты: неверна запись или поле реестра",
)


def records_router(registries: Registries) -> APIRouter:
    admin = APIRouter(prefix="/api/admin", tags=["administration"], dependencies=[ADMIN])

    @admin.put(
        "/records", summary="Give the registries records: add, or replace by ЖСН / number",
        openapi_extra={"requestBody": {"required": True, "content": {
            "application/json": {"schema": _inlined(Records.model_json_schema())}}}},
        responses={422: {"description": "a record or field breaks a rule: each problem names the record "
                                        "(section[index], its ЖСН or number) and the field; nothing is taken"}},
    )
    async def give(request: Request) -> Any:
        """Persons (ЖТ МДҚ, families through ``familyRelations``), powers of attorney (БНАЖ),
        address histories, real-estate rights, incomes with the unemployed registration, communal
        tenancies: the sections and field names of the registries' fixture file. A record whose
        key (ЖСН; a power of attorney's number) the registry has replaces the record there was.
        All or nothing: one bad record and none is taken."""
        try:
            data = jsoncodec.loads(await request.body())
        except ValueError as exc:
            return _refused(422, "invalid_request", (f"The body is not JSON: {exc}", "Сұрау JSON емес",
                                                     "Запрос не является JSON"), [{"field": "body", "problem": str(exc)}])
        try:
            records = check_records(data)
        except RecordsRefused as refused:
            en, kk, ru = RECORDS_REFUSED
            return _refused(422, "records_invalid", (en.format(problems="; ".join(map(str, refused.problems))), kk, ru),
                            [p.as_dict() for p in refused.problems])
        try:  # what arrives while the population loads is given over it, not under it
            await asyncio.wait_for(registries.loaded.wait(), timeout=600)
        except TimeoutError:
            pass
        if registries.load_error or not registries.loaded.is_set():
            return _refused(503, "registries_not_loaded", (
                f"The registries have not loaded their data: {registries.load_error or 'still loading'}",
                "Тізілімдер деректерін жүктемеді", "Реестры не загрузили свои данные"), [])
        return {"taken": await give_records(registries.runtime.db, records)}

    return admin


def _inlined(schema: dict[str, Any]) -> dict[str, Any]:
    """A JSON schema with its ``$defs`` put in place of their references (an endpoint's OpenAPI
    request body has no ``$defs`` of its own to refer to)."""
    defs = schema.pop("$defs", {})

    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            if "$ref" in node:
                return walk(defs[node["$ref"].rsplit("/", 1)[-1]])
            return {key: walk(value) for key, value in node.items()}
        if isinstance(node, list):
            return [walk(item) for item in node]
        return node

    return walk(schema)


def build_routers(runtime: SystemRuntime, registries: Registries) -> list[APIRouter]:
    return [
        provider_router(
            lambda: runtime,
            {
                "GBDFL_UniversalServiceSync": registries.person,
                "ENIS_PowerOfAttorneyCheck": registries.power_of_attorney,
                "AR_AddressRegistrationHistory": registries.addresses,
                "GBDRN_RealEstateRights": registries.real_estate,
                "GCVP_IncomesAndStatus": registries.incomes,
                "KZHF_CommunalTenancy": registries.tenancy,
                "CONSENT_Record": registries.record_consent,
            },
            accept_from={"gateway"},
        ),
        audit,
        records_router(registries),
    ]
