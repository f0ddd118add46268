"""egov_sim.given.give_certificate: a person's key storage valid, revoked, expired or issued to
another ЖСН, as the CA and the validators see it."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from egov_sim.citizen import DEMO_CITIZEN
from egov_sim.clients import ClientError
from egov_sim.clients.registries import RegistriesAdminClient
from egov_sim.given import GivenRefused, give_certificate, give_records
from signatures.certificates import subject_info

ROOT = Path(__file__).resolve().parents[2]


async def test_each_kind_of_certificate_is_what_it_says(simulation):
    validator = simulation.runtime("gateway").validator
    now = await simulation.runtime("gateway").now()
    async with simulation.client("signatures") as ca:
        kinds = {kind: await give_certificate(ca, DEMO_CITIZEN, kind) for kind in ("valid", "revoked", "expired", "wrong-iin")}
        statuses = {kind: (await ca.get(f"/v1/certificates/{format(key.certificate.serial_number, 'x')}/status")).json()
                    for kind, key in kinds.items()}
    info = {kind: subject_info(key.certificate) for kind, key in kinds.items()}
    assert info["valid"]["iin"] == info["revoked"]["iin"] == info["expired"]["iin"] == DEMO_CITIZEN.iin
    assert info["wrong-iin"]["iin"] != DEMO_CITIZEN.iin and info["wrong-iin"]["iin"][:6] == DEMO_CITIZEN.iin[:6]
    assert info["wrong-iin"]["surname"] == DEMO_CITIZEN.surname
    assert info["expired"]["not_after"] < now < info["valid"]["not_after"]
    assert statuses["revoked"]["status"] == "revoked" and statuses["valid"]["status"] == "good"

    from signatures.jws import sign_detached
    verdicts = {kind: await validator.jws(sign_detached({"x": 1}, key.key, key.chain), {"x": 1}, at=now)
                for kind, key in kinds.items()}
    assert verdicts["valid"].valid and verdicts["wrong-iin"].valid
    assert not verdicts["revoked"].valid and not verdicts["expired"].valid

    async with simulation.client("signatures") as ca:
        with pytest.raises(ValueError):
            await give_certificate(ca, DEMO_CITIZEN, "stolen")  # type: ignore[arg-type]


async def test_the_registries_refusal_reaches_the_caller(simulation):
    async with simulation.client("registries", role="auditor") as registries:
        with pytest.raises(GivenRefused) as refused:
            await give_records(registries, {"persons": []})
    assert isinstance(refused.value, ClientError)  # the typed clients' refusal, with its code and texts
    assert refused.value.status == 403 and refused.value.system == "registries" and refused.value.code
    assert str(refused.value).startswith("registries: 403 ")
    assert refused.value.answer == refused.value.body and refused.value.answer["error"] == refused.value.code


async def test_the_admin_client_gives_records_and_names_each_bad_one(simulation):
    import yaml

    from registries.records import check_records

    fixtures = yaml.safe_load((ROOT / "registries" / "fixtures.yaml").read_text(encoding="utf-8"))
    person = check_records({"persons": fixtures["persons"][:1]}).documents()["persons"][0]  # JSON ready
    bad = person["iin"][:-1] + str((int(person["iin"][-1]) + 1) % 10)  # its check digit broken
    async with simulation.client("registries") as http:
        assert await RegistriesAdminClient(http).give_records({"persons": [person]}) == {"persons": 1, "powers_of_attorney": 0, "addresses": 0, "properties": 0, "incomes": 0, "tenancies": 0}
        with pytest.raises(ClientError) as refused:  # the registries' own check
            await RegistriesAdminClient(http).give_records({"persons": [{**person, "iin": bad}]})
        assert refused.value.status == 422 and refused.value.code == "records_invalid"
        assert refused.value.message_kk and refused.value.message_ru
        assert [(f["record"], f["field"]) for f in refused.value.fields] == [("persons[0]", "iin")]
        with pytest.raises(GivenRefused) as given:  # the helper's check, before any call: the same shape
            await give_records(http, {"persons": [{**person, "iin": bad}]})
    assert given.value.code == "records_invalid" and given.value.status == 422
    assert [(p["record"], p["field"]) for p in given.value.problems] == [("persons[0]", "iin")]


async def test_registries_that_do_not_answer_are_a_refusal_too():
    def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    async with httpx.AsyncClient(base_url="http://registries.invalid", transport=httpx.MockTransport(down)) as http:
        with pytest.raises(GivenRefused) as refused:
            await give_records(http, {"persons": []})
    assert refused.value.status == 0 and refused.value.code == "unreachable"
