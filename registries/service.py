"""What the registries answer, each under its serviceIds, only through the gateway.

Every answer uses the real system's field names and coded values ``{code, nameKz, nameRu}``. A
person the registry does not know is ``Provider.NotFound`` -- never confused with the registry
being unreachable (``Server.ProviderUnavailable``, said by the gateway). Every access to personal
data is logged: who asked (the sending system its verified signature names, and the gateway whose
signed hop brought the request), why (the serviceId as the declared purpose, and the
citizen's consent reference where the law wants one), about whom, when, with what outcome.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import json
import uuid
from datetime import date, timedelta
from typing import Any

from gateway_protocol.errors import ErrorCode
from gateway_protocol.provider import Incoming, ProviderError
from sqlalchemy import bindparam, insert, select

from registries.models import (
    AccessRecord,
    AddressHistory,
    ConsentRecord,
    AddressOccupant,
    IncomeRecord,
    PersonRecord,
    PowerOfAttorneyRecord,
    RealEstateRights,
    Tenancy,
)
from signatures.jws import canonical_json
from simulation.calendar import to_local
from simulation.clock import from_us, to_us
from simulation.identifiers import IdentifierError, validate_iin
from runtime import SystemRuntime

RESULT_OK = {"code": "00000", "message": "Сообщение успешно обработано"}

SERVICES = {
    "GBDFL_UniversalServiceSync": "ЖТ МДҚ",
    "ENIS_PowerOfAttorneyCheck": "БНАЖ",
    "AR_AddressRegistrationHistory": "Адрестік тіркелім",
    "GBDRN_RealEstateRights": "Жылжымайтын мүлік құқықтарының тізілімі",
    "GCVP_IncomesAndStatus": "Табыстар және жұмыссыз мәртебесі",
    "KZHF_CommunalTenancy": "Коммуналдық тұрғын үй қоры",
    "CONSENT_Record": "Дербес деректерге қол жеткізуге келісімдер",
}
CONSENT_REQUIRED = {"GBDRN_RealEstateRights", "GCVP_IncomesAndStatus"}
"""Services that give out property and incomes: the citizen's consent reference is required."""
CONSENT_PREFIX = "CNS-"
"""A recorded consent's reference (``CONSENT_Record``): checked against the record -- whom it
covers, which system it was granted to, which services, until when. A reference of another form
is taken as the requester declares it (logged as such): the reglaments before seed 004 do not
record their consents yet."""
CONSENT_DAYS = 365
"""How long a recorded consent lasts (the simulator's own: a year, the longest a housing-aid
assignment runs before it is applied for again)."""

# The statements of every lookup, built once: the path runs for every application (several
# lookups each, every one logged), and an ORM statement built at each call costs several times a
# prebuilt one (docs/performance.md, "Whole applications").
_DOCUMENT_OF = {
    table: select(table.__table__.c.document).where(table.__table__.c.iin == bindparam("of_iin"))
    for table in (PersonRecord, AddressHistory, RealEstateRights, IncomeRecord, Tenancy)
}
_CONSENTS = ConsentRecord.__table__
_CONSENT = select(_CONSENTS.c.covered, _CONSENTS.c.granted_to, _CONSENTS.c.services, _CONSENTS.c.valid_to_us).where(
    _CONSENTS.c.consent_ref == bindparam("of_reference"))
_OCCUPANTS = AddressOccupant.__table__
_OCCUPANTS_AT = (
    select(_OCCUPANTS.c.iin, _OCCUPANTS.c.begin_date).where(_OCCUPANTS.c.ar_code == bindparam("of_ar_code"))
    .order_by(_OCCUPANTS.c.begin_date, _OCCUPANTS.c.iin)
)
_ADD_ACCESS = insert(AccessRecord.__table__)
_ADD_CONSENT = insert(_CONSENTS)
_POWER_OF_ATTORNEY = select(PowerOfAttorneyRecord.__table__).where(
    PowerOfAttorneyRecord.__table__.c.number == bindparam("at_number"))


def _iin(data: Any, field: str) -> str:
    value = data.get(field) if isinstance(data, dict) else None
    if not isinstance(value, str):
        raise ProviderError(
            ErrorCode.PROVIDER_REQUEST_INVALID, f"{field}: a 12-digit ЖСН is required", data={"field": field}
        )
    try:
        return validate_iin(value, field)
    except IdentifierError as exc:
        raise ProviderError(
            ErrorCode.PROVIDER_REQUEST_INVALID, str(exc),
            data={"field": field, "rule": exc.code, "message_kk": exc.message_kk, "message_ru": exc.message_ru},
        ) from None


def _listed(value: Any) -> list[Any]:
    """A repeatable field as a list: None is none, a list itself, and one value (what a list of one
    reads as from XML) a list of it."""
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


class Registries:
    def __init__(self, runtime: SystemRuntime) -> None:
        self.runtime = runtime
        self.loaded = asyncio.Event()
        self.load_error: str | None = None
        self.filling: asyncio.Task[None] | None = None

    async def ready(self) -> None:
        """Wait until the population and fixtures are loaded (at start-up, a moment)."""
        if self.loaded.is_set() and not self.load_error:  # every lookup asks: no waiting task once loaded
            return
        try:
            await asyncio.wait_for(self.loaded.wait(), timeout=600)
        except TimeoutError:
            raise ProviderError(ErrorCode.GATEWAY_INTERNAL, "the registries are still loading their data") from None
        if self.load_error:
            raise ProviderError(ErrorCode.GATEWAY_INTERNAL, f"the registries could not load their data: {self.load_error}")

    # ---- the guard every lookup passes -----------------------------------------------------

    async def _lookup(self, request: Incoming, table, field: str = "iin") -> tuple[str, dict[str, Any] | None]:
        await self.ready()
        data = request.data if isinstance(request.data, dict) else {}
        service = request.info.serviceId
        consent = data.get("consentRef")
        subject: str | None = None
        try:
            subject = _iin(data, field)
            if service in CONSENT_REQUIRED and not (isinstance(consent, str) and consent.strip()):
                raise ProviderError(
                    ErrorCode.PROVIDER_CONSENT_REQUIRED,
                    f"{SERVICES[service]}: the citizen's consent reference (consentRef) is required",
                    data={"field": "consentRef"},
                )
            if service in CONSENT_REQUIRED and str(consent).startswith(CONSENT_PREFIX):
                await self._recorded_consent_covers(str(consent), subject, request)
            query = _DOCUMENT_OF[table]
            document = await self.runtime.db.run(
                lambda connection: connection.execute(query, {"of_iin": subject}).scalar(), write=False)
            await self._audit(request, subject, consent, "found" if document is not None else "not found")
            return subject, None if document is None else json.loads(document)
        except ProviderError as refusal:
            await self._audit(request, subject, consent, f"refused: {refusal.code}")
            raise

    async def _audit(self, request: Incoming, subject: str | None, consent: Any, outcome: str) -> None:
        info = request.info
        values = {
            "registry_name": SERVICES.get(info.serviceId, info.serviceId), "service_id": info.serviceId,
            "requester": request.signer.get("common_name") or info.sender.senderId, "hop": request.hop,
            "purpose": info.serviceId,
            "consent_ref": consent if isinstance(consent, str) else None,
            "correlation_id": info.correlationId, "subject_iin": subject,
            "at_us": to_us(await self.runtime.now()), "outcome": outcome,
        }
        await self.runtime.db.run(lambda connection: connection.execute(_ADD_ACCESS, values))

    async def _recorded_consent_covers(self, reference: str, subject: str, request: Incoming) -> None:
        """A recorded consent covers this request: the person, the requester, the service, today;
        ``Provider.ConsentRequired`` saying which does not hold otherwise."""
        record = await self.runtime.db.run(
            lambda connection: connection.execute(_CONSENT, {"of_reference": reference}).first(), write=False)
        service, requester = request.info.serviceId, request.info.sender.senderId
        problem = None
        if record is None:
            problem = f"no consent is recorded under {reference}"
        elif subject not in json.loads(record.covered):
            problem = f"consent {reference} does not cover ЖСН {subject}"
        elif record.granted_to != requester:
            problem = f"consent {reference} is not granted to {requester}"
        elif service not in json.loads(record.services):
            problem = f"consent {reference} does not cover {service}"
        elif to_us(await self.runtime.now()) > record.valid_to_us:
            problem = f"consent {reference} ended on {to_local(from_us(record.valid_to_us)).date().isoformat()}"
        if problem:
            raise ProviderError(ErrorCode.PROVIDER_CONSENT_REQUIRED, f"{SERVICES[service]}: {problem}",
                                data={"field": "consentRef", "consentRef": reference})

    async def record_consent(self, request: Incoming) -> dict[str, Any]:
        """``CONSENT_Record``: a citizen's consent to the use of their data protected by law, on the
        evidence of the signed request that states it (``document.form.consent: true``): signed by
        the citizen themselves (the portal) or by an employee of an organisation who took the
        consent on paper (the State Corporation's form). It covers the citizen and the family
        members the request declares (``coveredIins``), for ``services`` (of those that need a
        consent), granted to the system that records it. Its reference, and until when it lasts.

        Over SOAP (XML has no types, and a list of one reads as its one value): ``coveredIins``
        and ``services`` may come as one element each; ``document`` comes as its JSON text,
        since the evidence's signature covers its canonical JSON, which XML elements cannot
        give back (``form.consent`` would read as the text ``true``)."""
        await self.ready()
        data = request.data if isinstance(request.data, dict) else {}
        subject = _iin(data, "subjectIin")
        covered = [subject]
        for index, iin in enumerate(_listed(data.get("coveredIins"))):
            checked = _iin({"iin": iin}, "iin") if isinstance(iin, str) else _iin({}, f"coveredIins[{index}]")
            if checked not in covered:
                covered.append(checked)
        services = _listed(data.get("services"))
        if not services or not all(isinstance(s, str) for s in services) or not set(services) <= CONSENT_REQUIRED:
            raise ProviderError(ErrorCode.PROVIDER_REQUEST_INVALID,
                                f"services: a list of {', '.join(sorted(CONSENT_REQUIRED))}", data={"field": "services"})
        document, signature = data.get("document"), data.get("signature")
        if isinstance(document, str):  # its JSON text (over SOAP)
            try:
                document = json.loads(document)
            except ValueError:
                raise ProviderError(ErrorCode.PROVIDER_REQUEST_INVALID,
                                    "document: an object, or its JSON text (over SOAP); this text is not JSON",
                                    data={"field": "document"}) from None
        if not isinstance(document, dict) or not isinstance(signature, str):
            raise ProviderError(ErrorCode.PROVIDER_REQUEST_INVALID, "document and signature (the evidence) are required",
                                data={"field": "document"})
        if (document.get("form") or {}).get("consent") is not True or (document.get("applicant") or {}).get("iin") != subject:
            raise ProviderError(ErrorCode.PROVIDER_REQUEST_INVALID,
                                "document: the evidence is the subject's request stating the consent (form.consent: true)",
                                data={"field": "document.form.consent"})
        try:
            cms = base64.b64decode(signature, validate=True)
        except (binascii.Error, ValueError):
            raise ProviderError(ErrorCode.PROVIDER_REQUEST_INVALID, "signature: not base64", data={"field": "signature"}) from None
        now = await self.runtime.now()
        checked_signature = await self.runtime.validator.cms(cms, canonical_json(document), at=now, usage="sign")
        signer = checked_signature.verdict.signer or {}
        witnessed = signer.get("bin") if signer.get("iin") != subject else None
        if not checked_signature.valid or (signer.get("iin") != subject and not witnessed):
            raise ProviderError(ErrorCode.PROVIDER_REQUEST_INVALID,
                                f"signature: the evidence is signed neither by {subject} nor by an organisation's "
                                f"employee ({checked_signature.verdict.code})", data={"field": "signature"})
        record = ConsentRecord(
            consent_ref=f"{CONSENT_PREFIX}{to_local(now):%Y}-{uuid.uuid4().hex[:10].upper()}", subject_iin=subject,
            covered=json.dumps(covered), services=json.dumps(sorted(set(services))),
            granted_to=request.info.sender.senderId, purpose=str(data.get("purpose") or ""),
            evidence_sha256=hashlib.sha256(canonical_json(document)).hexdigest(), signer_iin=signer.get("iin"),
            witnessed_by=witnessed, given_us=to_us(now), valid_to_us=to_us(now + timedelta(days=CONSENT_DAYS)))
        values = record.model_dump()
        await self.runtime.db.run(lambda connection: connection.execute(_ADD_CONSENT, values))
        await self._audit(request, subject, record.consent_ref, "consent recorded")
        return {"result": RESULT_OK, "consentRef": record.consent_ref, "subjectIin": subject, "coveredIins": covered,
                "services": json.loads(record.services), "grantedTo": record.granted_to,
                "validTo": to_local(from_us(record.valid_to_us)).isoformat(), "witnessedBy": witnessed}

    @staticmethod
    def _not_found(service: str, iin: str) -> ProviderError:
        return ProviderError(
            ErrorCode.PROVIDER_NOT_FOUND, f"{SERVICES[service]}: no record for ЖСН {iin}",
            data={"registry": SERVICES[service], "iin": iin},
        )

    # ---- the registries --------------------------------------------------------------------

    async def person(self, request: Incoming) -> dict[str, Any]:
        """ЖТ МДҚ (ГБД ФЛ): the person with the given ЖСН."""
        iin, person = await self._lookup(request, PersonRecord)
        if person is None:
            raise self._not_found(request.info.serviceId, iin)
        return {"result": RESULT_OK, "person": person}

    async def addresses(self, request: Incoming) -> dict[str, Any]:
        """The address registry: registration history, how long at the current address, and who
        is registered at the current address now (``registeredPersons``: ЖСН and since when,
        the person asked about included) -- what an address certificate lists."""
        iin, history = await self._lookup(request, AddressHistory)
        if history is None:
            raise self._not_found(request.info.serviceId, iin)
        today = to_local(await self.runtime.now()).date()
        current = next((a for a in reversed(history["addresses"]) if not a.get("endDate")), None)
        days = (today - date.fromisoformat(current["beginDate"])).days if current else None
        registered: list[dict[str, Any]] = []
        if current and current.get("arCode"):
            ar_code = str(current["arCode"])
            rows = await self.runtime.db.run(
                lambda connection: connection.execute(_OCCUPANTS_AT, {"of_ar_code": ar_code}).all(), write=False)
            registered = [{"iin": row.iin, "beginDate": row.begin_date or None} for row in rows]
        return {"result": RESULT_OK, "iin": iin, "addresses": history["addresses"],
                "currentAddress": current, "daysAtCurrentAddress": days, "registeredPersons": registered}

    async def real_estate(self, request: Incoming) -> dict[str, Any]:
        """Dwellings owned in Kazakhstan, with acquisitions and alienations. An alienated right
        says how (``alienationReason``: sale, exchange, gift, division of the dwelling, buy-out by
        the local executive body of a mortgaged dwelling, demolition; a demolition also says whose
        fault, ``cause``); a dwelling declared unsafe carries the commission's act
        (``emergencyAct``: number, date, cause)."""
        iin, rights = await self._lookup(request, RealEstateRights)
        rights_list = (rights or {}).get("rights", [])
        return {"result": RESULT_OK, "iin": iin, "rights": rights_list,
                "owns": any(not r.get("alienationDate") for r in rights_list)}

    async def incomes(self, request: Incoming) -> dict[str, Any]:
        """Monthly incomes over the last twelve months by source, unemployed registration, and
        the social statuses on record (``statuses``: disabled child, disability group, orphan,
        child without parental care, Great Patriotic War participant or disabled veteran, with
        their dates)."""
        iin, record = await self._lookup(request, IncomeRecord)
        if record is None:
            return {"result": RESULT_OK, "iin": iin, "months": [], "unemployed": {"registered": False, "since": None},
                    "averageMonthly": 0.0, "statuses": []}
        months = record.get("months") or []
        total = sum(item["amount"] for month in months for item in month["items"])
        return {"result": RESULT_OK, "iin": iin, "months": months,
                "unemployed": record.get("unemployed") or {"registered": False, "since": None},
                "averageMonthly": round(total / max(1, len(months)), 2), "statuses": record.get("statuses") or []}

    async def tenancy(self, request: Incoming) -> dict[str, Any]:
        """The communal housing fund: the dwelling held in permanent use, if any, and tenancies
        that ended (``formerTenancies``, each with its ``endDate`` and ``terminationReason``)."""
        iin, record = await self._lookup(request, Tenancy)
        return {"result": RESULT_OK, "iin": iin, "tenancy": (record or {}).get("tenancy"),
                "formerTenancies": (record or {}).get("formerTenancies") or []}

    async def power_of_attorney(self, request: Incoming) -> dict[str, Any]:
        """БНАЖ: is this power of attorney valid for this service today? valid, expired, revoked,
        not_found or out_of_scope."""
        data = request.data if isinstance(request.data, dict) else {}
        number = data.get("number")
        if not isinstance(number, str) or not number.strip():
            raise ProviderError(ErrorCode.PROVIDER_REQUEST_INVALID, "number: required", data={"field": "number"})
        principal = _iin(data, "principalIin")
        attorney = _iin(data, "attorneyIin")
        service = data.get("serviceId")
        await self.ready()
        found = await self.runtime.db.run(
            lambda connection: connection.execute(_POWER_OF_ATTORNEY, {"at_number": number}).mappings().first(),
            write=False)
        record = None if found is None else PowerOfAttorneyRecord(**found)
        today = to_local(await self.runtime.now()).date()
        status = poa_status(record, principal, attorney, service, today)
        await self._audit(request, principal, data.get("consentRef"), status)
        answer: dict[str, Any] = {"result": RESULT_OK, "number": number, "status": status}
        if record is not None and status != "not_found":
            answer["powerOfAttorney"] = json.loads(record.document)
        return answer


def poa_status(record: PowerOfAttorneyRecord | None, principal: str, attorney: str, service: Any, today: date) -> str:
    if record is None or record.principal_iin != principal or record.attorney_iin != attorney:
        return "not_found"
    doc = json.loads(record.document)
    if doc.get("revoked"):
        return "revoked"
    if not date.fromisoformat(str(doc["validFrom"])[:10]) <= today <= date.fromisoformat(str(doc["validTo"])[:10]):
        return "expired"
    if service and service not in doc.get("scope", []):
        return "out_of_scope"
    return "valid"
