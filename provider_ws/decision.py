"""The provider's check as named rule sets: the grounds for refusal, read from the
registries through the gateway. Rules, not coin flips.

A reglament definition names its rule set and gives its parameters::

    decision:
      rules: housing-need
      income_multiplier: 3.1
      ...

``RULE_SETS`` holds the sets by name; ``validate_params`` checks a definition's parameters when it
is loaded; ``check_grounds`` runs a set for one application and returns the first ground for
refusal (or None) with what it found. The rules ask the registries only through ``ask`` (the
gateway) and never import the registries' code: the coded values they compare with are the ones
the registries publish in their answers (the constants below).

Where a rule comes from is said in its docstring: the seed reglament (seed 002, items 6-8 and 12),
the facts of REFERENCE.md, or "the simulator's own" where neither says it.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from gateway_protocol.client import GatewayClient
from runtime.grounds import Ground
from simulation.calendar import to_local

Ask = Callable[[str, dict[str, Any]], Awaitable[dict[str, Any] | None]]
"""Send a request to a registry through the gateway; its reply data, or None for Provider.NotFound."""

# ---- coded values the registries publish -------------------------------------------------------

CITIZENSHIP_KZ = "398"
PERMANENT_REGISTRATION = "1"
RELATION_SPOUSE, RELATION_CHILD, RELATION_PARENT = "01", "02", "03"
DOCUMENT_VALID = "00"
ALIVE = "0"
COMMUNAL_FUND = "1"
ALIENATION_EXCHANGE = "02"
ALIENATION_MORTGAGE_BUYOUT = "05"
ALIENATION_DEMOLITION = "06"
CAUSE_OWNER_FAULT = "03"
TENANCY_RELEASED = "01"
STATUS_CODES = {
    "disabled-child": "01",
    "disability-1": "02",
    "disability-2": "03",
    "disability-3": "04",
    "orphan": "05",
    "no-parental-care": "06",
    "war-participant": "07",
    "war-disabled": "08",
}
"""The social statuses of the incomes-and-status service (``statuses[].type.code``) by name."""
INCAPABLE = ("disabled-child", "disability-1", "disability-2")
"""Statuses that make a person unable to work (еңбекке жарамсыз): the simulator's own reading."""
ADULT_AGE = 18


# ---- what the check returns ---------------------------------------------------------------------




@dataclass
class Findings:
    """What the check found, for the trace and the executor."""

    family: list[str]
    income_per_member: float | None = None
    threshold: float | None = None
    income_exempt: str | None = None
    """The status that exempted the family from the income test (e.g. "disabled-child")."""
    passed: list[str] = field(default_factory=list)
    """The rules passed, in order."""


class ReglamentLike(Protocol):
    required_documents: list[Any]
    queue_lists: list[Any]

    def queue_list(self, code: str) -> Any: ...


# ---- the housing-need rule set: its parameters ---------------------------------------------------


class Settlement(BaseModel):
    """The settlement whose permanent residents the service is for (КАТО codes)."""

    model_config = ConfigDict(extra="forbid")
    region: str = Field(pattern=r"^\d{9}$", description="КАТО code of the region (or city of republican significance)")
    city: str | None = Field(default=None, pattern=r"^\d{9}$", description="КАТО code of the city; left out, any in the region")


class HousingNeedParams(BaseModel):
    """Parameters of ``housing-need``, from the reglament definition's ``decision`` block."""

    model_config = ConfigDict(extra="forbid")
    income_multiplier: float = Field(gt=0, description="of the subsistence minimum, per family member (seed 002, item 6.2: 3.1)")
    subsistence_minimum: dict[int, int] = Field(min_length=1, description="tenge a month, by year (republican budget law)")
    worsening_lookback_years: int = Field(ge=1, le=50, description="deliberate worsening counts this many years back (seed 002, item 12: five)")
    settlement: Settlement
    citizenship: str = Field(default=CITIZENSHIP_KZ, pattern=r"^\d{3}$")
    income_documents: list[str] | None = Field(
        default=None, description="documents only an income-tested list asks for; left out, the definition's "
                                  "own `income_documents` (or `incomes`)")
    income_exempt_statuses: list[str] = Field(
        default=["orphan", "no-parental-care", "disabled-child"],
        description="a family member with one of these is not income-tested (seed 002, item 6.2)")
    unsafe_dwelling_list: str | None = Field(
        default=None, description="the queue list of citizens whose only dwelling is declared unsafe (seed 002, item 6.4)")
    confirmed_categories: dict[str, list[str]] = Field(
        default={}, description="queue list -> statuses one of which the applicant must hold on record")
    incapable_parent_age: int = Field(default=63, ge=40, le=100,
                                      description="a parent this old counts as unable to work (the simulator's own)")
    out_of_turn_statuses: list[str] = Field(
        default=[], description="statuses on record whose holders the provider's chancellery serves out of turn "
                                "(seed 002, item 11.1: the Great Patriotic War's disabled veterans and participants)")

    @field_validator("subsistence_minimum")
    @classmethod
    def _positive(cls, value: dict[int, int]) -> dict[int, int]:
        for year, amount in value.items():
            if not 1990 <= year <= 2100 or amount <= 0:
                raise ValueError(f"{year}: {amount}: a year 1990-2100 and a positive amount of tenge")
        return value

    @field_validator("income_exempt_statuses", "out_of_turn_statuses")
    @classmethod
    def _known_statuses(cls, value: list[str]) -> list[str]:
        unknown = [s for s in value if s not in STATUS_CODES]
        if unknown:
            raise ValueError(f"unknown statuses {unknown} (known: {', '.join(STATUS_CODES)})")
        return value

    @field_validator("confirmed_categories")
    @classmethod
    def _known_category_statuses(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        for code, statuses in value.items():
            unknown = [s for s in statuses if s not in STATUS_CODES]
            if unknown or not statuses:
                raise ValueError(f"{code}: needs known statuses, not {statuses} (known: {', '.join(STATUS_CODES)})")
        return value

    def threshold(self, year: int) -> float:
        """The per-member monthly income below which a family qualifies, for a year (the last
        year known before it when the budget law of that year is not in the definition)."""
        known = sorted(self.subsistence_minimum)
        chosen = max((y for y in known if y <= year), default=known[0])
        return self.income_multiplier * self.subsistence_minimum[chosen]


# ---- one application's check ---------------------------------------------------------------------


def _g(code: str, kk: str, ru: str, en: str) -> Ground:
    return Ground(code, kk, ru, en)


ground = _g
"""A ground for refusal from its code and kk/ru/en texts (for the rule sets of other modules)."""


def _years_back(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February
        return day.replace(year=day.year - years, day=28)


def _code(value: Any) -> str | None:
    return value.get("code") if isinstance(value, dict) else None


code_of = _code
"""The ``code`` of a registry's coded value ({"code": …, "nameKz": …}), or None."""


def held_statuses(statuses: list[dict[str, Any]], today: date) -> set[str]:
    """The statuses on record (the incomes-and-status service's ``statuses``) that hold today, by name."""
    by_code = {code: name for name, code in STATUS_CODES.items()}
    names = set()
    for status in statuses:
        if not isinstance(status, dict):
            continue
        end = status.get("endDate")
        if end and str(end) < today.isoformat():
            continue
        name = by_code.get(_code(status.get("type")) or "")
        if name:
            names.add(name)
    return names


def has_valid_identity_document(person: dict[str, Any], today: date) -> bool:
    """ЖТ МДҚ holds a valid identity document of the person today (REFERENCE.md, person fields:
    documents[].status 00 valid, endDate)."""
    return any(_code(d.get("status")) == DOCUMENT_VALID and str(d.get("endDate") or "9999-12-31") >= today.isoformat()
               for d in person.get("documents") or [] if isinstance(d, dict))


def person_ground(person: dict[str, Any] | None, today: date, citizenship: str) -> Ground | None:
    """Why the applicant cannot be served, read from ЖТ МДҚ's answer: not there, not alive, no
    valid identity document, not a citizen (``citizenship``, e.g. 398) -- or None."""
    if person is None:
        return _g("no-person", "ЖТ МДҚ-да өтініш берушінің деректері жоқ",
                  "сведения о заявителе отсутствуют в ГБД ФЛ",
                  "the applicant is not in the State database of individuals")
    if _code(person.get("lifeStatus")) not in (None, ALIVE):
        return _g("deceased", "ЖТ МДҚ бойынша өтініш беруші тірі емес", "по данным ГБД ФЛ заявитель умер",
                  "the State database of individuals records the applicant as deceased")
    if not has_valid_identity_document(person, today):
        return _g("no-identity-document", "өтініш берушінің жарамды жеке басын куәландыратын құжаты жоқ",
                  "у заявителя нет действительного документа, удостоверяющего личность",
                  "the applicant has no valid identity document")
    if _code(person.get("citizenship")) != citizenship:
        return _g("not-citizen", "өтініш беруші Қазақстан Республикасының азаматы емес",
                  "заявитель не является гражданином Республики Казахстан",
                  "the applicant is not a citizen of Kazakhstan")
    return None


def documents_ground(missing: list[Any]) -> Ground | None:
    """The refusal for documents of the Standard's item 9 not attached (``missing``: the
    definition's documents, with kk/ru/en names), or None when nothing is missing."""
    if not missing:
        return None
    return _g("documents-incomplete",
              "Стандарттың 9-тармағында көрсетілген құжаттар толық емес: " + ", ".join(d.kk for d in missing),
              "Неполный пакет документов по пункту 9 Стандарта: " + ", ".join(d.ru for d in missing),
              "Documents required by item 9 of the Standard are missing: " + ", ".join(d.en for d in missing))


@dataclass
class _Member:
    iin: str
    relation: str
    """applicant, spouse, child, parent or declared (listed in the request, no relation on record)."""


class _HousingNeed:
    """One run of the housing-need rules; answers asked once and kept."""

    def __init__(self, p: HousingNeedParams, ask: Ask, reglament: ReglamentLike, application_id: str, iin: str,
                 document: dict[str, Any], at: datetime) -> None:
        self.p, self.ask, self.reglament = p, ask, reglament
        self.iin, self.document = iin, document
        self.consent = f"application:{application_id}"
        self.today = to_local(at).date()
        self.since = _years_back(self.today, p.worsening_lookback_years)
        self.findings = Findings(family=[iin])
        self._answers: dict[tuple[str, str], dict[str, Any] | None] = {}

    async def _registry(self, service: str, iin: str) -> dict[str, Any] | None:
        key = (service, iin)
        if key not in self._answers:
            data: dict[str, Any] = {"iin": iin}
            if service in ("GBDRN_RealEstateRights", "GCVP_IncomesAndStatus"):
                data["consentRef"] = self.consent
            self._answers[key] = await self.ask(service, data)
        return self._answers[key]

    async def person(self, iin: str) -> dict[str, Any] | None:
        answer = await self._registry("GBDFL_UniversalServiceSync", iin)
        return answer.get("person") if answer else None

    async def statuses(self, iin: str) -> set[str]:
        answer = await self._registry("GCVP_IncomesAndStatus", iin)
        return held_statuses((answer or {}).get("statuses") or [], self.today)

    def _passed(self, rule: str) -> None:
        self.findings.passed.append(rule)

    async def run(self) -> Ground | None:
        listed = await self.queue_list()
        if isinstance(listed, Ground):
            return listed
        for rule in (lambda: self.documents(listed), self.applicant, self.residence, lambda: self.category(listed)):
            ground = await rule()
            if ground:
                return ground
        family = await self.family()
        self.findings.family = [m.iin for m in family]
        for rule in (self.ownership, self.worsening, self.tenancy, self.income):
            ground = await (rule(listed, family) if rule in (self.ownership, self.income) else rule(family))
            if ground:
                return ground
        return None

    # -- the rules, in the order a refusal cites the first that fails --

    async def queue_list(self) -> Any:
        """The request names one of the reglament's queue lists (Law "On housing relations",
        art. 74, REFERENCE.md: separate lists are kept)."""
        code = (self.document.get("form") or {}).get("queueList")
        listed = self.reglament.queue_list(code) if isinstance(code, str) else None
        if listed is None:
            return _g("no-category", "өтініш беруші кезек тізімдерінің ешқайсысына жатпайды",
                      "заявитель не относится ни к одному из списков очереди",
                      "the applicant belongs to none of the queue lists")
        self._passed("queue-list")
        return listed

    async def documents(self, listed: Any) -> Ground | None:
        """The documents of the Standard's item 9 are attached; proof of incomes only on a list
        with the income test (seed 002, item 6.2: the income test is for the socially vulnerable
        groups; a list without it has no use for income papers -- the simulator's reading)."""
        attached = {a.get("code") for a in self.document.get("attachments", []) if isinstance(a, dict)}
        income_documents = self.p.income_documents
        if income_documents is None:
            income_documents = list(getattr(self.reglament, "income_documents", None) or ["incomes"])
        needed = [d for d in self.reglament.required_documents
                  if listed.income_test or d.code not in income_documents]
        ground = documents_ground([d for d in needed if d.code not in attached])
        if ground:
            return ground
        self._passed("documents")
        return None

    async def applicant(self) -> Ground | None:
        """The applicant is in ЖТ МДҚ, alive, with a valid identity document (REFERENCE.md, person
        fields: lifeStatus, documents[].status 00 valid, endDate), and a citizen of Kazakhstan
        (seed 002, item 6: "Қазақстан Республикасы азаматтарына"; citizenship 398)."""
        ground = person_ground(await self.person(self.iin), self.today, self.p.citizenship)
        if ground:
            return ground
        self._passed("applicant")
        return None

    async def residence(self) -> Ground | None:
        """The applicant lives permanently in the settlement, however long (seed 002, item 6:
        "тиісті елді мекенде (тұру мерзіміне қарамастан) тұрақты тұратын"): the current
        registration in the address registry -- or ЖТ МДҚ's regAddress when the registry has no
        record -- is permanent (status 1) and in the settlement's region (and city, when the
        definition names one and the address says it)."""
        answer = await self._registry("AR_AddressRegistrationHistory", self.iin)
        address = (answer or {}).get("currentAddress")
        if answer is None:
            address = (await self.person(self.iin) or {}).get("regAddress")
        settlement = self.p.settlement
        ok = (isinstance(address, dict)
              and _code(address.get("status")) == PERMANENT_REGISTRATION
              and _code(address.get("region")) == settlement.region
              and (settlement.city is None or address.get("city") is None or _code(address.get("city")) == settlement.city))
        if not ok:
            return _g("no-residence", "өтініш беруші осы елді мекенде тұрақты тұрмайды (тұрақты тіркеуі жоқ)",
                      "заявитель не проживает постоянно в данном населённом пункте (нет постоянной регистрации)",
                      "the applicant does not live permanently in this settlement (no permanent registration here)")
        self._passed("residence")
        return None

    async def category(self, listed: Any) -> Ground | None:
        """On a list whose category a registry confirms (``confirmed_categories``, e.g. the Great
        Patriotic War veterans' list, seed 002, item 6.1), the applicant holds one of its
        statuses on record. Asking the incomes-and-status service for it is the simulator's own."""
        wanted = self.p.confirmed_categories.get(listed.code)
        if not wanted:
            return None
        if not set(wanted) & await self.statuses(self.iin):
            return _g("category-not-confirmed",
                      f"өтініш берушінің «{listed.kk}» санатына жататыны тізілімде расталмады",
                      f"принадлежность заявителя к категории «{listed.ru}» не подтверждена реестром",
                      f"the registry does not confirm that the applicant belongs to \"{listed.en}\"")
        self._passed("category")
        return None

    async def family(self) -> list[_Member]:
        """The family: the applicant, the spouse(s) wherever registered, and every relative on
        record (children, parents) or member listed in the request (``familyMembers``) who is
        registered at the applicant's address -- the address registry's ``registeredPersons``,
        or, when it has no record, the relatives' regAddress.arCode in ЖТ МДҚ. REFERENCE.md and
        the seed say "the family" (items 6.2, 8); who belongs to it is the simulator's reading."""
        person = await self.person(self.iin) or {}
        relatives: dict[str, str] = {}
        for relation in person.get("familyRelations") or []:
            kind = {RELATION_SPOUSE: "spouse", RELATION_CHILD: "child", RELATION_PARENT: "parent"}.get(
                _code(relation.get("type")) or "")
            if kind and relation.get("iin") and relation["iin"] != self.iin:
                relatives.setdefault(relation["iin"], kind)
        for listed in self.document.get("familyMembers") or []:
            if isinstance(listed, dict) and isinstance(listed.get("iin"), str) and listed["iin"] != self.iin:
                relatives.setdefault(listed["iin"], "declared")
        here = await self._co_residents(person)
        family = [_Member(self.iin, "applicant")]
        family += [_Member(i, kind) for i, kind in relatives.items() if kind == "spouse" or i in here]
        return family

    async def _co_residents(self, person: dict[str, Any]) -> set[str]:
        answer = await self._registry("AR_AddressRegistrationHistory", self.iin)
        if answer is not None:
            return {r["iin"] for r in answer.get("registeredPersons") or [] if isinstance(r, dict) and r.get("iin")}
        own = (person.get("regAddress") or {}).get("arCode")
        here: set[str] = set()
        if not own:
            return here
        for relation in person.get("familyRelations") or []:
            other = await self.person(relation.get("iin", "")) if relation.get("iin") else None
            if other and (other.get("regAddress") or {}).get("arCode") == own:
                here.add(relation["iin"])
        return here

    async def _rights(self, family: list[_Member]) -> list[tuple[_Member, dict[str, Any]]]:
        found = []
        for member in family:
            answer = await self._registry("GBDRN_RealEstateRights", member.iin)
            found += [(member, r) for r in (answer or {}).get("rights") or [] if isinstance(r, dict)]
        return found

    async def ownership(self, listed: Any, family: list[_Member]) -> Ground | None:
        """No member of the family owns a dwelling in Kazakhstan (seed 002, item 8.1). On the list
        of citizens whose only dwelling is declared unsafe (item 6.4), the family owns exactly one
        dwelling and it is declared unsafe (the commission's ``emergencyAct``)."""
        owned = [r for _, r in await self._rights(family) if not r.get("alienationDate")]
        owns = _g("owns-dwelling", "отбасының Қазақстан Республикасында меншік құқығында тұрғын үйі бар",
                  "у семьи есть жилище на праве собственности в Республике Казахстан",
                  "the family owns a dwelling in Kazakhstan")
        if listed.code == self.p.unsafe_dwelling_list:
            unsafe = [r for r in owned if r.get("emergencyAct")]
            if not unsafe:
                return _g("no-unsafe-dwelling",
                          "отбасының апатты деп танылған меншік тұрғын үйі жоқ",
                          "у семьи нет жилища в собственности, признанного аварийным",
                          "the family owns no dwelling declared unsafe")
            if len(owned) > 1:
                return _g("owns-dwelling",
                          "апатты деп танылған тұрғын үй отбасының жалғыз тұрғын үйі емес",
                          "жилище, признанное аварийным, не является единственным жилищем семьи",
                          "the dwelling declared unsafe is not the family's only dwelling")
        elif owned:
            return owns
        self._passed("ownership")
        return None

    async def worsening(self, family: list[_Member]) -> Ground | None:
        """No deliberate worsening of the housing conditions in the last
        ``worsening_lookback_years`` (seed 002, item 12), by any family member:
        12.1 exchanging a dwelling (alienation by exchange);
        12.2 alienating a dwelling owned -- sale, gift, division of a dwelling (giving out a
             share) -- except the local executive body's buy-out of a mortgaged only dwelling
             bought on a preferential housing loan whose owner could not pay the mortgage
             (alienation reason 05);
        12.3 destroying or damaging a dwelling through one's own fault (a demolition or an
             emergency act whose cause is the owner's fault);
        12.4 leaving a dwelling where one was not in need (a communal fund tenancy given up at
             the tenant's own will: a permanent communal tenant is not in need, item 8.3 -- the
             simulator's reading of what the registries can show);
        12.5 moving in persons other than the spouse, minor children, children and parents unable
             to work (registered at the applicant's address after the applicant, in the period;
             "unable to work": a disability of group 1 or 2, a disabled child, or a parent of
             ``incapable_parent_age`` -- the simulator's own).
        That any such act in the period is a refusal, without weighing whether it caused the need,
        is the simulator's own simplification."""
        since = self.since.isoformat()
        years = self.p.worsening_lookback_years
        for member, right in await self._rights(family):
            sold = right.get("alienationDate")
            reason = _code(right.get("alienationReason"))
            if sold and str(sold) > since:
                if reason == ALIENATION_MORTGAGE_BUYOUT:
                    continue
                if reason == ALIENATION_EXCHANGE:
                    return self._worsened(1, "тұрғын үй-жайын ауыстырған", "обменял жилище", "exchanged a dwelling", sold)
                if reason == ALIENATION_DEMOLITION:
                    if _code(right.get("cause")) == CAUSE_OWNER_FAULT:
                        return self._worsened(3, "тұрғын үй өз кінәсінен бұзылған", "жилище разрушено по его вине",
                                              "a dwelling was destroyed through the owner's fault", sold)
                    continue
                return self._worsened(2, "меншігіндегі тұрғын үйді иеліктен шығарған", "произвёл отчуждение жилища",
                                      "alienated a dwelling owned (sold, gave away or divided it)", sold)
            act = right.get("emergencyAct")
            if (not sold and isinstance(act, dict) and _code(act.get("cause")) == CAUSE_OWNER_FAULT
                    and str(act.get("date", "")) > since):
                return self._worsened(3, "тұрғын үй өз кінәсінен бүлінген", "жилище испорчено по его вине",
                                      "a dwelling was damaged through the owner's fault", str(act.get("date")))
        for member in family:
            answer = await self._registry("KZHF_CommunalTenancy", member.iin)
            for former in (answer or {}).get("formerTenancies") or []:
                if (_code(former.get("terminationReason")) == TENANCY_RELEASED
                        and str(former.get("endDate", "")) > since):
                    return self._worsened(4, "мұқтаж болмаған тұрғын үйінен кеткен",
                                          "выехал из жилища, в котором не нуждался",
                                          "left a dwelling where there was no need", str(former["endDate"]))
        ground = await self._moved_in(family, since)
        if ground:
            return ground
        self._passed(f"worsening ({years} years)")
        return None

    async def _moved_in(self, family: list[_Member], since: str) -> Ground | None:
        answer = await self._registry("AR_AddressRegistrationHistory", self.iin)
        if answer is None:
            return None
        registered = [r for r in answer.get("registeredPersons") or [] if isinstance(r, dict)]
        own = next((r.get("beginDate") for r in registered if r.get("iin") == self.iin), None)
        own = own or (answer.get("currentAddress") or {}).get("beginDate") or ""
        relation = {m.iin: m.relation for m in family}
        person = await self.person(self.iin) or {}
        for r in person.get("familyRelations") or []:
            kind = {RELATION_SPOUSE: "spouse", RELATION_CHILD: "child", RELATION_PARENT: "parent"}.get(_code(r.get("type")) or "")
            if kind and r.get("iin"):
                relation[r["iin"]] = kind
        for entry in registered:
            other, began = entry.get("iin"), str(entry.get("beginDate") or "")
            if other == self.iin or not began or began <= since or began <= str(own):
                continue
            if await self._may_move_in(other, relation.get(other)):
                continue
            return self._worsened(5, "жұбайынан, кәмелетке толмаған және еңбекке жарамсыз балаларынан, ата-анасынан "
                                     "басқа адамды тұрғызған",
                                  "вселил лиц, кроме супруга, несовершеннолетних и нетрудоспособных детей и "
                                  "нетрудоспособных родителей",
                                  "moved in a person other than the spouse, minor or incapable children, incapable parents",
                                  began)
        return None

    async def _may_move_in(self, iin: str, relation: str | None) -> bool:
        if relation == "spouse":
            return True
        if relation not in ("child", "parent"):
            return False
        incapable = bool(set(INCAPABLE) & await self.statuses(iin))
        person = await self.person(iin) or {}
        try:
            born = date.fromisoformat(str(person.get("birthDate")))
        except ValueError:
            return incapable
        age = self.today.year - born.year - ((self.today.month, self.today.day) < (born.month, born.day))
        if relation == "child":
            return age < ADULT_AGE or incapable
        return incapable or age >= self.p.incapable_parent_age

    def _worsened(self, item: int, kk: str, ru: str, en: str, when: str) -> Ground:
        years = self.p.worsening_lookback_years
        return _g("deliberate-worsening",
                  f"соңғы {years} жылда тұрғын үй жағдайы қасақана нашарлатылған (12-тармақтың {item}) тармақшасы): {kk}, {when}",
                  f"за последние {years} лет жилищные условия умышленно ухудшены (пункт 12, подпункт {item}): {ru}, {when}",
                  f"housing conditions deliberately worsened in the last {years} years (item 12.{item}): {en}, {when}")

    async def tenancy(self, family: list[_Member]) -> Ground | None:
        """No member of the family holds a dwelling of the communal housing fund in permanent use
        in this settlement (seed 002, item 8.3); a tenancy of a state enterprise's or
        institution's fund is not this ground."""
        for member in family:
            answer = await self._registry("KZHF_CommunalTenancy", member.iin)
            held = (answer or {}).get("tenancy")
            if not isinstance(held, dict) or not held.get("permanentUse", True):
                continue
            if _code(held.get("fund")) not in (None, COMMUNAL_FUND):
                continue
            region = _code((held.get("address") or {}).get("region"))
            if region is not None and region != self.p.settlement.region:
                continue
            return _g("communal-tenant",
                      "отбасының осы елді мекенде тұрақты пайдалануында коммуналдық тұрғын үй қорынан тұрғын үйі бар",
                      "у семьи есть жилище из коммунального жилищного фонда в постоянном пользовании в данном населённом пункте",
                      "the family holds a dwelling of the communal housing fund in permanent use in this settlement")
        self._passed("communal-tenancy")
        return None

    async def income(self, listed: Any, family: list[_Member]) -> Ground | None:
        """On an income-tested list, the family's average monthly income per member over the last
        twelve months is below ``income_multiplier`` subsistence minimums of the year (seed 002,
        item 6.2; REFERENCE.md); not applied when a member is an orphan, a child without parental
        care or a disabled child (item 6.2, statuses on record)."""
        if not listed.income_test:
            return None
        for member in family:
            exempt = sorted(set(self.p.income_exempt_statuses) & await self.statuses(member.iin))
            if exempt:
                self.findings.income_exempt = exempt[0]
                self._passed(f"income (exempt: {exempt[0]})")
                return None
        total = 0.0
        for member in family:
            answer = await self._registry("GCVP_IncomesAndStatus", member.iin)
            total += float((answer or {}).get("averageMonthly") or 0.0)
        per_member = self.findings.income_per_member = round(total / len(family), 2)
        threshold = self.findings.threshold = round(self.p.threshold(self.today.year), 2)
        m = self.p.income_multiplier
        if per_member >= threshold:
            return _g("income-above-threshold",
                      f"отбасының әр мүшесіне шаққандағы орташа айлық табысы ({per_member:,.0f} теңге) "
                      f"ең төменгі күнкөріс деңгейінің {m} еселенген мөлшерінен ({threshold:,.0f} теңге) төмен емес",
                      f"среднемесячный доход на члена семьи ({per_member:,.0f} тенге) не ниже "
                      f"{m}-кратного прожиточного минимума ({threshold:,.0f} тенге)",
                      f"the family's average monthly income per member ({per_member:,.0f} tenge) is not "
                      f"below {m} subsistence minimums ({threshold:,.0f} tenge)")
        self._passed("income")
        return None


async def _check_housing_need(params: BaseModel, ask: Ask, reglament: ReglamentLike, application_id: str, iin: str,
                              document: dict[str, Any], at: datetime) -> tuple[Ground | None, Findings]:
    assert isinstance(params, HousingNeedParams)
    run = _HousingNeed(params, ask, reglament, application_id, iin, document, at)
    return await run.run(), run.findings


# ---- the registry of rule sets and the entry points ---------------------------------------------


@dataclass(frozen=True)
class CaseFacts:
    """What a rule set's result builder is told of the case it writes the result for."""

    application_id: str
    registration_number: str
    applicant_iin: str
    document: dict[str, Any]
    """The citizen's signed request."""
    stage: int | None
    """The stage whose result is written, for a service in stages."""
    notes: dict[str, Any] = field(default_factory=dict)
    """What the staff's operations recorded on the case, by key (the housing commission's sitting:
    ``{"commission": {"date": …, "protocol": …}}``)."""


ResultBuilder = Callable[[BaseModel, Ask, Any, CaseFacts, datetime], Awaitable[dict[str, Any]]]
"""Writes the approved result of a rule set: the fields that go into the signed document (its
``type``, ``text`` in kk/ru/en, and what the result certifies)."""


@dataclass(frozen=True)
class RuleSet:
    name: str
    params: type[BaseModel]
    check: Callable[..., Awaitable[tuple[Ground | None, Findings]]]
    doc: str
    result: ResultBuilder | None = None
    """The approved result's content; None: the queue notification (housing-need)."""


RULE_SETS: dict[str, RuleSet] = {
    "housing-need": RuleSet(
        "housing-need", HousingNeedParams, _check_housing_need,
        "Registration in the housing queue: the need for a dwelling of the state housing fund "
        "(seed 002, items 6-8 and 12)"),
}


def register_rule_set(rule_set: RuleSet) -> RuleSet:
    """Add a rule set a module of the provider defines (its check, parameters, result)."""
    if rule_set.name in RULE_SETS:
        raise ValueError(f"rule set {rule_set.name!r} is registered twice")
    RULE_SETS[rule_set.name] = rule_set
    return rule_set


async def approved_result(rules: str, params: dict[str, Any], *, ask: Ask, reglament: Any,
                          case: CaseFacts, at: datetime) -> dict[str, Any] | None:
    """The content of the approved result the named rule set writes, or None when the rule set
    has no writer of its own (the queue notification)."""
    rule_set = _rule_set(rules)
    if rule_set.result is None:
        return None
    return await rule_set.result(_parse(rules, params), ask, reglament, case, at)


def _rule_set(rules: str) -> RuleSet:
    try:
        return RULE_SETS[rules]
    except KeyError:
        raise ValueError(f"rules: no rule set {rules!r} (there are: {', '.join(RULE_SETS)})") from None


def _parse(rules: str, params: dict[str, Any]) -> BaseModel:
    rule_set = _rule_set(rules)
    if not isinstance(params, dict):
        raise ValueError(f"params of {rules}: a mapping is needed, not {type(params).__name__}")
    try:
        return rule_set.params.model_validate(params)
    except ValidationError as exc:
        error = exc.errors()[0]
        where = ".".join(str(part) for part in error["loc"]) or "(all)"
        message = str(error["msg"]).removeprefix("Value error, ")
        raise ValueError(f"param {where}: {message}") from None


def validate_params(rules: str, params: dict[str, Any]) -> None:
    """Check a definition's rule set and its parameters; ValueError("param X: why") when wrong."""
    _parse(rules, params)


async def check_grounds(rules: str, params: dict[str, Any], *, ask: Ask, reglament: ReglamentLike, application_id: str,
                        iin: str, document: dict[str, Any], at: datetime) -> tuple[Ground | None, Findings]:
    """Run the named rule set for one application: the first ground for refusal, or None, and
    what the check found."""
    parsed = _parse(rules, params)
    return await _rule_set(rules).check(parsed, ask, reglament, application_id, iin, document, at)


def decision_of(reglament: Any) -> tuple[str, dict[str, Any]]:
    """The rule set's name and parameters from a definition's ``decision`` block, whatever shape
    the model gives it (a mapping, or a model with its fields or extra fields)."""
    decision = getattr(reglament, "decision", None)
    if decision is None:
        raise ValueError(f"reglament {getattr(reglament, 'id', '?')!r} has no decision block")
    if isinstance(decision, BaseModel):
        data = {**decision.model_dump(exclude_none=True), **(decision.model_extra or {})}
    else:
        data = dict(decision)
    if isinstance(data.get("params"), dict):
        data = {"rules": data.get("rules"), **data["params"]}
    rules = data.pop("rules", None) or "housing-need"
    return rules, data


def gateway_ask(gateway: GatewayClient, correlation_id: str) -> Ask:
    """An ``ask`` that sends through the gateway (:meth:`GatewayClient.ask`): Provider.NotFound is
    None, other faults raise."""

    async def ask(service_id: str, data: dict[str, Any]) -> dict[str, Any] | None:
        return await gateway.ask(service_id, data, correlation_id=correlation_id)

    return ask


class DecisionRules:
    """The provider's check as provider_ws/service.py calls it: the reglament's rule set, asked
    through the gateway."""

    def __init__(self, gateway: GatewayClient, reglament: Any) -> None:
        self.gateway = gateway
        self.reglament = reglament

    async def check(self, application_id: str, iin: str, document: dict[str, Any], queue_list: str | None,
                    at: datetime) -> tuple[Ground | None, Findings]:
        rules, params = decision_of(self.reglament)
        if queue_list and (document.get("form") or {}).get("queueList") != queue_list:
            document = {**document, "form": {**(document.get("form") or {}), "queueList": queue_list}}
        return await check_grounds(rules, params, ask=gateway_ask(self.gateway, application_id),
                                   reglament=self.reglament, application_id=application_id, iin=iin,
                                   document=document, at=at)


def ground_json(ground: Ground | None) -> str | None:
    return json.dumps(ground.as_dict(), ensure_ascii=False) if ground else None
