"""The provider's rule set ``privatization`` (provider_ws/privatization.py) on registry answers of
its own: each ground for refusal, the cost formula on fixed tenancies, and each stage's document."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import pytest

from provider_ws.decision import RULE_SETS, CaseFacts, approved_result, check_grounds, validate_params
from provider_ws.privatization import COMMISSION_NOTE, cost

AT = datetime(2026, 3, 2, 6, 0, tzinfo=timezone.utc)  # 11:00 in Almaty
IIN = "900515401230"
PARAMS = {
    "settlement": {"region": "750000000", "city": "750000000"},
    "akimat": {"kk": "Алматы қаласының әкімдігі", "ru": "акимат города Алматы", "en": "the akimat of Almaty"},
    "free_of_charge_statuses": ["war-participant", "war-disabled"],
}
ALMATY = {"region": {"code": "750000000", "nameKz": "Алматы қ.", "nameRu": "г. Алматы"},
          "city": {"code": "750000000", "nameKz": "Алматы", "nameRu": "Алматы"},
          "street": "Розыбакиев көшесі", "building": "98", "flat": "14"}
PERSON = {
    "iin": IIN, "surname": "НҰРЛАНОВА", "name": "ӘЛИЯ", "patronymic": "СЕРІКҚЫЗЫ",
    "citizenship": {"code": "398"}, "lifeStatus": {"code": "0"},
    "documents": [{"status": {"code": "00"}, "endDate": "2031-06-09"}],
}
TENANCY = {
    "fund": {"code": "1", "nameKz": "Коммуналдық тұрғын үй қоры", "nameRu": "Коммунальный жилищный фонд"},
    "address": ALMATY, "since": "1987-06-01", "permanentUse": True,
    "area": 52.4, "inventoryValue": 11300000, "residualValue": 4900000, "wearPercent": 48, "privatized": False,
}
INSTITUTION = {"code": "3", "nameKz": "Мемлекеттік мекеменің тұрғын үй қоры", "nameRu": "Жилищный фонд госучреждения"}


@dataclass
class Doc:
    code: str
    kk: str
    ru: str
    en: str


@dataclass
class Reglament:
    required_documents: list[Doc]
    queue_lists: list[Any]

    def queue_list(self, code: str) -> None:
        return None


REGLAMENT = Reglament([Doc("identity", "жеке куәлік", "удостоверение", "identity document"),
                       Doc("consent", "келісім", "согласие", "consent of the family")], [])
REQUEST = {"applicant": {"iin": IIN}, "attachments": [{"code": "identity"}, {"code": "consent"}]}


def registries(person=PERSON, tenancy=TENANCY, former=None, statuses=None):
    answers = {
        "GBDFL_UniversalServiceSync": {"person": person} if person else None,
        "KZHF_CommunalTenancy": {"tenancy": tenancy, "formerTenancies": former or []},
        "GCVP_IncomesAndStatus": {"statuses": statuses or []},
    }
    asked: list[tuple[str, dict]] = []

    async def ask(service: str, data: dict[str, Any]) -> dict[str, Any] | None:
        asked.append((service, data))
        return copy.deepcopy(answers[service])

    ask.asked = asked  # type: ignore[attr-defined]
    return ask


async def ground_of(ask, document=REQUEST, params=PARAMS):
    ground, findings = await check_grounds("privatization", params, ask=ask, reglament=REGLAMENT,
                                           application_id="A-1", iin=IIN, document=document, at=AT)
    return (ground.code if ground else None), ground, findings


def test_registered_with_its_parameters_checked():
    assert "privatization" in RULE_SETS and RULE_SETS["privatization"].result is not None
    validate_params("privatization", PARAMS)
    with pytest.raises(ValueError, match="param funds: .*unknown fund codes"):
        validate_params("privatization", {**PARAMS, "funds": ["4"]})
    with pytest.raises(ValueError, match="param free_of_charge_statuses"):
        validate_params("privatization", {**PARAMS, "free_of_charge_statuses": ["hero"]})
    with pytest.raises(ValueError, match="param akimat"):
        validate_params("privatization", {k: v for k, v in PARAMS.items() if k != "akimat"})


async def test_a_communal_tenant_passes_every_rule():
    code, _, findings = await ground_of(registries())
    assert code is None
    assert findings.passed == ["documents", "applicant", "state-tenancy", "not-privatized", "once"]


async def test_institution_and_enterprise_dwellings_are_of_the_state_fund():
    for fund in ("2", "3"):
        code, _, _ = await ground_of(registries(tenancy={**TENANCY, "fund": {"code": fund}}))
        assert code is None


@pytest.mark.parametrize(("ask", "expected"), [
    (registries(person=None), "no-person"),
    (registries(person={**PERSON, "lifeStatus": {"code": "1"}}), "deceased"),
    (registries(person={**PERSON, "documents": [{"status": {"code": "00"}, "endDate": "2020-01-01"}]}),
     "no-identity-document"),
    (registries(person={**PERSON, "citizenship": {"code": "643"}}), "not-citizen"),
    (registries(tenancy=None), "no-state-tenancy"),
    (registries(tenancy={**TENANCY, "permanentUse": False}), "no-state-tenancy"),
    (registries(tenancy={**TENANCY, "address": {**ALMATY, "region": {"code": "550000000"}, "city": None}}),
     "no-state-tenancy"),
    (registries(tenancy={**TENANCY, "privatized": True}), "already-privatized"),
    (registries(former=[{"address": ALMATY, "endDate": "2001-04-02", "terminationReason": {"code": "02"}}]),
     "privatized-before"),
])
async def test_each_ground(ask, expected):
    code, ground, _ = await ground_of(ask)
    assert code == expected
    assert ground.kk and ground.ru and ground.en


async def test_a_tenancy_given_up_is_not_a_privatization_before():
    former = [{"address": ALMATY, "endDate": "2001-04-02", "terminationReason": {"code": "01"}}]
    code, _, _ = await ground_of(registries(former=former))
    assert code is None


async def test_missing_documents_are_named():
    code, ground, _ = await ground_of(registries(), document={**REQUEST, "attachments": [{"code": "identity"}]})
    assert code == "documents-incomplete" and "келісім" in ground.kk and "consent of the family" in ground.en


async def test_funds_the_definition_leaves_out_are_refused():
    code, _, _ = await ground_of(registries(), params={**PARAMS, "funds": ["2", "3"]})
    assert code == "no-state-tenancy"


def test_the_cost_formula_on_the_fixture_tenancy():
    computed = cost(TENANCY)
    # 11 300 000 × (100 − 48) / 100 = 5 876 000
    assert computed["residualValue"] == 5876000.0 and computed["sumDue"] == 5876000.0
    assert computed["pricePerSquareMetre"] == round(5876000 / 52.4, 2)
    assert computed["inputs"] == {"area": 52.4, "inventoryValue": 11300000.0, "wearPercent": 48.0,
                                  "fund": TENANCY["fund"]}
    assert computed["computation"][0] == "11300000.00 × (100 − 48) / 100 = 5876000.00"
    assert "simulator's own" in computed["source"]["en"]


def test_the_cost_free_of_charge_and_of_odd_data():
    free = cost({**TENANCY, "inventoryValue": 8000000, "wearPercent": 12.5}, "war-participant")
    assert free["residualValue"] == 7000000.0 and free["sumDue"] == 0.0 and free["freeOfCharge"] == "war-participant"
    with pytest.raises(ValueError, match="wearPercent"):
        cost({**TENANCY, "wearPercent": None})
    with pytest.raises(ValueError, match="above 100"):
        cost({**TENANCY, "wearPercent": 120})


def facts(stage, notes=None):
    return CaseFacts("A-1", "ALMP-20260302-0000ABCD", IIN, REQUEST, stage,
                     notes if notes is not None else {COMMISSION_NOTE: {"date": "2026-03-27", "protocol": "2026/4"}})


async def written(ask, stage, notes=None):
    return await approved_result("privatization", PARAMS, ask=ask, reglament=REGLAMENT, case=facts(stage, notes), at=AT)


async def test_stage_1_the_commission_decision():
    document = await written(registries(), 1)
    assert document["type"] == "commission-decision"
    assert document["commission"] == {"sittingDate": "2026-03-27", "protocolNumber": "2026/4"}
    assert "хаттама № 2026/4" in document["text"]["kk"] and "Розыбакиев көшесі 98, 14-пәтер" in document["text"]["kk"]
    with pytest.raises(ValueError, match="commission has not sat"):
        await written(registries(), 1, notes={})


async def test_stage_2_transfer_with_the_cost_certificate():
    document = await written(registries(tenancy={**TENANCY, "fund": INSTITUTION}), 2)
    assert document["type"] == "transfer-to-communal-ownership"
    assert document["transfer"]["resolution"] == {"body": PARAMS["akimat"], "date": "2026-03-02",
                                                  "number": "ALMP-20260302-0000ABCD/Т"}
    assert document["costCertificate"]["sumDue"] == 5876000.0
    assert "5 876 000.00 теңге" in document["text"]["kk"]
    communal = await written(registries(), 2)
    assert communal["type"] == "cost-certificate" and "transfer" not in communal


async def test_stage_3_the_contract_with_payment_due_or_free():
    document = await written(registries(), 3)
    contract = document["contract"]
    assert document["type"] == "privatization-contract"
    assert contract["parties"]["citizen"] == {"iin": IIN, "name": "НҰРЛАНОВА ӘЛИЯ СЕРІКҚЫЗЫ"}
    assert contract["price"] == 5876000.0 and contract["paymentDue"] == "2026-04-01"
    veteran = registries(statuses=[{"type": {"code": "07"}, "endDate": None}])
    free = (await written(veteran, 3))["contract"]
    assert free["price"] == 0.0 and free["paymentDue"] is None and free["freeOfCharge"] == "war-participant"
    assert any(service == "GCVP_IncomesAndStatus" and data.get("consentRef") == "application:A-1"
               for service, data in veteran.asked)


async def test_all_at_once_gives_each_result_that_applies():
    communal = await written(registries(), None)
    assert [d["type"] for d in communal["documents"]] == ["commission-decision", "privatization-contract"]
    institution = await written(registries(tenancy={**TENANCY, "fund": INSTITUTION}), None)
    assert [d["type"] for d in institution["documents"]] == [
        "commission-decision", "transfer-to-communal-ownership", "privatization-contract"]
    assert institution["type"] == "privatization" and "хаттама" in institution["text"]["kk"]
    with pytest.raises(ValueError, match="stages 1-3"):
        await written(registries(), 4)
