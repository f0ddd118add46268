"""The registries through the gateway: documented fields, the five answers of the power-of-attorney
check, refusals that name the field, consent, the access log, and fixtures."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from egov_sim.inprocess import Simulation
from gateway_protocol.client import build_signed_request
from gateway_protocol.envelope import SYNC_PATH
from registries.loader import FixtureError, read_fixtures
from simulation.database import drop_run
from simulation.settings import Settings
from simulation.topology import SYSTEMS

ALIYA = "900515401230"
PERSON_FIELDS = {"iin", "surname", "name", "birthDate", "gender", "nationality", "citizenship", "lifeStatus",
                 "regAddress", "documents"}

FIXTURES = """
persons:
  - iin: "780120300886"
    surname: ТЕСТОВ
    name: ТЕСТ
    birthDate: "1978-01-20"
    gender: {code: "1", nameKz: Ер, nameRu: Мужской}
    lifeStatus: {code: "0", nameKz: Тірі, nameRu: Жив}
    documents: []
powers_of_attorney:
  - {number: P-VALID, date: "2025-06-01", notary: N, principalIin: "780120300886", attorneyIin: "900515401230",
     scope: [HousingQueueRegistration], validFrom: "2025-06-01", validTo: "2028-05-31", revoked: false}
  - {number: P-EXPIRED, date: "2020-01-01", notary: N, principalIin: "780120300886", attorneyIin: "900515401230",
     scope: [HousingQueueRegistration], validFrom: "2020-01-01", validTo: "2021-01-01", revoked: false}
  - {number: P-REVOKED, date: "2025-06-01", notary: N, principalIin: "780120300886", attorneyIin: "900515401230",
     scope: [HousingQueueRegistration], validFrom: "2025-06-01", validTo: "2028-05-31", revoked: true}
  - {number: P-SCOPE, date: "2025-06-01", notary: N, principalIin: "780120300886", attorneyIin: "900515401230",
     scope: [HousingCertificate], validFrom: "2025-06-01", validTo: "2028-05-31", revoked: false}
properties:
  - iin: "780120300886"
    rights:
      - {cadastralNumber: "20:311:0123:4567", type: {code: "1", nameKz: Пәтер, nameRu: Квартира}, area: 54.3,
         rooms: 2, share: 1/1, acquisitionDate: "2012-03-01", alienationDate: "2024-02-10"}
tenancies:
  - iin: "780120300886"
    tenancy: {fund: {code: "1", nameKz: Коммуналдық тұрғын үй қоры, nameRu: Коммунальный жилищный фонд},
              since: "2005-01-01", permanentUse: true, area: 48.0, inventoryValue: 9600000, residualValue: 4100000}
"""


@pytest.fixture
async def run(tmp_path):
    fixture = tmp_path / "people.yaml"
    fixture.write_text(FIXTURES, encoding="utf-8")
    settings = Settings(data_dir=tmp_path / "run", population_size=400, registry_fixtures=[fixture], seed_people=False)
    simulation = Simulation(settings)
    simulation.systems = ("signatures", "gateway", "registries", "provider_ws", "corporation_ws")  # who asks, who answers
    async with simulation:
        yield simulation
    await drop_run(settings, (*SYSTEMS, "simulation"))


async def ask(run, service_id: str, data: dict, sender: str = "provider_ws") -> httpx.Response:
    runtime = run.runtime(sender)
    signed = build_signed_request(
        runtime.identity, sender_id=sender, password=runtime.credentials.password_of(sender), service_id=service_id,
        data=data, message_date=await runtime.now(), correlation_id="case-1",
    )
    async with run.client("gateway") as gateway:
        return await gateway.post(SYNC_PATH, json=signed.model_dump(mode="json", exclude_none=True))


def data_of(reply: httpx.Response) -> dict:
    assert reply.status_code == 200, reply.text
    return reply.json()["response"]["responseData"]["data"]


async def generated_iins(run, count: int) -> list[str]:
    from registries.models import PersonRecord
    from sqlmodel import select

    data_of(await ask(run, "GBDFL_UniversalServiceSync", {"iin": ALIYA}))  # the registries have loaded

    async with run.runtime("registries").db.session() as session:
        return list((await session.exec(select(PersonRecord.iin).where(PersonRecord.source == "generated").limit(count))).all())


async def test_every_registry_answers_with_its_fields(run):
    for iin in [ALIYA, *(await generated_iins(run, 3))]:
        person = data_of(await ask(run, "GBDFL_UniversalServiceSync", {"iin": iin}))
        assert person["result"]["code"] == "00000"
        assert PERSON_FIELDS <= set(person["person"]), iin
        assert set(person["person"]["gender"]) == {"code", "nameKz", "nameRu"}
        addresses = data_of(await ask(run, "AR_AddressRegistrationHistory", {"iin": iin}))
        assert addresses["currentAddress"]["beginDate"] and addresses["daysAtCurrentAddress"] >= 0
        rights = data_of(await ask(run, "GBDRN_RealEstateRights", {"iin": iin, "consentRef": "ЭҮП-42"}))
        assert set(rights) == {"result", "iin", "rights", "owns"}
        incomes = data_of(await ask(run, "GCVP_IncomesAndStatus", {"iin": iin, "consentRef": "ЭҮП-42"}))
        assert {"months", "unemployed", "averageMonthly"} <= set(incomes)
        tenancy = data_of(await ask(run, "KZHF_CommunalTenancy", {"iin": iin}))
        assert "tenancy" in tenancy
    fixture = data_of(await ask(run, "GBDRN_RealEstateRights", {"iin": "780120300886", "consentRef": "c"}))
    assert fixture["owns"] is False and fixture["rights"][0]["alienationDate"] == "2024-02-10"
    tenancy = data_of(await ask(run, "KZHF_CommunalTenancy", {"iin": "780120300886"}))["tenancy"]
    assert tenancy["residualValue"] == 4100000


async def test_what_the_housing_rules_read_is_in_the_answers(run):
    """The fields the provider's housing-need rules read, on the fixture families."""
    son, mother = "800915399125", "550404499134"
    here = data_of(await ask(run, "AR_AddressRegistrationHistory", {"iin": son}))
    assert {p["iin"] for p in here["registeredPersons"]} == {son, mother}
    assert here["currentAddress"]["arCode"] == "0201500700000110"
    child = data_of(await ask(run, "GCVP_IncomesAndStatus", {"iin": "150901699056", "consentRef": "c"}))
    assert [s["type"]["code"] for s in child["statuses"]] == ["01"] and child["averageMonthly"] == 0.0
    assert data_of(await ask(run, "GCVP_IncomesAndStatus", {"iin": ALIYA, "consentRef": "c"}))["statuses"] == []
    left = data_of(await ask(run, "KZHF_CommunalTenancy", {"iin": "830313399221"}))
    assert left["tenancy"] is None and left["formerTenancies"][0]["terminationReason"]["code"] == "01"
    bought_out = data_of(await ask(run, "GBDRN_RealEstateRights", {"iin": "860606399210", "consentRef": "c"}))
    assert bought_out["owns"] is False and bought_out["rights"][0]["alienationReason"]["code"] == "05"
    unsafe = data_of(await ask(run, "GBDRN_RealEstateRights", {"iin": "700312399011", "consentRef": "c"}))
    assert unsafe["owns"] is True and unsafe["rights"][0]["emergencyAct"]["cause"]["code"] == "01"


@pytest.mark.parametrize(("number", "principal", "service", "status"), [
    ("P-VALID", "780120300886", "HousingQueueRegistration", "valid"),
    ("P-EXPIRED", "780120300886", "HousingQueueRegistration", "expired"),
    ("P-REVOKED", "780120300886", "HousingQueueRegistration", "revoked"),
    ("P-SCOPE", "780120300886", "HousingQueueRegistration", "out_of_scope"),
    ("P-NONE", "780120300886", "HousingQueueRegistration", "not_found"),
    ("P-VALID", "851102304571", "HousingQueueRegistration", "not_found"),
])
async def test_the_power_of_attorney_check(run, number, principal, service, status):
    answer = data_of(await ask(run, "ENIS_PowerOfAttorneyCheck", {
        "number": number, "principalIin": principal, "attorneyIin": ALIYA, "serviceId": service,
    }, sender="corporation_ws"))
    assert answer["status"] == status
    assert ("powerOfAttorney" in answer) == (status != "not_found")


async def test_refusals_name_the_field_and_not_found_is_not_unavailable(run):
    bad = await ask(run, "GBDFL_UniversalServiceSync", {"iin": "900515401231"})
    assert bad.status_code == 400
    info = bad.json()["errorInfo"]
    assert info["errorCode"] == "Provider.RequestInvalid" and info["errorData"]["field"] == "iin"
    assert info["errorData"]["rule"] == "checksum"
    unknown = await ask(run, "GBDFL_UniversalServiceSync", {"iin": "780120300887"})
    assert unknown.json()["errorInfo"]["errorCode"] == "Provider.RequestInvalid"
    from simulation.identifiers import make_iin
    from datetime import date

    nobody = make_iin(date(1950, 1, 1), 1, 9999)
    absent = await ask(run, "GBDFL_UniversalServiceSync", {"iin": nobody})
    assert absent.status_code == 404 and absent.json()["errorInfo"]["errorCode"] == "Provider.NotFound"
    async with run.client("gateway") as gateway:
        await gateway.put("/admin/faults/GBDFL_UniversalServiceSync", json={"mode": "unreachable"})
    down = await ask(run, "GBDFL_UniversalServiceSync", {"iin": ALIYA})
    assert down.status_code == 502 and down.json()["errorInfo"]["errorCode"] == "Server.ProviderUnavailable"


async def test_consent_is_required_for_incomes_and_property_and_every_access_is_logged(run):
    refused = await ask(run, "GCVP_IncomesAndStatus", {"iin": ALIYA})
    assert refused.status_code == 403
    assert refused.json()["errorInfo"]["errorCode"] == "Provider.ConsentRequired"
    assert refused.json()["errorInfo"]["errorData"]["field"] == "consentRef"
    data_of(await ask(run, "GCVP_IncomesAndStatus", {"iin": ALIYA, "consentRef": "ЭҮП-2026-77"}))
    async with run.client("registries") as registries:
        log = (await registries.get("/api/access-log", params={"iin": ALIYA})).json()
    latest, earlier = log[0], log[1]
    assert latest["requester"] == "provider_ws" and latest["purpose"] == "GCVP_IncomesAndStatus"
    assert latest["consentRef"] == "ЭҮП-2026-77" and latest["outcome"] == "found"
    assert latest["correlationId"] == "case-1"
    assert earlier["outcome"] == "refused: Provider.ConsentRequired"


async def test_the_registries_are_reachable_only_through_the_gateway(run):
    runtime = run.runtime("provider_ws")
    signed = build_signed_request(
        runtime.identity, sender_id="provider_ws", password=runtime.credentials.password_of("provider_ws"),
        service_id="GBDFL_UniversalServiceSync", data={"iin": ALIYA}, message_date=await runtime.now(),
    )
    async with run.client("registries") as registries:
        direct = await registries.post(SYNC_PATH, json=signed.model_dump(mode="json", exclude_none=True))
    assert direct.status_code == 403 and direct.json()["errorInfo"]["errorCode"] == "Client.HopNotTrusted"


def test_fixture_errors_name_the_file_entry_and_field(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text('persons:\n  - {iin: "900515401231", surname: X}\n', encoding="utf-8")
    with pytest.raises(FixtureError, match=r"bad.yaml: persons\[0\]: iin: check digit"):
        read_fixtures(bad)
    bad.write_text("powers_of_attorney:\n  - {number: X}\n", encoding="utf-8")
    with pytest.raises(FixtureError, match=r"powers_of_attorney\[0\]: missing"):
        read_fixtures(bad)
    bad.write_text("pets: []\n", encoding="utf-8")
    with pytest.raises(FixtureError, match="unknown sections"):
        read_fixtures(bad)
    assert read_fixtures(Path(__file__).resolve().parents[2] / "registries" / "fixtures.yaml").persons
