"""The provider's check (3-шарт): the grounds for refusal, read from the registries through the
gateway. Rules, not coin flips: the request complete, the applicant known and alive with a valid
identity document, a queue list the law knows, no dwelling owned in Kazakhstan, none sold in the
last five years (deliberate worsening), no dwelling held from the communal fund, and -- for the
socially vulnerable groups -- the family's average monthly income per member over the last twelve
months below the threshold (3.1 subsistence minimums, from the reglament definition)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from gateway_protocol.client import GatewayClient
from gateway_protocol.errors import ErrorCode, GatewayFault
from reglaments import Reglament
from simulation.calendar import to_local


@dataclass(frozen=True)
class Ground:
    """A ground for refusal, as the reasoned refusal cites it."""

    code: str
    kk: str
    ru: str
    en: str

    def as_dict(self) -> dict[str, str]:
        return {"code": self.code, "kk": self.kk, "ru": self.ru, "en": self.en}


@dataclass
class Findings:
    """What the check found, for the trace and the executor."""

    family: list[str]
    income_per_member: float | None = None
    threshold: float | None = None


class DecisionRules:
    def __init__(self, gateway: GatewayClient, reglament: Reglament) -> None:
        self.gateway = gateway
        self.reglament = reglament

    async def _ask(self, service_id: str, data: dict[str, Any], correlation_id: str) -> dict[str, Any] | None:
        try:
            reply = await self.gateway.send(service_id, data, correlation_id=correlation_id)
        except GatewayFault as fault:
            if fault.code == ErrorCode.PROVIDER_NOT_FOUND:
                return None
            raise
        return reply.responseData.data

    async def check(self, application_id: str, iin: str, document: dict[str, Any], queue_list: str | None,
                    at: datetime) -> tuple[Ground | None, Findings]:
        findings = Findings(family=[iin])
        reglament = self.reglament
        attached = {a.get("code") for a in document.get("attachments", []) if isinstance(a, dict)}
        missing = [d for d in reglament.required_documents if d.code not in attached]
        if missing:
            return Ground(
                "documents-incomplete",
                "Стандарттың 9-тармағында көрсетілген құжаттар толық емес: " + ", ".join(d.kk for d in missing),
                "Неполный пакет документов по пункту 9 Стандарта: " + ", ".join(d.ru for d in missing),
                "Documents required by item 9 of the Standard are missing: " + ", ".join(d.en for d in missing),
            ), findings
        listed = reglament.queue_list(queue_list) if queue_list else None
        if listed is None:
            return Ground("no-category", "өтініш беруші кезек тізімдерінің ешқайсысына жатпайды",
                          "заявитель не относится ни к одному из списков очереди",
                          "the applicant belongs to none of the queue lists"), findings
        consent = f"application:{application_id}"
        today = to_local(at).date()
        person = await self._ask("GBDFL_UniversalServiceSync", {"iin": iin}, application_id)
        if person is None:
            return Ground("no-person", "ЖТ МДҚ-да өтініш берушінің деректері жоқ",
                          "сведения о заявителе отсутствуют в ГБД ФЛ",
                          "the applicant is not in the State database of individuals"), findings
        person = person["person"]
        if person.get("lifeStatus", {}).get("code") not in (None, "0"):
            return Ground("deceased", "ЖТ МДҚ бойынша өтініш беруші тірі емес", "по данным ГБД ФЛ заявитель умер",
                          "the State database of individuals records the applicant as deceased"), findings
        if not any(d.get("status", {}).get("code") == "00" and str(d.get("endDate", "")) >= today.isoformat()
                   for d in person.get("documents", [])):
            return Ground("no-identity-document", "өтініш берушінің жарамды жеке басын куәландыратын құжаты жоқ",
                          "у заявителя нет действительного документа, удостоверяющего личность",
                          "the applicant has no valid identity document"), findings
        relations = person.get("familyRelations") or []
        spouses = [r["iin"] for r in relations if r.get("type", {}).get("code") == "01"]
        children = [r["iin"] for r in relations if r.get("type", {}).get("code") == "02"]
        findings.family = [iin, *spouses, *children]
        decision = reglament.decision
        lookback = decision.worsening_lookback_years if decision else 5
        for member in [iin, *spouses]:
            rights = await self._ask("GBDRN_RealEstateRights", {"iin": member, "consentRef": consent}, application_id)
            for right in (rights or {}).get("rights", []):
                sold = right.get("alienationDate")
                if not sold:
                    return Ground("owns-dwelling", "отбасының Қазақстан Республикасында меншік құқығында тұрғын үйі бар",
                                  "у семьи есть жилище на праве собственности в Республике Казахстан",
                                  "the family owns a dwelling in Kazakhstan"), findings
                if date.fromisoformat(sold) > today.replace(year=today.year - lookback):
                    return Ground(
                        "deliberate-worsening",
                        f"соңғы {lookback} жылда тұрғын үй жағдайы қасақана нашарлатылған: тұрғын үй {sold} иеліктен шығарылған",
                        f"за последние {lookback} лет жилищные условия умышленно ухудшены: жилище отчуждено {sold}",
                        f"housing conditions deliberately worsened in the last {lookback} years: a dwelling was sold on {sold}",
                    ), findings
        tenancy = await self._ask("KZHF_CommunalTenancy", {"iin": iin}, application_id)
        if tenancy and tenancy.get("tenancy"):
            return Ground("communal-tenant", "өтініш берушінің тұрақты пайдалануында коммуналдық тұрғын үй қорынан тұрғын үйі бар",
                          "у заявителя есть жилище из коммунального жилищного фонда в постоянном пользовании",
                          "the applicant holds a dwelling of the communal housing fund in permanent use"), findings
        if listed.income_test and decision is not None:
            total = 0.0
            for member in findings.family:
                incomes = await self._ask("GCVP_IncomesAndStatus", {"iin": member, "consentRef": consent}, application_id)
                total += float((incomes or {}).get("averageMonthly") or 0.0)
            findings.income_per_member = round(total / len(findings.family), 2)
            findings.threshold = round(decision.threshold(today.year), 2)
            if findings.income_per_member >= findings.threshold:
                return Ground(
                    "income-above-threshold",
                    f"отбасының әр мүшесіне шаққандағы орташа айлық табысы ({findings.income_per_member:,.0f} теңге) "
                    f"ең төменгі күнкөріс деңгейінің {decision.income_multiplier} еселенген мөлшерінен "
                    f"({findings.threshold:,.0f} теңге) төмен емес",
                    f"среднемесячный доход на члена семьи ({findings.income_per_member:,.0f} тенге) не ниже "
                    f"{decision.income_multiplier}-кратного прожиточного минимума ({findings.threshold:,.0f} тенге)",
                    f"the family's average monthly income per member ({findings.income_per_member:,.0f} tenge) is not "
                    f"below {decision.income_multiplier} subsistence minimums ({findings.threshold:,.0f} tenge)",
                ), findings
        return None, findings


def ground_json(ground: Ground | None) -> str | None:
    return json.dumps(ground.as_dict(), ensure_ascii=False) if ground else None
