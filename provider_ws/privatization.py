"""The provider's rule set ``privatization``: privatizing a dwelling of the state housing fund.

A definition names it in its ``decision`` block::

    decision:
      rules: privatization
      settlement: {region: "750000000", city: "750000000"}
      akimat: {kk: …, ru: …, en: …}
      free_of_charge_statuses: [war-participant, war-disabled]

The check (grounds for refusal) asks the registries through the gateway, as
:mod:`provider_ws.decision` does; the writer gives the approved results the seeds name: the
housing commission's decision to privatize (stage 1), the transfer of a state enterprise's or
institution's dwelling to communal ownership with the certificate of the dwelling's cost (stage 2),
and the privatization contract (stage 3) -- or, for a service that gives them all at once
(``facts.stage`` None, seed 000 appendix 3), every one that applies in one document.

Where a rule comes from is said in its docstring: the seed (seed 000 appendix 3 / seed 001), or
"the simulator's own" where the seeds and REFERENCE.md are silent.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from provider_ws.decision import (
    CITIZENSHIP_KZ,
    STATUS_CODES,
    Ask,
    CaseFacts,
    Findings,
    Ground,
    RuleSet,
    Settlement,
    code_of,
    documents_ground,
    ground,
    held_statuses,
    person_ground,
    register_rule_set,
)
from simulation.calendar import to_local

COMMUNAL_FUND, ENTERPRISE_FUND, INSTITUTION_FUND = "1", "2", "3"
STATE_FUNDS = (COMMUNAL_FUND, ENTERPRISE_FUND, INSTITUTION_FUND)
"""The state housing fund (``tenancy.fund.code`` of KZHF_CommunalTenancy): communal, a state
enterprise's, a state institution's."""
TERMINATION_PRIVATIZED = "02"
"""``formerTenancies[].terminationReason``: the tenancy ended because the dwelling was privatized."""
COMMISSION_NOTE = "commission"
"""The key under which the executor's procedure records the housing commission's sitting
(``CaseFacts.notes``): ``{"date": "YYYY-MM-DD", "protocol": "…"}``."""

FORMULA = {
    "kk": "қалдық құны = түгендеу құны × (100 − тозу пайызы) / 100; төленетін сома = қалдық құны "
          "(тегін жекешелендіруде – 0)",
    "ru": "остаточная стоимость = инвентаризационная стоимость × (100 − процент износа) / 100; сумма к оплате = "
          "остаточная стоимость (при безвозмездной приватизации – 0)",
    "en": "residual value = inventory value × (100 − wear percent) / 100; sum due = residual value "
          "(0 when privatized free of charge)",
}
FORMULA_SOURCE = {
    "kk": "симулятордың өз ережесі: сид пен Стандарт құнды есептеу тәсілін атамайды",
    "ru": "собственное правило симулятора: сид и Стандарт не называют способа расчёта стоимости",
    "en": "the simulator's own rule: neither the seed nor the Standard says how the cost is computed",
}


class LocalText(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kk: str = Field(min_length=1)
    ru: str = Field(min_length=1)
    en: str = Field(min_length=1)


class PrivatizationParams(BaseModel):
    """Parameters of ``privatization``, from the reglament definition's ``decision`` block."""

    model_config = ConfigDict(extra="forbid")
    settlement: Settlement
    """Where the dwelling must be (КАТО): the local executive body privatizes its own fund."""
    akimat: LocalText
    """The local executive body: the party to the contract, whose resolution transfers a state
    enterprise's or institution's dwelling to communal ownership."""
    citizenship: str = Field(default=CITIZENSHIP_KZ, pattern=r"^\d{3}$")
    funds: list[str] = Field(default=list(STATE_FUNDS), min_length=1,
                             description="fund codes whose dwellings are privatized (1 communal, 2 state enterprise, "
                                         "3 state institution)")
    transfer_funds: list[str] = Field(default=[ENTERPRISE_FUND, INSTITUTION_FUND],
                                      description="fund codes whose dwellings are first transferred to communal "
                                                  "ownership (seed 000 appendix 3, item 3.2)")
    free_of_charge_statuses: list[str] = Field(
        default=[], description="an applicant holding one of these statuses on record privatizes free of charge "
                                "(the simulator's own reading; REFERENCE.md and the seeds name none)")
    payment_days: int = Field(default=30, ge=1, le=365,
                              description="calendar days to pay the price into the local budget after the contract")

    @field_validator("funds", "transfer_funds")
    @classmethod
    def _known_funds(cls, value: list[str]) -> list[str]:
        unknown = [f for f in value if f not in STATE_FUNDS]
        if unknown:
            raise ValueError(f"unknown fund codes {unknown} (known: {', '.join(STATE_FUNDS)})")
        return value

    @field_validator("free_of_charge_statuses")
    @classmethod
    def _known_statuses(cls, value: list[str]) -> list[str]:
        unknown = [s for s in value if s not in STATUS_CODES]
        if unknown:
            raise ValueError(f"unknown statuses {unknown} (known: {', '.join(STATUS_CODES)})")
        return value


_code, _g = code_of, ground


def address_text(address: dict[str, Any] | None) -> dict[str, str]:
    """A dwelling's address as the documents write it, kk/ru/en."""
    address = address or {}
    city = address.get("city") or address.get("region") or {}
    street, building, flat = address.get("street", ""), address.get("building", ""), address.get("flat")
    kk = f"{city.get('nameKz', '')}, {street} {building}".strip(", ")
    ru = f"{city.get('nameRu', city.get('nameKz', ''))}, {street} {building}".strip(", ")
    if flat:
        kk, ru = f"{kk}, {flat}-пәтер", f"{ru}, кв. {flat}"
    return {"kk": kk, "ru": ru, "en": ru.replace("кв.", "flat")}


class _Privatization:
    """One run of the privatization rules; registry answers asked once and kept."""

    def __init__(self, p: PrivatizationParams, ask: Ask, reglament: Any, application_id: str, iin: str,
                 document: dict[str, Any], at: datetime) -> None:
        self.p, self.ask, self.reglament = p, ask, reglament
        self.iin, self.document = iin, document
        self.consent = f"application:{application_id}"
        self.today = to_local(at).date()
        self.findings = Findings(family=[iin])
        self._answers: dict[str, dict[str, Any] | None] = {}

    async def _registry(self, service: str) -> dict[str, Any] | None:
        if service not in self._answers:
            data: dict[str, Any] = {"iin": self.iin}
            if service == "GCVP_IncomesAndStatus":
                data["consentRef"] = self.consent
            self._answers[service] = await self.ask(service, data)
        return self._answers[service]

    async def person(self) -> dict[str, Any] | None:
        answer = await self._registry("GBDFL_UniversalServiceSync")
        return answer.get("person") if answer else None

    async def tenancy(self) -> dict[str, Any] | None:
        held = ((await self._registry("KZHF_CommunalTenancy")) or {}).get("tenancy")
        return held if isinstance(held, dict) else None

    async def free_status(self) -> str | None:
        """The status on record that makes the privatization free of charge, or None."""
        if not self.p.free_of_charge_statuses:
            return None
        answer = await self._registry("GCVP_IncomesAndStatus")
        held = held_statuses((answer or {}).get("statuses") or [], self.today)
        return next((name for name in self.p.free_of_charge_statuses if name in held), None)

    def _passed(self, rule: str) -> None:
        self.findings.passed.append(rule)

    async def run(self) -> Ground | None:
        for rule in (self.documents, self.applicant, self.state_tenancy, self.not_privatized, self.once):
            ground = await rule()
            if ground:
                return ground
        return None

    # -- the rules, in the order a refusal cites the first that fails --

    async def documents(self) -> Ground | None:
        """The documents of the Standard's item 9 are attached (seed 000 appendix 3, section 2,
        item 5.3: the executor checks the documents are complete)."""
        attached = {a.get("code") for a in self.document.get("attachments", []) if isinstance(a, dict)}
        ground = documents_ground([d for d in self.reglament.required_documents if d.code not in attached])
        if ground:
            return ground
        self._passed("documents")
        return None

    async def applicant(self) -> Ground | None:
        """The applicant is in ЖТ МДҚ, alive, with a valid identity document, and a citizen of
        Kazakhstan (the same reading of the person's fields as housing-need; that the state fund
        is privatized to citizens is the simulator's reading of the Standard's recipients)."""
        ground = person_ground(await self.person(), self.today, self.p.citizenship)
        if ground:
            return ground
        self._passed("applicant")
        return None

    async def state_tenancy(self) -> Ground | None:
        """The applicant holds in permanent use (a tenancy) a dwelling of the state housing fund
        -- one of ``funds`` -- in the settlement (seed 000 appendix 3, title and item 3: dwellings
        "of the state housing fund"; the settlement's own fund: the simulator's reading)."""
        held = await self.tenancy()
        settlement = self.p.settlement
        address = (held or {}).get("address") or {}
        if (held is None or not held.get("permanentUse", True)
                or _code(held.get("fund")) not in self.p.funds
                or _code(address.get("region")) != settlement.region
                or (settlement.city is not None and address.get("city") is not None
                    and _code(address.get("city")) != settlement.city)):
            return _g("no-state-tenancy",
                      "өтініш берушінің осы елді мекенде тұрақты пайдалануында мемлекеттік тұрғын үй қорынан "
                      "тұрғын үйі жоқ",
                      "у заявителя нет жилища из государственного жилищного фонда в постоянном пользовании "
                      "в данном населённом пункте",
                      "the applicant holds no dwelling of the state housing fund in permanent use in this settlement")
        self._passed("state-tenancy")
        return None

    async def not_privatized(self) -> Ground | None:
        """The dwelling is not privatized yet (``tenancy.privatized``)."""
        held = await self.tenancy() or {}
        if held.get("privatized"):
            where = address_text(held.get("address"))
            return _g("already-privatized", f"тұрғын үй бұрын жекешелендірілген: {where['kk']}",
                      f"жилище уже приватизировано: {where['ru']}", f"the dwelling is already privatized: {where['en']}")
        self._passed("not-privatized")
        return None

    async def once(self) -> Ground | None:
        """A citizen privatizes a dwelling of the state fund once: no earlier tenancy of the
        applicant ended by privatization (``formerTenancies[].terminationReason`` 02). The
        simulator's own reading of the housing law's once-only privatization; the seed is silent."""
        for former in ((await self._registry("KZHF_CommunalTenancy")) or {}).get("formerTenancies") or []:
            if isinstance(former, dict) and _code(former.get("terminationReason")) == TERMINATION_PRIVATIZED:
                where, when = address_text(former.get("address")), former.get("endDate", "")
                return _g("privatized-before",
                          f"өтініш беруші мемлекеттік тұрғын үй қорынан тұрғын үйді бұрын жекешелендірген: "
                          f"{where['kk']}, {when}",
                          f"заявитель ранее приватизировал жилище из государственного жилищного фонда: "
                          f"{where['ru']}, {when}",
                          f"the applicant has privatized a dwelling of the state housing fund before: "
                          f"{where['en']}, {when}")
        self._passed("once")
        return None


async def _check(params: BaseModel, ask: Ask, reglament: Any, application_id: str, iin: str,
                 document: dict[str, Any], at: datetime) -> tuple[Ground | None, Findings]:
    assert isinstance(params, PrivatizationParams)
    run = _Privatization(params, ask, reglament, application_id, iin, document, at)
    return await run.run(), run.findings


# ---- the cost of the dwelling ---------------------------------------------------------------------


def _number(value: Any, name: str) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"the registry's tenancy has no numeric {name} ({value!r}): the cost cannot be computed") from None
    if number < 0:
        raise ValueError(f"the registry's tenancy gives a negative {name} ({number})")
    return number


def cost(tenancy: dict[str, Any], free_status: str | None = None) -> dict[str, Any]:
    """The dwelling's cost from the registry's tenancy: the inputs, the formula, each step of the
    computation and the result (see ``FORMULA``, the simulator's own)."""
    area = _number(tenancy.get("area"), "area")
    inventory = _number(tenancy.get("inventoryValue"), "inventoryValue")
    wear = _number(tenancy.get("wearPercent"), "wearPercent")
    if wear > 100:
        raise ValueError(f"the registry's tenancy gives a wear of {wear} %, above 100 %")
    residual = round(inventory * (100 - wear) / 100, 2)
    due = 0.0 if free_status else residual
    computation = [
        f"{inventory:.2f} × (100 − {wear:g}) / 100 = {residual:.2f}",
        f"{residual:.2f} / {area:g} m² = {residual / area:.2f} per m²" if area else "area 0",
        f"sum due = {due:.2f}" + (f" (free of charge: {free_status})" if free_status else ""),
    ]
    return {
        "inputs": {"area": area, "inventoryValue": inventory, "wearPercent": wear, "fund": tenancy.get("fund")},
        "formula": FORMULA,
        "source": FORMULA_SOURCE,
        "computation": computation,
        "residualValue": residual,
        "pricePerSquareMetre": round(residual / area, 2) if area else None,
        "freeOfCharge": free_status,
        "sumDue": due,
        "currency": "KZT",
    }


# ---- the results ----------------------------------------------------------------------------------


def _money(value: float) -> str:
    return f"{value:,.2f}".replace(",", " ")


def _commission(facts: CaseFacts) -> dict[str, str]:
    sitting = (getattr(facts, "notes", None) or {}).get(COMMISSION_NOTE)
    if not isinstance(sitting, dict) or not sitting.get("date") or not sitting.get("protocol"):
        raise ValueError(f"{facts.application_id}: the housing commission has not sat on the case: its decision needs "
                         "the sitting's date and protocol number (the executor's operation hold-commission)")
    return {"date": str(sitting["date"]), "protocol": str(sitting["protocol"])}


def _fund_name(fund: Any) -> dict[str, str]:
    fund = fund if isinstance(fund, dict) else {}
    kk = fund.get("nameKz") or str(fund.get("code", ""))
    return {"kk": kk, "ru": fund.get("nameRu") or kk, "en": {COMMUNAL_FUND: "communal housing fund",
                                                             ENTERPRISE_FUND: "a state enterprise's housing fund",
                                                             INSTITUTION_FUND: "a state institution's housing fund"}
            .get(str(fund.get("code")), kk)}


def _dwelling(tenancy: dict[str, Any]) -> dict[str, Any]:
    return {"address": address_text(tenancy.get("address")), "fund": _fund_name(tenancy.get("fund")),
            "fundCode": _code(tenancy.get("fund")), "area": tenancy.get("area"), "since": tenancy.get("since")}


def _decision(facts: CaseFacts, dwelling: dict[str, Any]) -> dict[str, Any]:
    sitting = _commission(facts)
    where = dwelling["address"]
    return {
        "type": "commission-decision",
        "stage": 1,
        "commission": {"sittingDate": sitting["date"], "protocolNumber": sitting["protocol"]},
        "dwelling": dwelling,
        "text": {
            "kk": f"Тұрғын үй комиссиясы {sitting['date']} отырысында (хаттама № {sitting['protocol']}) "
                  f"{where['kk']} мекенжайындағы тұрғын үйді жекешелендіру туралы шешім қабылдады.",
            "ru": f"Жилищная комиссия на заседании {sitting['date']} (протокол № {sitting['protocol']}) "
                  f"приняла решение о приватизации жилища по адресу: {where['ru']}.",
            "en": f"The housing commission at its sitting of {sitting['date']} (protocol No. {sitting['protocol']}) "
                  f"decided to privatize the dwelling at {where['en']}.",
        },
    }


def _certificate(facts: CaseFacts, p: PrivatizationParams, dwelling: dict[str, Any], computed: dict[str, Any],
                 today: date, transfer: bool) -> dict[str, Any]:
    where, akimat = dwelling["address"], p.akimat
    due = _money(computed["sumDue"])
    document: dict[str, Any] = {
        "type": "transfer-to-communal-ownership" if transfer else "cost-certificate",
        "stage": 2,
        "dwelling": dwelling,
        "costCertificate": computed,
    }
    if transfer:
        document["transfer"] = {
            "from": dwelling["fund"],
            "to": {"kk": "коммуналдық тұрғын үй қоры", "ru": "коммунальный жилищный фонд", "en": "communal housing fund"},
            "resolution": {"body": akimat.model_dump(), "date": today.isoformat(),
                           "number": f"{facts.registration_number}/Т"},
        }
        document["text"] = {
            "kk": f"{akimat.kk} {today.isoformat()} № {facts.registration_number}/Т қаулысымен {where['kk']} "
                  f"мекенжайындағы тұрғын үй {dwelling['fund']['kk']} коммуналдық меншікке берілді. "
                  f"Тұрғын үйдің құны туралы анықтама: төленуі тиіс сома {due} теңге.",
            "ru": f"Постановлением {akimat.ru} от {today.isoformat()} № {facts.registration_number}/Т жилище по "
                  f"адресу {where['ru']} передано из фонда «{dwelling['fund']['ru']}» в коммунальную собственность. "
                  f"Справка о стоимости жилища: сумма к оплате {due} тенге.",
            "en": f"By resolution No. {facts.registration_number}/Т of {today.isoformat()} of {akimat.en} the dwelling "
                  f"at {where['en']} is transferred from {dwelling['fund']['en']} to communal ownership. "
                  f"Certificate of the dwelling's cost: sum due {due} tenge.",
        }
    else:
        document["text"] = {
            "kk": f"{where['kk']} мекенжайындағы тұрғын үйдің құны туралы анықтама: төленуі тиіс сома {due} теңге.",
            "ru": f"Справка о стоимости жилища по адресу {where['ru']}: сумма к оплате {due} тенге.",
            "en": f"Certificate of the cost of the dwelling at {where['en']}: sum due {due} tenge.",
        }
    return document


def _contract(facts: CaseFacts, p: PrivatizationParams, person: dict[str, Any], dwelling: dict[str, Any],
              computed: dict[str, Any], today: date) -> dict[str, Any]:
    where, akimat = dwelling["address"], p.akimat
    name = " ".join(str(person.get(k, "")) for k in ("surname", "name", "patronymic")).strip() or facts.applicant_iin
    free = computed["freeOfCharge"]
    price, due_by = computed["sumDue"], None if free else (today + timedelta(days=p.payment_days)).isoformat()
    number = f"{facts.registration_number}/Ш"
    if free:
        pay = {"kk": "Тұрғын үй тегін беріледі.", "ru": "Жилище передаётся безвозмездно.",
               "en": "The dwelling is transferred free of charge."}
    else:
        pay = {"kk": f"Бағасы {_money(price)} теңге, жергілікті бюджетке {due_by} дейін (шарт жасалған күннен бастап "
                     f"{p.payment_days} күнтізбелік күн ішінде) төленеді.",
               "ru": f"Цена {_money(price)} тенге вносится в местный бюджет до {due_by} (в течение {p.payment_days} "
                     f"календарных дней со дня заключения договора).",
               "en": f"The price of {_money(price)} tenge is paid into the local budget by {due_by} (within "
                     f"{p.payment_days} calendar days of the contract)."}
    return {
        "type": "privatization-contract",
        "stage": 3,
        "contract": {
            "number": number,
            "date": today.isoformat(),
            "parties": {"localExecutiveBody": akimat.model_dump(), "citizen": {"iin": facts.applicant_iin, "name": name}},
            "price": price,
            "currency": "KZT",
            "freeOfCharge": free,
            "paymentDue": due_by,
            "payee": {"kk": "жергілікті бюджет", "ru": "местный бюджет", "en": "the local budget"},
        },
        "valuation": computed,
        "dwelling": dwelling,
        "text": {
            "kk": f"Тұрғын үйді жекешелендіру туралы шарт № {number}, {today.isoformat()}: {akimat.kk} {where['kk']} "
                  f"мекенжайындағы тұрғын үйді {name} меншігіне береді. {pay['kk']}",
            "ru": f"Договор о приватизации жилища № {number} от {today.isoformat()}: {akimat.ru} передаёт в "
                  f"собственность {name} жилище по адресу {where['ru']}. {pay['ru']}",
            "en": f"Privatization contract No. {number} of {today.isoformat()}: {akimat.en} transfers the dwelling at "
                  f"{where['en']} into the ownership of {name}. {pay['en']}",
        },
    }


async def write_result(params: BaseModel, ask: Ask, reglament: Any, facts: CaseFacts, at: datetime) -> dict[str, Any]:
    """The approved result of ``facts.stage`` (1 the commission's decision, 2 the transfer with the
    cost certificate -- or the cost certificate alone for a communal dwelling, 3 the contract), or,
    for ``stage`` None, every result that applies in one document (``documents``)."""
    assert isinstance(params, PrivatizationParams)
    run = _Privatization(params, ask, reglament, facts.application_id, facts.applicant_iin, facts.document, at)
    tenancy = await run.tenancy()
    if tenancy is None:
        raise ValueError(f"{facts.application_id}: the registry no longer shows the applicant's tenancy")
    today = to_local(at).date()
    dwelling = _dwelling(tenancy)
    transfer = _code(tenancy.get("fund")) in params.transfer_funds

    async def computed() -> dict[str, Any]:
        return cost(tenancy, await run.free_status())

    if facts.stage == 1:
        return _decision(facts, dwelling)
    if facts.stage == 2:
        return _certificate(facts, params, dwelling, await computed(), today, transfer)
    if facts.stage == 3:
        return _contract(facts, params, await run.person() or {}, dwelling, await computed(), today)
    if facts.stage is not None:
        raise ValueError(f"privatization has stages 1-3, not {facts.stage}")
    figures = await computed()
    documents = [_decision(facts, dwelling)]
    if transfer:
        documents.append(_certificate(facts, params, dwelling, figures, today, True))
    documents.append(_contract(facts, params, await run.person() or {}, dwelling, figures, today))
    return {
        "type": "privatization",
        "documents": documents,
        "text": {lang: " ".join(d["text"][lang] for d in documents) for lang in ("kk", "ru", "en")},
    }


RULE_SET = register_rule_set(RuleSet(
    "privatization", PrivatizationParams, _check,
    "Privatization of a dwelling of the state housing fund (seed 000 appendix 3; seed 001): the commission's "
    "decision, the transfer to communal ownership with the cost certificate, the contract",
    result=write_result,
))
