"""``ESOBES_HousingAidApplication``: a housing-aid application received by "Е-собес".

The request data (field names as the answer gives them back):

- ``applicationId`` -- the application (1-64 letters, digits, ``.``, ``_``, ``:``, ``-``);
- ``applicantIin`` -- the applicant's ЖСН, check digit and all;
- ``period`` -- ``{"from": "YYYY-MM", "to": "YYYY-MM"}``, the months the aid is asked for;
- ``familyMembers`` -- the applicant's family besides the applicant: ``{iin, relation}`` with
  ``relation`` one of ``spouse``, ``child``, ``dependant`` (the seed's item 11 speaks of
  "балаларға және асырауындағы басқа да адамдарға": children and other dependants);
- ``incomes`` -- ``{iin, kind, month, amount}`` of the applicant or a listed member, ``kind`` as
  the seed's item 11 lists the family's incomes: ``social-payments``,
  ``business-and-other-activities`` (wages included), ``alimony``; ``amount`` in tenge;
- ``housing`` -- ``{area, costs}``: the dwelling's floor area in m², and the housing costs
  ``{kind, month, amount, quantity}`` the aid is reckoned from (REFERENCE: housing costs within the
  norms): ``maintenance`` (no quantity: the area is the measure), ``heating`` (quantity in Gcal),
  ``hot-water``, ``cold-water``, ``gas`` (quantity in m³); ``amount`` in tenge;
- ``document`` and ``signature`` -- when the portal carries it, the applicant's request as signed
  with their ЭЦҚ: the document and a detached CMS (base64 of DER) over its RFC 8785 canonical JSON.
  The signature must verify, be the applicant's (the certificate's ЖСН is ``applicantIin``) and
  its certificate be valid and not revoked.

Months of incomes and costs cannot lie after the month of receipt. The answer:
``registrationNumber`` (``ESB-<year>-<NNNNNN>``), ``receivedAt`` (the run's virtual time),
``status`` RECEIVED with its text in Kazakh, Russian and English, ``alreadyRegistered`` and a
``message``, and ``received``: what was received, summed up. The same application sent again (the
same data) gets its registration back with ``alreadyRegistered: true``; with other data it is
refused (``Provider.Refused``).
"""

from __future__ import annotations

import base64
import binascii
import json
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, bindparam, insert, select, update

from e_sobes.aid import CONSENT_SERVICES, HousingAid, explanation, params_of
from e_sobes.models import AidCase, HousingAidApplication, YearCounter
from e_sobes.operations import OPERATIONS
from e_sobes.schemas import HousingAidRequest
from e_sobes.texts import HOUSING_COSTS, INCOME_KINDS, RECEIVED, RELATIONS, already_received, received
from gateway_protocol.errors import ErrorCode
from gateway_protocol.provider import Incoming, ProviderError
from reglaments import Reglament, ReglamentError, all_reglaments, get_reglament
from runtime import SystemRuntime
from runtime.registration import Registered, Registrar, parse_data, refusal
from signatures.certificates import Role
from signatures.client import obtain_person_identity, renewed_key_storage
from signatures.jws import canonical_json
from signatures.ncalayer import BASICS, SIGN_EKU, NCALayer, person_key_storage
from simulation.calendar import term_end, to_local
from simulation.clock import from_us, to_us
from simulation.engine import EngineError
from simulation.topology import regional_gateway

SERVICE_ID = "ESOBES_HousingAidApplication"
STATUS_SERVICE_ID = "ESOBES_ApplicationStatus"
PREFIX = "ESB"
SYSTEM = "e_sobes"

# A case's update, built once: every application's case is
# updated at each of its steps, and an ORM read, change and flush costs several times a prebuilt
# UPDATE (docs/performance.md, "Whole applications").
_CASES = AidCase.__table__
_UPDATE_CASE = update(_CASES).where(_CASES.c.application_id == bindparam("at_application")).returning(
    *_CASES.columns)
"""A case's UPDATE, returning the row: its SET names the columns given at execution (SQLAlchemy
compiles it once for each set of them)."""
_CASE = select(_CASES).where(_CASES.c.application_id == bindparam("at_application"))
_CASE_NUMBERED = select(_CASES).where(_CASES.c.registration_number == bindparam("at_number"))
_ADD_CASE = insert(_CASES)
_APPLICATIONS = HousingAidApplication.__table__  # type: ignore[attr-defined]
_SET_STATUS = update(_APPLICATIONS).where(_APPLICATIONS.c.application_id == bindparam("at_application")).values(
    status=bindparam("new_status"))


def provided_reglaments() -> list[Reglament]:
    """The reglaments whose provider "Е-собес" is (``provider.system: e_sobes``)."""
    return [r for r in all_reglaments().values() if r.provider.system == SYSTEM]


STATUS_TEXT = {
    "registered": {"kk": "Қабылданды, қаралуда", "ru": "Принято, на рассмотрении", "en": "Received, under review"},
    "decided": {"kk": "Шешім қабылданды, хабарлама дайындалуда", "ru": "Решение принято, уведомление готовится",
                "en": "Decided, the notification is being prepared"},
    "signed": {"kk": "Хабарламаға қол қойылды", "ru": "Уведомление подписано", "en": "The notification is signed"},
    "dispatched": {"kk": "Нәтиже жолданды", "ru": "Результат направлен", "en": "The result is sent"},
}


def _problem(field: str, rule: str, en: str, kk: str, ru: str) -> dict[str, str]:
    return {"field": field, "rule": rule, "message": en, "message_kk": kk, "message_ru": ru}


def cross_check(data: HousingAidRequest, received_month: str) -> list[dict[str, str]]:
    """The rules between fields, each broken one with its field."""
    problems = []
    if data.period.first > data.period.last:
        problems.append(_problem(
            "period.to", "period_order", f"the period ends ({data.period.last}) before it begins ({data.period.first})",
            "кезеңнің соңы басынан бұрын", "конец периода раньше его начала",
        ))
    family = {data.applicant_iin}
    for n, member in enumerate(data.family_members):
        if member.iin == data.applicant_iin:
            problems.append(_problem(
                f"familyMembers[{n}].iin", "applicant_listed_as_member",
                "the applicant is not listed among the other family members",
                "өтініш беруші отбасының басқа мүшелерінің қатарында көрсетілмейді",
                "заявитель не указывается среди других членов семьи",
            ))
        elif member.iin in family:
            problems.append(_problem(
                f"familyMembers[{n}].iin", "duplicate_member", f"{member.iin} is listed twice",
                "отбасы мүшесі екі рет көрсетілген", "член семьи указан дважды",
            ))
        family.add(member.iin)
    incomes = Counter((i.iin, i.kind, i.month) for i in data.incomes)
    for n, income in enumerate(data.incomes):
        if income.iin not in family:
            problems.append(_problem(
                f"incomes[{n}].iin", "not_a_family_member",
                f"{income.iin} is neither the applicant nor a listed family member",
                "ЖСН өтініш берушіге де, отбасы мүшелеріне де жатпайды",
                "ИИН не принадлежит ни заявителю, ни членам семьи",
            ))
        if incomes[(income.iin, income.kind, income.month)] > 1:
            problems.append(_problem(
                f"incomes[{n}]", "duplicate_income", f"{income.kind} of {income.iin} for {income.month} is given twice",
                "бір айдағы бір табыс екі рет көрсетілген", "один и тот же доход за месяц указан дважды",
            ))
        if income.month > received_month:
            problems.append(_future(f"incomes[{n}].month", income.month, received_month))
    costs = Counter((c.kind, c.month) for c in data.housing.costs)
    for n, cost in enumerate(data.housing.costs):
        unit = HOUSING_COSTS[cost.kind]["unit"]
        if unit and cost.quantity is None:
            problems.append(_problem(
                f"housing.costs[{n}].quantity", "quantity_required", f"{cost.kind} needs its quantity in {unit}",
                "тұтыну көлемі көрсетілуі тиіс", "должен быть указан объём потребления",
            ))
        if not unit and cost.quantity is not None:
            problems.append(_problem(
                f"housing.costs[{n}].quantity", "quantity_not_applicable",
                f"{cost.kind} has no quantity: the floor area (housing.area) is its measure",
                "бұл шығынның көлемі жоқ: өлшемі – тұрғын үйдің ауданы",
                "у этого расхода нет объёма: его мера – площадь жилища",
            ))
        if costs[(cost.kind, cost.month)] > 1:
            problems.append(_problem(
                f"housing.costs[{n}]", "duplicate_cost", f"{cost.kind} for {cost.month} is given twice",
                "бір айдағы бір шығын екі рет көрсетілген", "один и тот же расход за месяц указан дважды",
            ))
        if cost.month > received_month:
            problems.append(_future(f"housing.costs[{n}].month", cost.month, received_month))
    if (data.document is None) != (data.signature is None):
        missing = "signature" if data.signature is None else "document"
        problems.append(_problem(
            missing, "signed_document_incomplete", "the signed document comes with its signature, or neither comes",
            "қол қойылған құжат қолтаңбасымен бірге беріледі", "подписанный документ передаётся вместе с подписью",
        ))
    return problems


def _future(field: str, month: str, received_month: str) -> dict[str, str]:
    return _problem(
        field, "month_after_receipt", f"{month} is after the month of receipt {received_month}",
        "ай өтініш қабылданған айдан кейін", "месяц позже месяца приёма заявления",
    )


def coded(code: str, names: dict[str, Any]) -> dict[str, Any]:
    return {"code": code, **{k: v for k, v in names.items() if k != "unit"}}


def summary(request: dict[str, Any], signer: dict[str, Any] | None) -> dict[str, Any]:
    """What was received, summed up."""
    housing = request["housing"]
    return {
        "applicationId": request["applicationId"],
        "applicantIin": request["applicantIin"],
        "period": request["period"],
        "familySize": 1 + len(request.get("familyMembers", [])),
        "familyMembers": [
            {"iin": m["iin"], "relation": coded(m["relation"], RELATIONS[m["relation"]])}
            for m in request.get("familyMembers", [])
        ],
        "incomes": {
            kind: round(sum(i["amount"] for i in request.get("incomes", []) if i["kind"] == kind), 2)
            for kind in INCOME_KINDS
        },
        "housingArea": housing["area"],
        "housingCosts": {
            kind: round(sum(c["amount"] for c in housing["costs"] if c["kind"] == kind), 2)
            for kind in HOUSING_COSTS
        },
        "signedDocument": signer,
    }


def registration_view(row: dict[str, Any]) -> dict[str, Any]:
    """A received application as testers see it: its registration and the data as received."""
    registered = Registered(row, created=False)
    request = registered.request
    if row["signature"] is not None:
        request["signature"] = row["signature"]
    signer = json.loads(row["signer"]) if row["signer"] else None
    return {
        "registrationNumber": registered.number,
        "receivedAt": registered.at.isoformat(),
        "status": row["status"],
        "statusText": RECEIVED,
        "received": summary(request, signer),
        "sentBy": row["sender_id"],
        "correlationId": row["correlation_id"],
        "request": request,
    }


class ESobes:
    def __init__(self, runtime: SystemRuntime) -> None:
        self.runtime = runtime
        self.registrar = Registrar(
            runtime.db,
            registrations=HousingAidApplication.__table__,  # type: ignore[attr-defined]
            counters=YearCounter.__table__,  # type: ignore[attr-defined]
            prefix=PREFIX,
        )
        self.engine = runtime.engine(OPERATIONS, self)
        self._heads: dict[str, tuple[NCALayer, Path | None]] = {}
        for reglament in provided_reglaments():  # a rule set's settings it cannot use stop the start
            try:
                params_of(reglament.decision)
            except ValueError as exc:
                raise ReglamentError(f"{reglament.path or reglament.id}: {exc}") from None

    async def receive(self, request: Incoming) -> dict[str, Any]:
        if isinstance(request.data, dict) and "reglament" in request.data:
            return await self.register_reglament_request(request)
        data = parse_data(HousingAidRequest, request.data)
        now = await self.runtime.now()
        problems = cross_check(data, f"{to_local(now):%Y-%m}")
        if problems:
            raise refusal(problems)
        stored = data.model_dump(mode="json", by_alias=True, exclude_none=True)
        signature = stored.pop("signature", None)
        signer = None
        if await self.registrar.find(application_id=data.application_id) is None and signature is not None:
            signer = await self._signer(data.document or {}, signature, data.applicant_iin, now)
        registered = await self.registrar.register(
            data.application_id,
            stored,
            now,
            {
                "applicant_iin": data.applicant_iin,
                "period_from": data.period.first,
                "period_to": data.period.last,
                "status": "RECEIVED",
                "sender_id": request.info.sender.senderId,
                "correlation_id": request.info.correlationId or request.info.messageId,
                "signature": signature,
                "signer": json.dumps(signer, ensure_ascii=False) if signer else None,
            },
        )
        view = registration_view(registered.row)
        number, day = registered.number, f"{registered.at:%d.%m.%Y %H:%M}"
        message = received(number) if registered.created else already_received(number, day)
        return {
            "registrationNumber": number,
            "receivedAt": view["receivedAt"],
            "status": view["status"],
            "statusText": RECEIVED,
            "alreadyRegistered": not registered.created,
            "message": message,
            "received": view["received"],
        }

    async def _signer(self, document: dict[str, Any], signature: str, iin: str, at) -> dict[str, Any]:
        """Who signed the document: it must be the applicant, with a valid signing certificate."""
        try:
            cms = base64.b64decode(signature, validate=True)
        except (binascii.Error, ValueError):
            raise refusal([_problem(
                "signature", "signature_not_base64", "the signature is not base64 of a DER-encoded CMS",
                "қолтаңба base64 пішімінде емес", "подпись не в формате base64",
            )]) from None
        checked = await self.runtime.validator.cms(cms, canonical_json(document), at=at, usage="sign", iin=iin)
        verdict = checked.verdict
        if not checked.valid:
            raise ProviderError(
                ErrorCode.PROVIDER_REQUEST_INVALID,
                f"signature: {verdict.message} (signature_not_valid)",
                data={
                    "field": "signature", "rule": "signature_not_valid", "verdict": str(verdict.code),
                    "fields": [_problem("signature", "signature_not_valid", verdict.message,
                                        verdict.message_kk, verdict.message_ru)],
                },
            )
        signer = verdict.signer or {}
        return {
            "iin": signer.get("iin"),
            "commonName": signer.get("common_name"),
            "certificateSerial": signer.get("serial_hex"),
            "verdict": str(verdict.code),
        }


    # ---- the provider of a reglament ----------------------------------------------------------

    async def start(self) -> None:
        """Each provided reglament's authorised person takes their SIGN key: the storage the CA
        seeded (signatures/people.yaml), else one it issues now."""
        data_dir = self.runtime.settings.data_dir
        for reglament in provided_reglaments():
            head, organisation = reglament.provider.head, reglament.provider.organisation
            if head.iin in self._heads:
                continue
            layer = NCALayer(self.runtime.now)
            seeded = person_key_storage(data_dir, head.iin, "sign")
            if seeded is None:
                identity = await obtain_person_identity(
                    self.runtime.http, self.runtime.url_of("signatures"),
                    {**head.model_dump(), "organisation": organisation.name, "bin": organisation.bin,
                     "roles": [Role.FIRST_HEAD.value], "usage": "sign"},
                    key_file=data_dir.expanduser().resolve() / "keys" / f"{SYSTEM}-head-{head.iin}.p12",
                    roots=self.runtime.trusted_roots, at=await self.runtime.now(),
                    admin_token=self.runtime.credentials.admin_token)  # issuing a key needs the run's admin
                layer.choose(identity)
            else:
                layer.choose(seeded)
            self._heads[head.iin] = (layer, seeded)

    def gateway_of(self, reglament: Reglament):
        return self.runtime.gateway(regional_gateway(reglament.gateway.route_id))

    async def register_reglament_request(self, request: Incoming) -> dict[str, Any]:
        """A reglament's request (``reglament``, ``channel``, ``applicationId``, the signed
        ``document`` with its ``signature``): the form's family and bills checked as any
        housing-aid application's, registered under an Е-собес number, and the walk of the
        channel taken up here (the first staff procedure)."""
        data = request.data
        try:
            reglament = get_reglament(str(data.get("reglament")))
            channel = reglament.channel(str(data.get("channel")))
        except ReglamentError as exc:
            raise refusal([_problem("reglament", "unknown_reglament", str(exc), str(exc), str(exc))]) from None
        if reglament.provider.system != SYSTEM or reglament.gateway.service_id != request.info.serviceId:
            raise refusal([_problem("reglament", "not_provided_here",
                                    f"reglament {reglament.id} is not served by {SYSTEM} under {request.info.serviceId}",
                                    "бұл қызметті «Е-собес» көрсетпейді", "эту услугу «Е-Собес» не оказывает")])
        document, signature = data.get("document"), data.get("signature")
        if not isinstance(document, dict):
            raise refusal([_problem("document", "document_required", "the signed request document is required",
                                    "қол қойылған сұраныс қажет", "требуется подписанный запрос")])
        form = document.get("form") if isinstance(document.get("form"), dict) else {}
        housing = form.get("housing")
        costs = housing.get("costs") if isinstance(housing, dict) else None
        months = sorted({c.get("month") for c in costs or [] if isinstance(c, dict) and isinstance(c.get("month"), str)})
        now = await self.runtime.now()
        received_month = f"{to_local(now):%Y-%m}"
        flat = {
            "applicationId": data.get("applicationId"),
            "applicantIin": (document.get("applicant") or {}).get("iin"),
            "period": {"from": months[0] if months else received_month, "to": months[-1] if months else received_month},
            "familyMembers": form.get("familyMembers") or [],
            "housing": housing,
            "document": document,
            "signature": signature,
        }
        parsed = parse_data(HousingAidRequest, flat)
        problems = [p for p in cross_check(parsed, received_month)]
        if problems:
            raise refusal([{**p, "field": f"document.form.{p['field']}" if p["field"].startswith(("housing", "familyMembers"))
                            else p["field"]} for p in problems])
        stored = parsed.model_dump(mode="json", by_alias=True, exclude_none=True)
        stored_signature = stored.pop("signature", None)
        signer = None
        if await self.registrar.find(application_id=parsed.application_id) is None:
            signer = await self._request_signer(document, stored_signature or "", now)
        registered = await self.registrar.register(parsed.application_id, stored, now, {
            "applicant_iin": parsed.applicant_iin, "period_from": parsed.period.first, "period_to": parsed.period.last,
            "status": "RECEIVED", "sender_id": request.info.sender.senderId,
            "correlation_id": request.info.correlationId or request.info.messageId,
            "signature": stored_signature, "signer": json.dumps(signer, ensure_ascii=False) if signer else None,
        })
        due = term_end(reglament.term, now)
        new_case = AidCase(
            application_id=parsed.application_id, registration_number=registered.number,
            reglament=reglament.id, channel=channel.name, reply_service=channel.result_service or "",
            applicant_iin=parsed.applicant_iin, registered_us=to_us(now), due_us=to_us(due)).model_dump()

        def open_case(connection: Connection) -> Any:  # the case read, and added when there is none
            found = connection.execute(_CASE, {"at_application": parsed.application_id}).first()
            if found is None:
                connection.execute(_ADD_CASE, new_case)
            return found

        existing = await self.runtime.db.run(open_case)
        if existing is None:
            try:
                await self.engine.take_up(reglament, channel.name, application_id=parsed.application_id, at=now)
            except EngineError as exc:
                raise ProviderError(ErrorCode.PROVIDER_REFUSED, str(exc)) from None
        else:
            due = from_us(existing.due_us)
        number = registered.number
        return {
            "registrationNumber": number,
            "registeredAt": to_local(registered.at).isoformat(),
            "receivedAt": to_local(registered.at).isoformat(),
            "resultDue": to_local(due).isoformat(),
            "status": "RECEIVED",
            "statusText": RECEIVED,
            "alreadyRegistered": not registered.created,
            "message": received(number) if registered.created else already_received(number, f"{registered.at:%d.%m.%Y %H:%M}"),
        }

    async def _request_signer(self, document: dict[str, Any], signature: str, at) -> dict[str, Any]:
        """Who signed a reglament's request: the applicant on the portal, the State Corporation's
        operator at its front office. The signature must verify, its certificate valid."""
        try:
            cms = base64.b64decode(signature, validate=True)
        except (binascii.Error, ValueError):
            raise refusal([_problem("signature", "signature_not_base64", "the signature is not base64 of a DER-encoded CMS",
                                    "қолтаңба base64 пішімінде емес", "подпись не в формате base64")]) from None
        checked = await self.runtime.validator.cms(cms, canonical_json(document), at=at, usage="sign")
        if not checked.valid:
            verdict = checked.verdict
            raise ProviderError(ErrorCode.PROVIDER_REQUEST_INVALID, f"signature: {verdict.message} (signature_not_valid)",
                                data={"field": "signature", "rule": "signature_not_valid", "verdict": str(verdict.code)})
        signer = checked.verdict.signer or {}
        return {"iin": signer.get("iin"), "commonName": signer.get("common_name"),
                "certificateSerial": signer.get("serial_hex"), "organisation": signer.get("bin"),
                "verdict": str(checked.verdict.code)}

    # ---- the case ------------------------------------------------------------------------------

    async def case(self, application_id: str | None) -> AidCase:
        found = await self.runtime.db.run(
            lambda connection: connection.execute(_CASE, {"at_application": str(application_id)}).mappings().first(),
            write=False)
        if found is None:
            raise LookupError(f"{SYSTEM}: no housing-aid case {application_id}")
        return AidCase(**found)

    async def update_case(self, application_id: str | None, **fields: Any) -> AidCase:
        """Set ``fields`` of the case: one UPDATE of those columns, the row as it is now returned."""
        values = {"at_application": str(application_id), **fields}
        found = await self.runtime.db.run(
            lambda connection: connection.execute(_UPDATE_CASE, values).mappings().one_or_none())
        if found is None:
            raise LookupError(f"{SYSTEM}: no housing-aid case {application_id}")
        stored = AidCase(**found)
        if "state" in fields:
            await self._set_registration_status(stored)
        return stored

    async def _set_registration_status(self, case: AidCase) -> None:
        status = {"registered": "RECEIVED", "decided": "DECIDED", "signed": "SIGNED", "dispatched": "SENT"}[case.state]
        values = {"at_application": case.application_id, "new_status": status}
        await self.runtime.db.run(lambda connection: connection.execute(_SET_STATUS, values))

    async def _request(self, case: AidCase) -> tuple[dict[str, Any], str]:
        row = await self.registrar.find(application_id=case.application_id)
        assert row is not None
        request = json.loads(row["request"])
        return request.get("document") or {}, row["signature"] or ""

    def _ask(self, reglament: Reglament, application_id: str):
        gateway = self.gateway_of(reglament)

        async def ask(service: str, data: dict[str, Any]) -> dict[str, Any] | None:
            return await gateway.ask(service, data, correlation_id=application_id)

        return ask

    async def _rules(self, case: AidCase, reglament: Reglament, at: datetime) -> HousingAid:
        document, _ = await self._request(case)
        return HousingAid(params_of(reglament.decision), self._ask(reglament, case.application_id),
                          case.applicant_iin, document, at, case.consent_ref,
                          required=[d for d in reglament.required_documents])

    async def record_consent(self, application_id: str | None, reglament: Reglament) -> str | None:
        """The consent the signed request states, recorded with the registries (CONSENT_Record):
        it covers the applicant and the declared family, for the registries of property and
        incomes, granted to Е-собес. Its reference; None when the request states no consent."""
        case = await self.case(application_id)
        document, signature = await self._request(case)
        form = document.get("form") or {}
        if form.get("consent") is not True:
            return None
        covered = [m.get("iin") for m in form.get("familyMembers") or [] if isinstance(m, dict)]
        reply = await self.gateway_of(reglament).send("CONSENT_Record", {
            "subjectIin": case.applicant_iin, "coveredIins": covered, "services": list(CONSENT_SERVICES),
            "purpose": f"{reglament.id}:{case.registration_number}", "document": document, "signature": signature,
        }, correlation_id=case.application_id)
        reference = reply.responseData.data["consentRef"]
        await self.update_case(application_id, consent_ref=reference)
        return reference

    async def documents_ground(self, application_id: str | None, reglament: Reglament, at: datetime) -> dict[str, str] | None:
        """The documents' check of the rule set (a condition step); a refusal is stored with its ground."""
        case = await self.case(application_id)
        ground = await (await self._rules(case, reglament, at)).documents_ground()
        if ground is not None:
            await self.update_case(application_id, decision="refused", state="decided",
                                   refusal_ground=json.dumps(ground.as_dict(), ensure_ascii=False))
            return ground.as_dict()
        return None

    async def obtain_data(self, application_id: str | None, reglament: Reglament, at: datetime) -> list[str]:
        """Item 11's data through ЭҮШ, for the commission's file: what was obtained (Kazakh)."""
        case = await self.case(application_id)
        rules = await self._rules(case, reglament, at)
        people = rules.declared()
        persons = [iin for iin, _ in people if await rules.registry("GBDFL_UniversalServiceSync", iin)]
        rights = 0
        if case.consent_ref:
            for iin, _ in people:
                rights += len(((await rules.registry("GBDRN_RealEstateRights", iin)) or {}).get("rights") or [])
        address = await rules.registry("AR_AddressRegistrationHistory", case.applicant_iin)
        incomes = [iin for iin, _ in people if case.consent_ref and await rules.registry("GCVP_IncomesAndStatus", iin)]
        found = [f"жеке басын куәландыратын құжаттар ({len(persons)} адам)"]
        found.append(f"тұрғын үйге тіркелген құқықтар ({rights})" if case.consent_ref else "құқықтар мен табыстар: келісім жоқ")
        found.append("мекенжай анықтамасы" if address else "мекенжай анықтамасы жоқ")
        if case.consent_ref:
            found.append(f"табыстар мен жұмыссыз мәртебесі ({len(incomes)} адам)")
        return found

    async def decide(self, application_id: str | None, reglament: Reglament, at: datetime) -> AidCase:
        """The commission's decision by the rule set (a case already refused by the documents'
        check keeps that refusal); the sitting is recorded."""
        case = await self.case(application_id)
        sitting = {"date": to_local(at).date().isoformat(), "protocol": f"{case.registration_number}/К"}
        if case.decision == "refused":
            return await self.update_case(application_id, commission=json.dumps(sitting))
        ground, shown = await (await self._rules(case, reglament, at)).decide()
        return await self.update_case(
            application_id, decision="refused" if ground else "approved", state="decided",
            refusal_ground=json.dumps(ground.as_dict(), ensure_ascii=False) if ground else None,
            computation=json.dumps(shown, ensure_ascii=False) if shown else None, commission=json.dumps(sitting))

    def result_document(self, case: AidCase, reglament: Reglament, at: datetime) -> dict[str, Any]:
        """The notification: the aid assigned, a month, with how it was computed; or the refusal
        with its ground (and the computation when the income left no aid)."""
        head = reglament.provider.head
        approved = case.decision == "approved"
        document: dict[str, Any] = {
            "type": "housing-aid-notification" if approved else "refusal",
            "reglament": reglament.id,
            "applicationId": case.application_id,
            "registrationNumber": case.registration_number,
            "applicant": {"iin": case.applicant_iin},
            "provider": {"name": reglament.provider.name.kk, "bin": reglament.provider.organisation.bin},
            "signedBy": {"iin": head.iin, "name": " ".join(p for p in (head.surname, head.name, head.patronymic) if p)},
            "date": to_local(at).isoformat(),
            "decision": case.decision,
        }
        if case.commission:
            document["commission"] = json.loads(case.commission)
        shown = json.loads(case.computation) if case.computation else None
        if approved and shown:
            how = explanation(shown)
            document["aid"] = shown
            document["text"] = {
                "kk": f"Сізге тұрғын үй көмегі тағайындалды: айына {shown['monthlyAmount']:.2f} теңге. {how['kk']}.",
                "ru": f"Вам назначена жилищная помощь: {shown['monthlyAmount']:.2f} тенге в месяц. {how['ru']}.",
                "en": f"Housing assistance is assigned to you: {shown['monthlyAmount']:.2f} tenge a month. {how['en']}.",
            }
        else:
            ground = json.loads(case.refusal_ground or "{}")
            document["ground"] = ground
            if shown:
                document["aid"] = shown
            document["text"] = {
                "kk": f"Тұрғын үй көмегін тағайындаудан бас тартылды: {ground.get('kk', '')}.",
                "ru": f"В назначении жилищной помощи отказано: {ground.get('ru', '')}.",
                "en": f"Housing assistance is refused: {ground.get('en', '')}.",
            }
        return document

    async def sign(self, reglament: Reglament, document: dict[str, Any]) -> str:
        """The reglament's authorised person signs ``document`` in NCALayer: detached CMS, base64."""
        held = self._heads.get(reglament.provider.head.iin)
        if held is None:
            raise RuntimeError(f"{SYSTEM} holds no key of {reglament.provider.organisation.name}'s authorised person")
        layer, storage = held
        if storage is not None:
            renewed = await renewed_key_storage(self.runtime.http, self.runtime.url_of("signatures"), storage,
                                                await self.runtime.now())
            if renewed != storage:
                layer.choose(renewed)
                self._heads[reglament.provider.head.iin] = (layer, renewed)
        answer = await layer.handle({"module": BASICS, "method": "sign", "args": {
            "format": "cms", "data": base64.b64encode(canonical_json(document)).decode(),
            "signingParams": {"decode": True, "encapsulate": False},
            "signerParams": {"extKeyUsageOids": [SIGN_EKU], "bin": reglament.provider.organisation.bin},
            "locale": "kk"}})
        if not answer.get("status"):
            raise RuntimeError(f"the authorised person could not sign: {answer.get('code')}: {answer.get('message')}")
        return answer["body"]["result"][0]

    async def sign_result(self, application_id: str | None, reglament: Reglament, at: datetime) -> AidCase:
        case = await self.case(application_id)
        document = self.result_document(case, reglament, at)
        signature = await self.sign(reglament, document)
        return await self.update_case(application_id, result_document=json.dumps(document, ensure_ascii=False),
                                      result_signature=signature, state="signed")

    async def dispatch(self, application_id: str | None, reglament: Reglament) -> None:
        """The signed notification through the regional gateway to the channel's result_service."""
        case = await self.case(application_id)
        if not case.result_document or not case.result_signature:
            raise RuntimeError(f"{application_id}: the notification is not signed yet")
        await self.update_case(application_id, state="dispatched")
        await self.runtime.deliver(case.reply_service, {  # retried in virtual time while the way is down
            "applicationId": case.application_id, "reglament": reglament.id, "channel": case.channel,
            "registrationNumber": case.registration_number, "decision": case.decision,
            "document": json.loads(case.result_document), "signature": case.result_signature,
        }, correlation_id=case.application_id, via=regional_gateway(reglament.gateway.route_id))

    # ---- the status, by the application's number (the contact centre 1414 asks) ---------------

    async def status(self, request: Incoming) -> dict[str, Any]:
        """``ESOBES_ApplicationStatus``: where an application stands, by its Е-собес registration
        number (``registrationNumber``): its status, the date the result is due, the decision once
        taken. ``Provider.NotFound`` for a number not registered here."""
        data = request.data if isinstance(request.data, dict) else {}
        number = data.get("registrationNumber")
        if not isinstance(number, str) or not number.strip():
            raise refusal([_problem("registrationNumber", "required", "the registration number is required",
                                    "тіркеу нөмірі қажет", "требуется регистрационный номер")])
        case = await self.runtime.db.run(
            lambda connection: connection.execute(_CASE_NUMBERED, {"at_number": number.strip()}).first(), write=False)
        if case is None:
            raise ProviderError(ErrorCode.PROVIDER_NOT_FOUND, f"Е-собес: no application numbered {number}",
                                data={"registrationNumber": number})
        return {"registrationNumber": case.registration_number, "reglament": case.reglament,
                "applicantIin": case.applicant_iin, "status": case.state, "statusText": STATUS_TEXT[case.state],
                "registeredAt": to_local(from_us(case.registered_us)).isoformat(),
                "resultDue": to_local(from_us(case.due_us)).isoformat(), "decision": case.decision}
