"""Records a tester gives the registries (PUT /api/admin/records; egov_sim.given.give_records):
answered through the gateway, replacing by key, all or nothing, refused naming record and field,
the administrator's alone -- and a given dwelling deciding a provider's answer on the portal."""

from __future__ import annotations

import copy
from datetime import date

import httpx
import pytest

from egov_sim.citizen import Citizen, apply_on_portal
from egov_sim.given import GivenRefused, give_records
from gateway_protocol.client import build_signed_request
from gateway_protocol.envelope import SYNC_PATH
from simulation.identifiers import make_iin

HEAD = make_iin(date(1987, 9, 14), 1, 7301)
SPOUSE = make_iin(date(1989, 2, 3), 2, 7302)
TWIN = make_iin(date(1987, 9, 14), 1, 7303)
CODED_KZ = {"code": "398", "nameKz": "ҚАЗАҚСТАН", "nameRu": "КАЗАХСТАН"}
ALMATY = {"code": "750000000", "nameKz": "Алматы қ.", "nameRu": "г. Алматы"}


def person(iin: str, surname: str, name: str, birth: str, relations=(), ar_code: str = "0201500733000001") -> dict:
    """A ГБД ФЛ person of Almaty, as registries/fixtures.yaml writes one."""
    return {
        "iin": iin, "surname": surname, "name": name, "patronymic": None, "birthDate": birth,
        "gender": {"code": "1", "nameKz": "Ер", "nameRu": "Мужской"},
        "nationality": {"code": "005", "nameKz": "ҚАЗАҚ", "nameRu": "КАЗАХ"},
        "citizenship": CODED_KZ, "lifeStatus": {"code": "0", "nameKz": "Тірі", "nameRu": "Жив"},
        "regAddress": {"country": CODED_KZ, "region": ALMATY, "city": {"code": "750000000", "nameKz": "Алматы",
                       "nameRu": "Алматы"}, "street": "Сейфуллин даңғылы", "building": "500", "flat": "12",
                       "beginDate": "2019-04-01", "status": {"code": "1", "nameKz": "Тұрақты", "nameRu": "Постоянная"},
                       "arCode": ar_code},
        "documents": [{"type": {"code": "002", "nameKz": "Жеке куәлік", "nameRu": "Удостоверение личности"},
                       "number": "049" + iin[-6:], "beginDate": "2021-06-10", "endDate": "2031-06-09",
                       "status": {"code": "00", "nameKz": "Жарамды", "nameRu": "Действителен"}}],
        "familyRelations": [{"type": {"code": "01", "nameKz": "Жұбайы", "nameRu": "Супруг(а)"}, "iin": other}
                            for other in relations],
    }


def history(iin: str, ar_code: str = "0201500733000001") -> dict:
    return {"iin": iin, "addresses": [{"arCode": ar_code, "region": ALMATY, "street": "Сейфуллин даңғылы",
                                       "building": "500", "flat": "12", "beginDate": date(2019, 4, 1), "endDate": None,
                                       "status": {"code": "1", "nameKz": "Тұрақты", "nameRu": "Постоянная"}}]}


DWELLING = {"cadastralNumber": "20:318:0733:0001", "type": {"code": "1", "nameKz": "Пәтер", "nameRu": "Квартира"},
            "address": {"street": "Сейфуллин даңғылы", "building": "500", "flat": "12"}, "area": 58.0, "rooms": 2,
            "share": "1/1", "acquisitionDate": "2019-04-01", "alienationDate": None}


async def ask(simulation, service_id: str, data: dict) -> httpx.Response:
    runtime = simulation.runtime("provider_ws")
    signed = build_signed_request(
        runtime.identity, sender_id="provider_ws", password=runtime.credentials.password_of("provider_ws"),
        service_id=service_id, data=data, message_date=await runtime.now(), correlation_id="given-1",
    )
    async with simulation.client("gateway") as gateway:
        return await gateway.post(SYNC_PATH, json=signed.model_dump(mode="json", exclude_none=True))


def data_of(reply: httpx.Response) -> dict:
    assert reply.status_code == 200, reply.text
    return reply.json()["response"]["responseData"]["data"]


async def test_a_given_family_is_answered_by_the_registries_through_the_gateway(simulation):
    head = person(HEAD, "ТАЛАПОВ", "НҰРБОЛ", "1987-09-14", relations=[SPOUSE])
    spouse = person(SPOUSE, "ТАЛАПОВА", "ДИНАРА", "1989-02-03", relations=[HEAD])
    assert (await ask(simulation, "GBDFL_UniversalServiceSync", {"iin": HEAD})).json()["errorInfo"]["errorCode"] \
        == "Provider.NotFound"
    async with simulation.client("registries") as registries:
        taken = await give_records(registries, {
            "persons": [head, spouse], "addresses": [history(HEAD)],
            "incomes": [{"iin": HEAD, "unemployed": {"registered": True, "since": date(2026, 5, 4)},
                         "months": [{"period": "2026-09", "items": [{"amount": 85000}]}]}],
            "powers_of_attorney": [{"number": "ДС-GIVEN-1", "date": "2026-01-10", "principalIin": HEAD,
                                    "attorneyIin": SPOUSE, "scope": ["HousingQueueRegistration"],
                                    "validFrom": "2026-01-10", "validTo": "2029-01-09"}],
        })
    assert taken == {"persons": 2, "powers_of_attorney": 1, "addresses": 1, "incomes": 1, "properties": 0,
                     "tenancies": 0}
    answered = data_of(await ask(simulation, "GBDFL_UniversalServiceSync", {"iin": HEAD}))["person"]
    assert answered == head
    assert answered["familyRelations"][0]["iin"] == SPOUSE
    incomes = data_of(await ask(simulation, "GCVP_IncomesAndStatus", {"iin": HEAD, "consentRef": "paper-1"}))
    assert incomes["unemployed"] == {"registered": True, "since": "2026-05-04"}
    assert incomes["averageMonthly"] == 85000
    addresses = data_of(await ask(simulation, "AR_AddressRegistrationHistory", {"iin": HEAD}))
    assert addresses["registeredPersons"] == [{"iin": HEAD, "beginDate": "2019-04-01"}]
    power = data_of(await ask(simulation, "ENIS_PowerOfAttorneyCheck", {
        "number": "ДС-GIVEN-1", "principalIin": HEAD, "attorneyIin": SPOUSE, "serviceId": "HousingQueueRegistration"}))
    assert power["status"] == "valid"

    # given again: the record of that ЖСН is replaced, not doubled; the fixtures' people stay
    renamed = {**head, "surname": "ТАЛАПҰЛЫ"}
    async with simulation.client("registries") as registries:
        await give_records(registries, {"persons": [renamed], "addresses": [{"iin": HEAD, "addresses": []}]})
    assert data_of(await ask(simulation, "GBDFL_UniversalServiceSync", {"iin": HEAD}))["person"]["surname"] == "ТАЛАПҰЛЫ"
    moved = data_of(await ask(simulation, "AR_AddressRegistrationHistory", {"iin": HEAD}))
    assert moved["currentAddress"] is None and moved["registeredPersons"] == []
    assert data_of(await ask(simulation, "GBDFL_UniversalServiceSync", {"iin": "900515401230"}))["person"]["name"] == "ӘЛИЯ"


async def test_one_bad_record_and_none_is_taken_each_problem_named(simulation):
    broken = person(HEAD, "ТАЛАПОВ", "НҰРБОЛ", "1987-09-14", relations=["900515401231"])
    async with simulation.client("registries") as registries:
        reply = await registries.put("/api/admin/records", json={
            "persons": [person(SPOUSE, "ТАЛАПОВА", "ДИНАРА", "1989-02-03"), broken],
            "incomes": [{"iin": HEAD, "months": [{"period": "2026-13", "items": [{"amount": "much"}]}]}],
            "properties": [{"iin": HEAD, "rights": [{**DWELLING, "acquisitionDate": "01.04.2019"}]},
                           {"iin": HEAD, "rights": []}],
        })
    assert reply.status_code == 422, reply.text
    body = reply.json()
    assert body["error"] == "records_invalid" and body["message_kk"] and body["message_ru"]
    problems = {(p["record"], p["field"]): p for p in body["fields"]}
    relation = problems[("persons[1]", "familyRelations[0].iin")]
    assert relation["key"] == f"ЖСН {HEAD}" and relation["rule"] == "checksum"
    assert relation["message_kk"].startswith("ЖСН") and relation["message_ru"].startswith("ИИН")
    assert ("incomes[0]", "months[0].period") in problems
    assert "much" in problems[("incomes[0]", "months[0].items[0].amount")]["problem"]
    assert "ISO" in problems[("properties[0]", "rights[0].acquisitionDate")]["problem"]
    assert ("properties[1]", "iin") in problems  # the same ЖСН twice in one request
    # nothing of it is taken: the valid spouse neither
    assert (await ask(simulation, "GBDFL_UniversalServiceSync", {"iin": SPOUSE})).json()["errorInfo"]["errorCode"] \
        == "Provider.NotFound"

    async with simulation.client("registries") as registries:
        with pytest.raises(GivenRefused) as refused:  # the helper names the same before it calls
            await give_records(registries, {"persons": [broken]})
        assert refused.value.problems[0]["field"] == "familyRelations[0].iin"
        for wrong in ({"pets": []}, [1, 2], {"persons": [{"iin": HEAD}]}):
            answer = await registries.put("/api/admin/records", json=wrong)
            assert answer.status_code == 422 and answer.json()["fields"], answer.text
        assert (await registries.put("/api/admin/records", content=b"{not json",
                                     headers={"Content-Type": "application/json"})).status_code == 422


async def test_only_the_administrator_gives_records(simulation):
    body = {"persons": [person(HEAD, "ТАЛАПОВ", "НҰРБОЛ", "1987-09-14")]}
    async with simulation.client("registries", role="auditor") as auditor:
        assert (await auditor.put("/api/admin/records", json=body)).status_code == 403
    async with simulation.client("registries", role=None) as anyone:
        assert (await anyone.put("/api/admin/records", json=body)).status_code == 401
    assert (await ask(simulation, "GBDFL_UniversalServiceSync", {"iin": HEAD})).status_code != 200


async def test_a_given_dwelling_makes_the_provider_refuse_a_queue_application(simulation):
    """The same family twice, once owning the flat it lives in: the provider refuses that one on
    the owner ground (almaty-queue on the portal), and not the other."""
    owner, tenant = person(HEAD, "ТАЛАПОВ", "НҰРБОЛ", "1987-09-14"), person(TWIN, "ТАЛАПОВ", "АРМАН", "1987-09-14",
                                                                          ar_code="0201500733000002")
    async with simulation.client("registries") as registries:
        await give_records(registries, {
            "persons": [owner, tenant], "addresses": [history(HEAD), history(TWIN, "0201500733000002")],
            "properties": [{"iin": HEAD, "rights": [DWELLING]}, {"iin": TWIN, "rights": []}],
        })
    grounds = {}
    for iin, name in ((HEAD, "НҰРБОЛ"), (TWIN, "АРМАН")):
        citizen = Citizen(iin, "ТАЛАПОВ", name, None, f"Given-{iin[-4:]}!")
        outcome = await apply_on_portal(simulation.client, "almaty-queue", citizen)
        assert outcome.application is not None, outcome.login_refused
        grounds[iin] = ((outcome.application.get("result") or {}).get("document") or {}).get("ground") or {}
    assert grounds[HEAD].get("code") == "owns-dwelling"
    assert grounds[TWIN].get("code") != "owns-dwelling"


def test_the_records_model_keeps_the_fixture_files_shape():
    """Every record of the shipped fixture file is a record the endpoint takes, field for field."""
    from pathlib import Path

    import yaml

    from registries.records import check_records

    data = yaml.safe_load((Path(__file__).resolve().parents[2] / "registries" / "fixtures.yaml").read_text("utf-8"))
    documents = check_records(copy.deepcopy(data)).documents()
    assert documents["persons"][0] == data["persons"][0]
    assert len(documents["incomes"]) == len(data["incomes"])
