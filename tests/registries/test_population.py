"""The synthetic population: deterministic, valid, realistic."""

from __future__ import annotations

from collections import Counter
from datetime import date

from registries.population import REFERENCE_DATE, generate
from simulation.identifiers import iin_birth_date, iin_gender, validate_iin


def everything(seed: int, size: int):
    chunks = list(generate(seed, size, chunk_persons=500))
    merged = {name: [r for c in chunks for r in getattr(c, name)]
              for name in ("persons", "powers", "addresses", "properties", "incomes", "tenancies")}
    return merged


def test_the_same_seed_gives_the_same_population_and_another_seed_another():
    first, again, other = everything(7, 1500), everything(7, 1500), everything(8, 1500)
    assert first == again
    assert [p["iin"] for p in first["persons"]] != [p["iin"] for p in other["persons"]]


def test_exact_size_unique_and_valid_iins_consistent_with_birth_and_gender():
    population = everything(2026, 3000)
    persons = population["persons"]
    assert len(persons) == 3000
    iins = [p["iin"] for p in persons]
    assert len(set(iins)) == len(iins)
    for person in persons:
        validate_iin(person["iin"])
        assert iin_birth_date(person["iin"]).isoformat() == person["birthDate"]
        assert str(iin_gender(person["iin"])) == person["gender"]["code"]


def test_families_are_consistent():
    persons = {p["iin"]: p for p in everything(11, 2000)["persons"]}
    for person in persons.values():
        for relation in person["familyRelations"]:
            other = persons[relation["iin"]]
            back = {r["iin"]: r["type"]["code"] for r in other["familyRelations"]}
            expected = {"01": "01", "02": "03", "03": "02"}[relation["type"]["code"]]
            assert back[person["iin"]] == expected
            if relation["type"]["code"] == "02":  # a child is younger than the parent
                assert other["birthDate"] > person["birthDate"]


def test_a_realistic_share_of_edge_cases():
    population = everything(2026, 8000)
    persons = population["persons"]
    adults = [p for p in persons if p["documents"]]
    households = len({p["regAddress"]["arCode"] for p in persons})
    share = lambda part, whole: part / whole  # noqa: E731
    deceased = sum(p["lifeStatus"]["code"] == "1" for p in persons)
    expired = sum(date.fromisoformat(p["documents"][0]["endDate"]) < REFERENCE_DATE for p in adults)
    invalid = sum(p["documents"][0]["status"]["code"] != "00" for p in adults)
    assert 0.004 < share(deceased, len(persons)) < 0.02
    assert 0.02 < share(expired, len(adults)) < 0.07
    assert 0.002 < share(invalid, len(adults)) < 0.025
    owners = sum(any(not r["alienationDate"] for r in p["rights"]) for p in population["properties"])
    sales = sum(any(r["alienationDate"] for r in p["rights"]) for p in population["properties"])
    assert 0.25 < share(owners, households) < 0.45 and 0.01 < share(sales, households) < 0.06
    unemployed = sum(i["unemployed"]["registered"] for i in population["incomes"])
    assert 0.015 < share(unemployed, len(population["incomes"])) < 0.07
    tenants = [t for t in population["tenancies"] if t["tenancy"]]
    assert 0.02 < share(len(tenants), households) < 0.09
    released = [t for t in population["tenancies"] if t.get("formerTenancies")]
    assert 0.002 < share(len(released), households) < 0.03
    rights = [r for p in population["properties"] for r in p["rights"]]
    assert all(r.get("alienationReason") for r in rights if r["alienationDate"])
    assert {r["alienationReason"]["code"] for r in rights if r["alienationDate"]} >= {"01", "03"}
    unsafe = [r for r in rights if r.get("emergencyAct")]
    assert unsafe and all(not r["alienationDate"] and r["emergencyAct"]["cause"]["code"] for r in unsafe)
    statuses = Counter(s["type"]["code"] for i in population["incomes"] for s in i.get("statuses", []))
    assert statuses["01"] > 0 and statuses["02"] + statuses["03"] + statuses["04"] > 0
    kinds = Counter(
        "revoked" if p["revoked"] else "out_of_scope" if p["scope"] == ["HousingCertificate"]
        else "expired" if date.fromisoformat(p["validTo"]) < REFERENCE_DATE else "valid"
        for p in population["powers"]
    )
    assert set(kinds) == {"valid", "expired", "revoked", "out_of_scope"}
    regions = Counter(p["regAddress"]["routeId"] for p in persons)
    assert set(regions) == {"almaty", "pavlodar", "karaganda", "wko"}
    low = [i for i in population["incomes"] if i["months"] and any(item["source"]["code"] == "03" for item in i["months"][0]["items"])]
    assert low, "somebody lives on benefits"
