"""The housing-assistance rule set (``housing-aid``): the documents' check and the commission's
decision with the amount, read from the registries through the gateway.

A definition names it in its ``decision`` block, with its region's settings::

    decision:
      rules: housing-aid
      settlement_region: "750000000"
      limit_share: 0.10
      norms: {area_per_person: 18, area_living_alone: 30, heating_per_m2: 0.025,
              hot_water_per_person: 2, cold_water_per_person: 4, gas_per_person: 15}

The rule (shared/REFERENCE.md, housing assistance): the aid is the family's housing costs within
the norms minus the limit share of the family's monthly income. The costs come from the bills the
applicant attaches (the request form's ``housing``: the floor area and each bill's kind, month,
amount and quantity); the family is the applicant and the members the form declares; their
incomes, statuses and identity come from the registries (ЖТ МДҚ, the incomes-and-status service),
asked only through ``ask`` (the gateway), with the applicant's recorded consent where the law
wants one. Where a rule is the simulator's own reading, its docstring says so.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from runtime.grounds import Ground
from simulation.calendar import to_local

Ask = Callable[[str, dict[str, Any]], Awaitable[dict[str, Any] | None]]
"""A registry asked through the gateway: its reply data, or None when it holds no record."""

CONSENT_SERVICES = ("GBDRN_RealEstateRights", "GCVP_IncomesAndStatus")
"""The registries that answer data protected by law only with the applicant's recorded consent."""
DOCUMENT_VALID, ALIVE, PERMANENT = "00", "0", "1"
COST_KINDS = ("maintenance", "heating", "hot-water", "cold-water", "gas")


class RuleSetError(ValueError):
    """A definition's ``decision`` block the rule set cannot work with: which field, which rule."""


class Norms(BaseModel):
    """The consumption norms the costs are counted within (per month)."""

    model_config = ConfigDict(extra="forbid")
    area_per_person: float = Field(gt=0, le=200, description="m² of floor area per family member")
    area_living_alone: float = Field(gt=0, le=200, description="m² for one living alone")
    heating_per_m2: float = Field(gt=0, le=1, description="Gcal per m² of the normative area")
    hot_water_per_person: float = Field(ge=0, le=100, description="m³ per family member")
    cold_water_per_person: float = Field(ge=0, le=100, description="m³ per family member")
    gas_per_person: float = Field(ge=0, le=500, description="m³ per family member")


class HousingAidParams(BaseModel):
    """The ``decision`` block of a housing-aid definition, its ``rules`` left out."""

    model_config = ConfigDict(extra="forbid")
    settlement_region: str = Field(pattern=r"^\d{9}$", description="КАТО code: the region whose permanent residents it serves")
    limit_share: float = Field(gt=0, lt=1, description="the share of the family's monthly income it pays itself")
    norms: Norms


def params_of(decision: dict[str, Any] | None) -> HousingAidParams:
    """The rule set's parameters from a definition's ``decision`` block; RuleSetError names the field."""
    data = dict(decision or {})
    rules = data.pop("rules", None)
    if rules != "housing-aid":
        raise RuleSetError(f"decision.rules: e_sobes runs the rule set 'housing-aid', not {rules!r}")
    try:
        return HousingAidParams.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise RuleSetError(f"decision.{where}: {first['msg']}") from None




# ---- the amount: costs within the norms minus the limit share of the income -----------------------


def _r(value: float) -> float:
    return round(value + 0.0, 2)


def normative_area(p: HousingAidParams, family_size: int) -> float:
    """The floor area the norms allow: per member, or the larger area of one living alone."""
    return p.norms.area_living_alone if family_size == 1 else p.norms.area_per_person * family_size


def allowed_costs(p: HousingAidParams, family_size: int, area: float, costs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each kind of cost, a month on average over the months billed, and the part within its norm:
    maintenance in proportion of the normative to the real area; heating within the norm per m² of
    the normative area (not more than the real one); water and gas within the norms per member.
    A bill within its norm counts whole; beyond it, in proportion of the norm to the quantity."""
    months = sorted({str(c["month"]) for c in costs}) or ["-"]
    counted = len(months)
    allowed_area = normative_area(p, family_size)
    lines = []
    for kind in COST_KINDS:
        bills = [c for c in costs if c["kind"] == kind]
        if not bills:
            continue
        amount = sum(float(c["amount"]) for c in bills) / counted
        quantity = sum(float(c.get("quantity") or 0) for c in bills) / counted if kind != "maintenance" else area
        if kind == "maintenance":
            norm = allowed_area
        elif kind == "heating":
            norm = p.norms.heating_per_m2 * min(area, allowed_area)
        else:
            per_person = {"hot-water": p.norms.hot_water_per_person, "cold-water": p.norms.cold_water_per_person,
                          "gas": p.norms.gas_per_person}[kind]
            norm = per_person * family_size
        share = 1.0 if quantity <= norm or quantity == 0 else norm / quantity
        lines.append({"kind": kind, "billed": _r(amount), "quantity": round(quantity, 4), "norm": round(norm, 4),
                      "allowed": _r(amount * share)})
    return lines


@dataclass
class Computation:
    family_size: int
    family_income: float
    limit_share: float
    limit: float
    costs: list[dict[str, Any]]
    costs_within_norms: float
    amount: float
    months: list[str]

    def as_dict(self) -> dict[str, Any]:
        return {"familySize": self.family_size, "familyIncome": self.family_income, "limitShare": self.limit_share,
                "limit": self.limit, "costs": self.costs, "costsWithinNorms": self.costs_within_norms,
                "monthlyAmount": self.amount, "currency": "KZT", "months": self.months}


def compute(p: HousingAidParams, family_size: int, area: float, costs: list[dict[str, Any]],
            family_income: float) -> Computation:
    """The monthly aid of a family of ``family_size`` living on ``area`` m² with ``costs`` (bills
    {kind, month, amount, quantity}) and a monthly income of ``family_income`` tenge: the costs
    within the norms minus ``limit_share`` of the income, never below nil."""
    lines = allowed_costs(p, family_size, area, costs)
    within = _r(sum(line["allowed"] for line in lines))
    limit = _r(family_income * p.limit_share)
    return Computation(family_size, _r(family_income), p.limit_share, limit, lines, within,
                       _r(max(0.0, within - limit)), sorted({str(c["month"]) for c in costs}))


# ---- the application: its family, its registries' answers ---------------------------------------


def _code(value: Any) -> str | None:
    return value.get("code") if isinstance(value, dict) else None


def _g(code: str, kk: str, ru: str, en: str) -> Ground:
    return Ground(code, kk, ru, en)


@dataclass
class Member:
    iin: str
    relation: str
    person: dict[str, Any] | None = None
    income: float = 0.0
    unemployed: bool = False
    sources: dict[str, float] = field(default_factory=dict)


class HousingAid:
    """One application's run of the rules; each registry asked once."""

    def __init__(self, params: HousingAidParams, ask: Ask, iin: str, document: dict[str, Any], at: datetime,
                 consent_ref: str | None, required: list[Any] = ()) -> None:
        self.p, self.ask, self.iin, self.document = params, ask, iin, document
        self.required = list(required)
        """The documents of the Standard's item 9 (the definition's, with kk/ru/en names)."""
        self.today: date = to_local(at).date()
        self.consent_ref = consent_ref
        self._answers: dict[tuple[str, str], dict[str, Any] | None] = {}
        form = document.get("form") or {}
        self.form = form if isinstance(form, dict) else {}

    async def registry(self, service: str, iin: str) -> dict[str, Any] | None:
        key = (service, iin)
        if key not in self._answers:
            data: dict[str, Any] = {"iin": iin}
            if service in CONSENT_SERVICES:
                data["consentRef"] = self.consent_ref
            self._answers[key] = await self.ask(service, data)
        return self._answers[key]

    def declared(self) -> list[tuple[str, str]]:
        members = [(self.iin, "applicant")]
        for listed in self.form.get("familyMembers") or []:
            if isinstance(listed, dict) and isinstance(listed.get("iin"), str) and listed["iin"] != self.iin:
                members.append((listed["iin"], str(listed.get("relation") or "declared")))
        return members

    def housing(self) -> tuple[float | None, list[dict[str, Any]]]:
        housing = self.form.get("housing") if isinstance(self.form.get("housing"), dict) else {}
        area = housing.get("area")
        costs = [c for c in housing.get("costs") or [] if isinstance(c, dict) and c.get("kind") in COST_KINDS
                 and isinstance(c.get("amount"), (int, float)) and c.get("month")]
        return (float(area) if isinstance(area, (int, float)) and area > 0 else None), costs

    async def documents_ground(self) -> Ground | None:
        """The documents attached are those of the Standard's item 9 and reliable -- every
        document the definition lists attached, the bills (the form's housing: the area and at least one bill), the consent to the use of data
        protected by law, the applicant and each declared member in ЖТ МДҚ with a valid identity
        document (the applicant's), the applicant permanently registered in the region
        (the service is given "at the applicant's permanent address", item 1)."""
        attached = {a.get("code") for a in self.document.get("attachments") or [] if isinstance(a, dict)}
        missing = [d for d in self.required if d.code not in attached]
        if missing:
            return _g("documents-incomplete",
                      "Стандарттың 9-тармағында көрсетілген құжаттар жалғанбаған: " + ", ".join(d.kk for d in missing),
                      "не приложены документы по пункту 9 Стандарта: " + ", ".join(d.ru for d in missing),
                      "documents the Standard's item 9 lists are not attached: " + ", ".join(d.en for d in missing))
        area, costs = self.housing()
        if area is None or not costs:
            return _g("bills-missing", "тұрғын үйдің ауданы мен шоттар (шығыстар) көрсетілмеген",
                      "не указаны площадь жилища и счета (расходы)",
                      "the dwelling's floor area and the bills (costs) are not given")
        if self.form.get("consent") is not True:
            return _g("no-consent", "заңмен қорғалатын құпияны құрайтын мәліметтерді пайдалануға келісім берілмеген",
                      "не дано согласие на использование сведений, составляющих охраняемую законом тайну",
                      "no consent to the use of data protected by law was given")
        answer = await self.registry("GBDFL_UniversalServiceSync", self.iin)
        person = (answer or {}).get("person")
        if person is None:
            return _g("no-person", "ЖТ МДҚ-да өтініш берушінің деректері жоқ", "сведения о заявителе отсутствуют в ГБД ФЛ",
                      "the applicant is not in the State database of individuals")
        valid = any(_code(d.get("status")) == DOCUMENT_VALID and str(d.get("endDate") or "9999-12-31") >= self.today.isoformat()
                    for d in person.get("documents") or [] if isinstance(d, dict))
        if not valid:
            return _g("unreliable-documents",
                      "ұсынылған құжаттар дәйексіз: өтініш берушінің жеке басын куәландыратын құжаты жарамсыз",
                      "представленные документы недостоверны: документ, удостоверяющий личность заявителя, недействителен",
                      "the documents are unreliable: the applicant's identity document is not valid")
        address = person.get("regAddress") or {}
        if _code(address.get("region")) != self.p.settlement_region or _code(address.get("status")) != PERMANENT:
            return _g("not-resident", "өтініш беруші қалада тұрақты тіркелмеген",
                      "заявитель не зарегистрирован постоянно в городе",
                      "the applicant is not permanently registered in the city")
        for iin, _ in self.declared()[1:]:
            member = await self.registry("GBDFL_UniversalServiceSync", iin)
            if member is None:
                return _g("unreliable-documents", f"ұсынылған құжаттар дәйексіз: отбасы мүшесі {iin} ЖТ МДҚ-да жоқ",
                          f"представленные документы недостоверны: члена семьи {iin} нет в ГБД ФЛ",
                          f"the documents are unreliable: family member {iin} is not in the State database of individuals")
        return None

    async def family(self) -> list[Member]:
        """The family and each member's monthly income: the average of the months the incomes
        service holds (its last twelve), from social payments, entrepreneurship and other
        activity, alimony alike; and whether they are registered unemployed."""
        members = []
        for iin, relation in self.declared():
            answer = await self.registry("GCVP_IncomesAndStatus", iin) or {}
            months = answer.get("months") or []
            sources: dict[str, float] = {}
            for month in months:
                for item in month.get("items") or []:
                    name = (item.get("source") or {}).get("nameKz", "?")
                    sources[name] = sources.get(name, 0.0) + float(item.get("amount") or 0)
            count = max(1, len(months))
            members.append(Member(iin, relation, None, _r(sum(sources.values()) / count),
                                  bool((answer.get("unemployed") or {}).get("registered")),
                                  {k: _r(v / count) for k, v in sources.items()}))
        return members

    async def decide(self) -> tuple[Ground | None, dict[str, Any]]:
        """The commission's decision: the documents' ground first; then the amount, refused when
        the family's limit share covers the costs within the norms. The ground (or None) and the
        computation as the notification states it."""
        ground = await self.documents_ground()
        if ground is not None:
            return ground, {}
        family = await self.family()
        area, costs = self.housing()
        assert area is not None
        computation = compute(self.p, len(family), area, costs, sum(m.income for m in family))
        shown = {**computation.as_dict(), "area": area, "normativeArea": normative_area(self.p, len(family)),
                 "members": [{"iin": m.iin, "relation": m.relation, "monthlyIncome": m.income,
                              "incomeBySource": m.sources, "unemployed": m.unemployed} for m in family]}
        if computation.amount <= 0:
            return _g("income-above-limit",
                      f"отбасы табысының шекті үлесі ({computation.limit:.2f} теңге) нормативтер шегіндегі шығыстардан "
                      f"({computation.costs_within_norms:.2f} теңге) кем емес",
                      f"предельная доля дохода семьи ({computation.limit:.2f} тенге) не меньше расходов в пределах "
                      f"норм ({computation.costs_within_norms:.2f} тенге)",
                      f"the family's limit share of income ({computation.limit:.2f} tenge) is not below the costs "
                      f"within the norms ({computation.costs_within_norms:.2f} tenge)"), shown
        return None, shown


def explanation(shown: dict[str, Any]) -> dict[str, str]:
    """How the amount was computed, in three languages, for the notification."""
    share = f"{shown['limitShare'] * 100:g}"
    return {
        "kk": f"Нормативтер шегіндегі шығыстар {shown['costsWithinNorms']:.2f} теңге; отбасының ({shown['familySize']} адам) "
              f"айлық табысы {shown['familyIncome']:.2f} теңге, оның {share} %-ы – {shown['limit']:.2f} теңге; "
              f"тұрғын үй көмегі айына {shown['monthlyAmount']:.2f} теңге",
        "ru": f"Расходы в пределах норм {shown['costsWithinNorms']:.2f} тенге; ежемесячный доход семьи "
              f"({shown['familySize']} чел.) {shown['familyIncome']:.2f} тенге, его {share} % – {shown['limit']:.2f} тенге; "
              f"жилищная помощь {shown['monthlyAmount']:.2f} тенге в месяц",
        "en": f"Costs within the norms {shown['costsWithinNorms']:.2f} tenge; the family's ({shown['familySize']}) monthly "
              f"income {shown['familyIncome']:.2f} tenge, {share} % of it {shown['limit']:.2f} tenge; housing "
              f"assistance {shown['monthlyAmount']:.2f} tenge a month",
    }
