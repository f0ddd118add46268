"""The certificate of having (or not having) a dwelling of the communal housing fund in permanent
use: the provider's rule set ``communal-dwelling-certificate`` and the certificate it writes.

Seed 000, appendix 2 (Almaty akimat resolution No. 1/47 of 8 February 2018): the State
Corporation takes the application, the provider's executor checks the documents and prepares the
certificate or the reasoned refusal; the only ground for refusal the reglament names is that the
documents or the data in them are unreliable ("дәйексіздігі").
The simulator reads that ground against ЖТ МДҚ, as the registries publish it:

- the applicant is known to ЖТ МДҚ (the front office found them, but the provider checks again);
- the applicant holds a valid identity document (status 00, not expired on the day of the check);
- every family member the request declares (``familyMembers`` of the form) is known to ЖТ МДҚ.

The certificate lists the applicant and every member of the family living with them -- the spouse,
and the relatives on record (children, parents) registered at the applicant's current address, and
the declared members -- each with whether they hold, in permanent use, a dwelling of the communal
housing fund (``funds``) in the settlement (``settlement_region``), with its address and since when.
Who counts as the family here is the simulator's reading (the seed says "the family members living
with the applicant"). The registries publish no code for a dwelling the local executive
body rents in the private fund: ``funds`` names the fund codes the certificate counts.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from provider_ws.decision import (
    RELATION_CHILD, RELATION_PARENT, RELATION_SPOUSE, Ask, CaseFacts, Findings, Ground, RuleSet, code_of, ground,
    has_valid_identity_document, register_rule_set,
)
from simulation.calendar import to_local

RULES = "communal-dwelling-certificate"
_RELATIONS = {RELATION_SPOUSE: "spouse", RELATION_CHILD: "child", RELATION_PARENT: "parent"}
_RELATION_KK = {"applicant": "өтініш беруші", "spouse": "жұбайы", "child": "баласы", "parent": "ата-анасы",
                "declared": "отбасы мүшесі"}
_RELATION_RU = {"applicant": "заявитель", "spouse": "супруг(а)", "child": "ребёнок", "parent": "родитель",
                "declared": "член семьи"}


class CertificateParams(BaseModel):
    """Parameters of ``communal-dwelling-certificate`` (the definition's ``decision`` block)."""

    model_config = ConfigDict(extra="forbid")
    funds: list[str] = Field(default=["1"], min_length=1,
                             description="fund codes of KZHF_CommunalTenancy the certificate counts (1: communal)")
    settlement_region: str | None = Field(default=None, pattern=r"^\d{9}$",
                                          description="КАТО code of the settlement whose fund is certified; "
                                                      "left out, any")
    declared_field: str = Field(default="familyMembers",
                                description="the request form's field that lists declared family members")


_code, _g = code_of, ground


def _full_name(person: dict[str, Any]) -> str:
    return " ".join(str(p) for p in (person.get("surname"), person.get("name"), person.get("patronymic")) if p)


async def _person(ask: Ask, iin: str) -> dict[str, Any] | None:
    answer = await ask("GBDFL_UniversalServiceSync", {"iin": iin})
    return (answer or {}).get("person")


def _declared(params: CertificateParams, document: dict[str, Any], applicant: str) -> list[str]:
    found = []
    for listed in (document.get("form") or {}).get(params.declared_field) or []:
        iin = listed.get("iin") if isinstance(listed, dict) else listed
        if isinstance(iin, str) and iin and iin != applicant and iin not in found:
            found.append(iin)
    return found


async def _family(params: CertificateParams, ask: Ask, iin: str, person: dict[str, Any],
                  document: dict[str, Any]) -> list[tuple[str, str]]:
    """The applicant and the family living with them: (ЖСН, relation) in order."""
    addresses = await ask("AR_AddressRegistrationHistory", {"iin": iin})
    here = {r.get("iin") for r in (addresses or {}).get("registeredPersons") or [] if isinstance(r, dict)}
    family = [(iin, "applicant")]
    for relation in person.get("familyRelations") or []:
        other = relation.get("iin") if isinstance(relation, dict) else None
        kind = _RELATIONS.get(_code(relation.get("type")) or "") if other else None
        if kind and other != iin and other not in {m for m, _ in family} and (kind == "spouse" or other in here):
            family.append((other, kind))
    for other in _declared(params, document, iin):
        if other not in {m for m, _ in family}:
            family.append((other, "declared"))
    return family


async def _check(params: BaseModel, ask: Ask, reglament: Any, application_id: str, iin: str,
                 document: dict[str, Any], at: datetime) -> tuple[Ground | None, Findings]:
    """Refuses only on unreliable documents or data, the seed's one ground, as the module says."""
    assert isinstance(params, CertificateParams)
    findings = Findings(family=[iin])
    person = await _person(ask, iin)
    if person is None:
        return _g("data-unreliable", f"өтініш берушінің деректері ({iin}) ЖТ МДҚ-да расталмады",
                  f"данные заявителя ({iin}) не подтверждены ГБД ФЛ",
                  f"the applicant's data ({iin}) are not confirmed by the State database of individuals"), findings
    findings.passed.append("applicant in ЖТ МДҚ")
    today = to_local(at).date()
    if not has_valid_identity_document(person, today):
        numbers = ", ".join(str(d.get("number")) for d in person.get("documents") or [] if isinstance(d, dict)) or "–"
        return _g("identity-document-invalid",
                  f"өтініш берушінің жеке басын куәландыратын құжаты ({numbers}) жарамсыз: құжаттар дәйексіз",
                  f"документ, удостоверяющий личность заявителя ({numbers}), недействителен: документы недостоверны",
                  f"the applicant's identity document ({numbers}) is not valid: the documents are unreliable"), findings
    findings.passed.append("valid identity document")
    for other in _declared(params, document, iin):
        if await _person(ask, other) is None:
            return _g("family-member-unknown",
                      f"өтініште көрсетілген отбасы мүшесінің ({other}) деректері ЖТ МДҚ-да жоқ: деректер дәйексіз",
                      f"сведений о члене семьи, указанном в заявлении ({other}), нет в ГБД ФЛ: данные недостоверны",
                      f"the family member the application names ({other}) is not in the State database of "
                      "individuals: the data are unreliable"), findings
    findings.family = [m for m, _ in await _family(params, ask, iin, person, document)]
    findings.passed.append("declared family members in ЖТ МДҚ")
    return None, findings


def _address_text(address: dict[str, Any]) -> str:
    city = address.get("city") or address.get("region") or {}
    parts = [city.get("nameKz") if isinstance(city, dict) else None, address.get("street"),
             address.get("building"), address.get("flat")]
    head = ", ".join(str(p) for p in parts[:2] if p)
    tail = "-".join(str(p) for p in parts[2:] if p)
    return f"{head} {tail}".strip()


async def _write(params: BaseModel, ask: Ask, reglament: Any, case: CaseFacts, at: datetime) -> dict[str, Any]:
    """The certificate: per person of the family, a communal dwelling in permanent use or none."""
    assert isinstance(params, CertificateParams)
    person = await _person(ask, case.applicant_iin) or {}
    people = []
    for iin, relation in await _family(params, ask, case.applicant_iin, person, case.document):
        member = person if iin == case.applicant_iin else (await _person(ask, iin) or {})
        answer = await ask("KZHF_CommunalTenancy", {"iin": iin})
        held = (answer or {}).get("tenancy")
        dwelling = None
        if isinstance(held, dict) and held.get("permanentUse", True) and _code(held.get("fund")) in params.funds:
            address = held.get("address") or {}
            region = _code(address.get("region"))
            if params.settlement_region is None or region in (None, params.settlement_region):
                dwelling = {"address": address, "addressText": _address_text(address), "fund": held.get("fund"),
                            "since": held.get("since"), "area": held.get("area")}
        people.append({"iin": iin, "fullName": _full_name(member), "relation": relation,
                       "presence": dwelling is not None, "dwelling": dwelling})
    presence = any(p["presence"] for p in people)
    on = to_local(at).date().isoformat()
    lines_kk, lines_ru, lines_en = [], [], []
    for p in people:
        who = f"{p['fullName'] or p['iin']} (ЖСН {p['iin']}, {_RELATION_KK[p['relation']]})"
        who_ru = f"{p['fullName'] or p['iin']} (ИИН {p['iin']}, {_RELATION_RU[p['relation']]})"
        who_en = f"{p['fullName'] or p['iin']} (IIN {p['iin']}, {p['relation']})"
        if p["presence"]:
            d = p["dwelling"]
            lines_kk.append(f"{who} – {d['since']} бастап тұрақты пайдалануында тұрғын үй бар: {d['addressText']}")
            lines_ru.append(f"{who_ru} – с {d['since']} в постоянном пользовании жилище: {d['addressText']}")
            lines_en.append(f"{who_en}: holds a dwelling in permanent use since {d['since']}: {d['addressText']}")
        else:
            lines_kk.append(f"{who} – тұрақты пайдалануында тұрғын үй жоқ")
            lines_ru.append(f"{who_ru} – жилища в постоянном пользовании нет")
            lines_en.append(f"{who_en}: holds none")
    verdict_kk = "БАР" if presence else "ЖОҚ"
    verdict_ru = "ИМЕЕТСЯ" if presence else "НЕ ИМЕЕТСЯ"
    verdict_en = "HOLDS" if presence else "HOLDS NO"
    return {
        "type": "certificate",
        "presence": presence,
        "onDate": on,
        "people": people,
        "text": {
            "kk": f"Анықтама: {on} жағдай бойынша отбасының тұрақты пайдалануында коммуналдық тұрғын үй қорынан "
                  f"берілген немесе жергілікті атқарушы орган жеке тұрғын үй қорынан жалдаған тұрғын үй {verdict_kk}. "
                  + "; ".join(lines_kk) + ".",
            "ru": f"Справка: по состоянию на {on} у семьи {verdict_ru} в постоянном пользовании жилища из "
                  "коммунального жилищного фонда или жилища, арендованного местным исполнительным органом в "
                  "частном жилищном фонде. " + "; ".join(lines_ru) + ".",
            "en": f"Certificate: as of {on} the family {verdict_en} a dwelling of the communal housing fund, or one "
                  "rented by the local executive body in the private fund, in permanent use. "
                  + "; ".join(lines_en) + ".",
        },
    }


RULE_SET = register_rule_set(RuleSet(
    RULES, CertificateParams, _check,
    "The certificate of a communal-fund dwelling in permanent use (seed 000, appendix 2): refused only on "
    "unreliable documents or data; the certificate lists every family member living with the applicant",
    result=_write,
))

__all__ = ["RULES", "RULE_SET", "CertificateParams"]
