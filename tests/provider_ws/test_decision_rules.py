"""The provider's housing-need rules (3-шарт), each corrected rule on a family it decides, asked of
the real registries through a real in-process gateway (the fixture families of
registries/fixtures.yaml), with the parameters and queue lists of almaty-queue's definition."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
import yaml

from egov_sim.inprocess import Simulation
from provider_ws.decision import RULE_SETS, HousingNeedParams, check_grounds, gateway_ask, validate_params
from simulation.database import drop_run
from simulation.settings import Settings
from simulation.topology import SYSTEMS

NEEDED = ("signatures", "gateway", "gateway-almaty", "registries", "provider_ws")
"""The systems a provider's check goes through: the CA they enrol with, both gateways, the registries."""
DEFINITION = Path(__file__).resolve().parents[2] / "reglaments" / "definitions" / "almaty-queue.yaml"
AT = datetime(2026, 3, 2, 6, 0, tzinfo=timezone.utc)
ALIYA = "900515401230"
OSPANOV = "800404305123"
IIN = {  # the fixture families (registries/fixtures.yaml)
    "unsafe": "700312399011", "unsafe-fault": "750620399025", "veteran": "260409399035",
    "disabled-mother": "880214499040", "disabled-child": "150901699056", "income-mother": "870707499069",
    "orphan": "041010599086", "foreigner": "830125399091", "pavlodar": "921201499101",
    "temporary": "950808399118", "co-owner-son": "800915399125", "co-owner-mother": "550404499134",
    "apart-son": "821111399145", "tenant-son": "790505399166", "exchange": "850303399181", "sale": "840404399199",
    "old-sale": "800808499203", "mortgage": "860606399210", "left": "830313399221", "host": "780707399231",
    "newborn-mother": "910505499259", "newborn": "220303599262",
}


@dataclass
class Listed:
    code: str
    kk: str
    ru: str
    en: str
    income_test: bool = False


@dataclass
class Definition:
    """The parts of almaty-queue's definition the rules read, as the file gives them."""

    required_documents: list[Listed]
    queue_lists: list[Listed]
    income_documents: list[str]
    decision: dict[str, Any]

    def queue_list(self, code: str) -> Listed | None:
        return next((q for q in self.queue_lists if q.code == code), None)


def definition() -> Definition:
    data = yaml.safe_load(DEFINITION.read_text(encoding="utf-8"))
    return Definition([Listed(**d) for d in data["required_documents"]], [Listed(**q) for q in data["queue_lists"]],
                      data.get("income_documents") or [], data["decision"])


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("decision")
    settings = Settings(data_dir=tmp / "run", population_size=300)
    simulation = Simulation(settings)
    simulation.systems = NEEDED  # the rules need only these; the other systems are not started
    async with simulation:
        yield simulation
    await drop_run(settings, (*SYSTEMS, "simulation"))


async def decide(run, who: str, queue_list: str, documents: list[str] | None = None, **extra: Any):
    reglament = definition()
    params = dict(reglament.decision)
    rules = params.pop("rules")
    iin = IIN.get(who, who)
    codes = [d.code for d in reglament.required_documents] if documents is None else documents
    document = {"applicant": {"iin": iin}, "form": {"queueList": queue_list},
                "attachments": [{"code": c} for c in codes], **extra}
    ask = gateway_ask(run.runtime("provider_ws").gateway("gateway-almaty"), f"test-{who}-{queue_list}")
    return await check_grounds(rules, params, ask=ask, reglament=reglament, application_id=f"test-{who}",
                               iin=iin, document=document, at=AT)


async def code_of(run, who: str, queue_list: str, **kwargs: Any) -> str | None:
    ground, _ = await decide(run, who, queue_list, **kwargs)
    return ground.code if ground else None


# ---- the definition's parameters ----------------------------------------------------------------


def test_the_definition_names_the_rule_set_and_its_parameters_are_valid():
    decision = dict(definition().decision)
    assert decision.pop("rules") in RULE_SETS
    validate_params("housing-need", decision)
    assert HousingNeedParams.model_validate(decision).threshold(2026) == pytest.approx(3.1 * 50851)


@pytest.mark.parametrize(("change", "message"), [
    ({"income_multiplier": 0}, r"param income_multiplier: .*greater than 0"),
    ({"subsistence_minimum": {}}, r"param subsistence_minimum: "),
    ({"subsistence_minimum": {2026: -1}}, r"param subsistence_minimum: .*positive"),
    ({"worsening_lookback_years": "five"}, r"param worsening_lookback_years: "),
    ({"settlement": {"region": "Almaty"}}, r"param settlement.region: "),
    ({"income_exempt_statuses": ["veteran"]}, r"param income_exempt_statuses: .*unknown statuses \['veteran'\]"),
    ({"confirmed_categories": {"war-veterans": ["hero"]}}, r"param confirmed_categories: war-veterans: needs known statuses"),
    ({"colour": "blue"}, r"param colour: "),
])
def test_a_wrong_parameter_is_named(change, message):
    params = {k: v for k, v in definition().decision.items() if k != "rules"}
    with pytest.raises(ValueError, match=message):
        validate_params("housing-need", {**params, **change})


def test_an_unknown_rule_set_is_named():
    # the names registered besides (a certificate's, privatization's) depend on what is imported
    with pytest.raises(ValueError, match=r"rules: no rule set 'housing-needs' \(there are: housing-need[,)]"):
        validate_params("housing-needs", {})


# ---- the rules, each on a family it decides -----------------------------------------------------
# One simulation for the module: the tests below only read the registries.


@pytest.mark.asyncio(loop_scope="module")
async def test_the_demo_characters_decide_as_before(run):
    ground, findings = await decide(run, ALIYA, "socially-vulnerable")
    assert ground is None and findings.family == [ALIYA]
    assert findings.income_per_member is not None and findings.income_per_member < findings.threshold
    assert await code_of(run, OSPANOV, "socially-vulnerable") == "owns-dwelling"


@pytest.mark.asyncio(loop_scope="module")
async def test_1_an_only_dwelling_declared_unsafe_is_eligible_on_the_unsafe_list_only(run):
    assert await code_of(run, "unsafe", "unsafe-dwelling") is None
    assert await code_of(run, "unsafe", "socially-vulnerable") == "owns-dwelling"
    assert await code_of(run, ALIYA, "unsafe-dwelling") == "no-unsafe-dwelling"      # owns nothing
    assert await code_of(run, OSPANOV, "unsafe-dwelling") == "no-unsafe-dwelling"    # owns a sound flat
    ground, _ = await decide(run, "unsafe-fault", "unsafe-dwelling")                 # unsafe by own fault
    assert ground.code == "deliberate-worsening" and "12.3" in ground.en


@pytest.mark.asyncio(loop_scope="module")
async def test_2_the_war_veterans_list_exists_and_its_category_is_confirmed(run):
    ground, findings = await decide(run, "veteran", "war-veterans")
    assert ground is None and findings.income_per_member is None                      # no income test
    assert await code_of(run, ALIYA, "war-veterans") == "category-not-confirmed"


@pytest.mark.asyncio(loop_scope="module")
async def test_3_no_income_test_for_orphans_and_families_with_disabled_children(run):
    ground, findings = await decide(run, "disabled-mother", "socially-vulnerable")
    assert ground is None and findings.income_exempt == "disabled-child"
    assert sorted(findings.family) == sorted([IIN["disabled-mother"], IIN["disabled-child"]])
    ground, findings = await decide(run, "income-mother", "socially-vulnerable")      # same income, no status
    assert ground.code == "income-above-threshold" and findings.income_per_member == 175000
    ground, findings = await decide(run, "orphan", "socially-vulnerable")
    assert ground is None and findings.income_exempt == "orphan"


@pytest.mark.asyncio(loop_scope="module")
async def test_4_citizenship_and_permanent_residence_in_the_settlement(run):
    assert await code_of(run, "foreigner", "socially-vulnerable") == "not-citizen"
    assert await code_of(run, "pavlodar", "socially-vulnerable") == "no-residence"
    assert await code_of(run, "temporary", "socially-vulnerable") == "no-residence"
    ground, _ = await decide(run, OSPANOV, "socially-vulnerable")  # no address-registry record: regAddress
    assert ground.code == "owns-dwelling"


@pytest.mark.asyncio(loop_scope="module")
async def test_5_every_family_member_living_with_the_applicant_counts(run):
    ground, findings = await decide(run, "co-owner-son", "socially-vulnerable")
    assert ground.code == "owns-dwelling" and IIN["co-owner-mother"] in findings.family
    ground, findings = await decide(run, "apart-son", "socially-vulnerable")        # mother lives elsewhere
    assert ground is None and findings.family == [IIN["apart-son"]]
    assert await code_of(run, "tenant-son", "socially-vulnerable") == "communal-tenant"


@pytest.mark.asyncio(loop_scope="module")
async def test_6_income_papers_only_on_income_tested_lists(run):
    without = ["identity", "family-composition", "category"]
    assert await code_of(run, ALIYA, "civil-servants", documents=without) is None
    ground, _ = await decide(run, ALIYA, "socially-vulnerable", documents=without)
    assert ground.code == "documents-incomplete" and "12" in ground.en


@pytest.mark.asyncio(loop_scope="module")
@pytest.mark.parametrize(("who", "item"), [("exchange", 1), ("sale", 2), ("left", 4), ("host", 5)])
async def test_7_the_forms_of_deliberate_worsening(run, who, item):
    ground, _ = await decide(run, who, "socially-vulnerable")
    assert ground is not None and ground.code == "deliberate-worsening", ground
    assert f"item 12.{item}" in ground.en and f"подпункт {item}" in ground.ru


@pytest.mark.asyncio(loop_scope="module")
async def test_7_what_is_not_deliberate_worsening(run):
    assert await code_of(run, "old-sale", "socially-vulnerable") is None             # sold seven years ago
    assert await code_of(run, "mortgage", "socially-vulnerable") is None             # bought out under the mortgage
    ground, findings = await decide(run, "newborn-mother", "socially-vulnerable")    # a minor child moved in
    assert ground is None and IIN["newborn"] in findings.family


@pytest.mark.asyncio(loop_scope="module")
async def test_a_list_the_definition_does_not_know_is_refused(run):
    assert await code_of(run, ALIYA, "astronauts") == "no-category"
