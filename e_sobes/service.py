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
from typing import Any

from e_sobes.models import HousingAidApplication, YearCounter
from e_sobes.schemas import HousingAidRequest
from e_sobes.texts import HOUSING_COSTS, INCOME_KINDS, RECEIVED, RELATIONS, already_received, received
from gateway_protocol.errors import ErrorCode
from gateway_protocol.provider import Incoming, ProviderError
from signatures.jws import canonical_json
from simulation.calendar import to_local
from runtime.registration import Registered, Registrar, parse_data, refusal
from runtime import SystemRuntime

SERVICE_ID = "ESOBES_HousingAidApplication"
PREFIX = "ESB"


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

    async def receive(self, request: Incoming) -> dict[str, Any]:
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
