""""Е-әкімдік" behind the West Kazakhstan gateway: a registration through ЭҮШ → ЭҮАШ, the per-year
number sequence, the same application twice, each refusal with its code and field, and the
gateway refusing a caller without the right or a message on the wrong route."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest

from egov_sim.inprocess import Simulation
from gateway_protocol.client import build_signed_request
from gateway_protocol.envelope import HOP_HEADER, SYNC_PATH, SignedResponse, signed_content
from signatures.jws import verify_detached
from simulation.database import drop_run
from simulation.settings import Settings
from simulation.topology import SYSTEMS
from tests.conftest import gateway_fault

SERVICE = "EAKIMDIK_DocumentRegistration"
ALIYA = "900515401230"


@pytest.fixture
async def run(tmp_path):
    settings = Settings(
        data_dir=tmp_path / "run", population_size=0, seed_people=False,
        clock_start=datetime.fromisoformat("2026-12-31T22:00:00+05:00"),
    )
    async with Simulation(settings) as simulation:
        yield simulation
    await drop_run(settings, (*SYSTEMS, "simulation"))


def registration(application_id: str = "app-1", **changes: Any) -> dict[str, Any]:
    data = {
        "applicationId": application_id,
        "reglament": "wko-queue",
        "applicantIin": ALIYA,
        "documentKind": "electronic-request",
        "title": "Тұрғын үйге мұқтаж ретінде есепке қою туралы өтініш",
        "executor": "Серікова А.",
    }
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


async def send(
    run: Simulation, data: Any, *, sender: str = "provider_ws", route_id: str | None = "wko",
    via: str = "gateway", service_id: str = SERVICE,
) -> httpx.Response:
    runtime = run.runtime(sender)
    signed = build_signed_request(
        runtime.identity, sender_id=sender, password=runtime.credentials.password_of(sender), service_id=service_id,
        data=data, message_date=await runtime.now(), route_id=route_id, correlation_id="case-wko-1",
    )
    async with run.client(via) as gateway:
        return await gateway.post(SYNC_PATH, json=signed.model_dump(mode="json", exclude_none=True))


def answer(reply: httpx.Response) -> dict[str, Any]:
    assert reply.status_code == 200, reply.text
    return reply.json()["response"]["responseData"]["data"]


async def test_a_registration_goes_through_both_gateways_and_comes_back_signed(run):
    reply = await send(run, registration())
    signed = SignedResponse.model_validate(reply.json())
    assert signed.response.responseInfo.status.code == "SCSS001"
    verdict = verify_detached(
        signed.signature, signed_content(signed.response),
        trusted_roots=run.runtime("gateway").trusted_roots, at=await run.runtime("gateway").now(),
    )
    assert verdict.valid and verdict.signer["common_name"] == "e_akimdik"

    data = answer(reply)
    assert data["registrationNumber"] == "EAK-2026-000001"
    assert data["registeredAt"] == "2026-12-31T22:00:00+05:00"
    assert data["alreadyRegistered"] is False
    assert "EAK-2026-000001" in data["message"]["kk"] and data["message"]["ru"] and data["message"]["en"]
    registered = data["registered"]
    assert registered["applicationId"] == "app-1" and registered["applicantIin"] == ALIYA
    assert registered["reglament"]["code"] == "wko-queue" and "Батыс Қазақстан" in registered["reglament"]["nameKz"]
    assert registered["documentKind"]["code"] == "electronic-request"
    assert registered["documentKind"]["nameKz"].endswith("сұраныс")
    assert registered["executor"] == "Серікова А." and registered["registeredBy"] == "provider_ws"

    async with run.client("gateway") as central, run.client("gateway-wko") as regional:
        through_centre = (await central.get("/v1/messages", params={"serviceId": SERVICE})).json()
        through_region = (await regional.get("/v1/messages", params={"serviceId": SERVICE})).json()
    assert [(m["sender"], m["recipient"], m["status"]) for m in through_centre] == [
        ("provider_ws", "gateway-wko", "RECEIVED")
    ]
    assert [(m["cameFrom"], m["recipient"]) for m in through_region] == [("gateway", "e_akimdik")]

    async with run.client("e_akimdik") as e_akimdik:
        by_number = (await e_akimdik.get("/api/registrations/EAK-2026-000001")).json()
        by_application = (await e_akimdik.get("/api/registrations/by-application/app-1")).json()
        listed = (await e_akimdik.get("/api/registrations", params={"applicantIin": ALIYA})).json()
    assert by_number == by_application == listed[0]
    assert by_number["title"] == registration()["title"]


async def test_the_workstation_reaches_e_akimdik_from_its_own_regional_gateway(run):
    # ЭҮӨШ Almaty → ЭҮШ → ЭҮАШ West Kazakhstan → Е-әкімдік, and the answer back the same way.
    data = answer(await send(run, registration("from-almaty"), via="gateway-almaty"))
    assert data["registrationNumber"] == "EAK-2026-000001"
    async with run.client("gateway-almaty") as almaty:
        [record] = (await almaty.get("/v1/messages", params={"serviceId": SERVICE})).json()
    assert record["recipient"] == "gateway"


async def test_numbers_run_per_year_gap_free_under_concurrency(run):
    # (two processes sharing the database: tests/runtime/test_registration.py)
    replies = await asyncio.gather(*(send(run, registration(f"app-{n}")) for n in range(1, 13)))
    numbers = sorted(answer(r)["registrationNumber"] for r in replies)
    assert numbers == [f"EAK-2026-{n:06d}" for n in range(1, 13)]

    # the same new application five times at once: one number, the others get it back
    same = await asyncio.gather(*(send(run, registration("app-same")) for _ in range(5)))
    answers = [answer(r) for r in same]
    assert {a["registrationNumber"] for a in answers} == {"EAK-2026-000013"}
    assert sorted(a["alreadyRegistered"] for a in answers) == [False, True, True, True, True]

    await run.runtime("control").clock.advance(timedelta(hours=3))  # 1 January 2027, 01:00
    first = answer(await send(run, registration("app-2027")))
    assert first["registrationNumber"] == "EAK-2027-000001"
    assert first["registeredAt"] == "2027-01-01T01:00:00+05:00"

    async with run.client("e_akimdik") as e_akimdik:
        of_2026 = (await e_akimdik.get("/api/registrations", params={"year": 2026})).json()
        everything = (await e_akimdik.get("/api/registrations")).json()
    assert [r["registrationNumber"] for r in of_2026] == [f"EAK-2026-{n:06d}" for n in range(1, 14)]
    assert len(everything) == 14 and everything[-1]["applicationId"] == "app-2027"


async def test_the_same_application_twice_gets_its_registration_back(run):
    first = answer(await send(run, registration()))
    again = answer(await send(run, registration()))
    assert again["registrationNumber"] == first["registrationNumber"]
    assert again["registeredAt"] == first["registeredAt"]
    assert again["alreadyRegistered"] is True
    assert "бұрын тіркелген" in again["message"]["kk"]
    assert "уже зарегистрированы" in again["message"]["ru"]
    assert "already registered" in again["message"]["en"]

    other = gateway_fault(await send(run, registration(title="Басқа атау", applicantIin="780120300886")), 409, "Provider.Refused")
    assert other["errorData"]["rule"] == "registered_with_other_data"
    assert other["errorData"]["fields"] == ["applicantIin", "title"]
    assert other["errorData"]["registrationNumber"] == first["registrationNumber"]
    async with run.client("e_akimdik") as e_akimdik:
        assert len((await e_akimdik.get("/api/registrations")).json()) == 1


REFUSALS = [
    (registration(applicationId=None), "applicationId", "missing"),
    (registration(applicationId="жоқ id"), "applicationId", "string_pattern_mismatch"),
    (registration(applicationId="x" * 65), "applicationId", "string_too_long"),
    (registration(reglament="almaty-queue"), "reglament", "reglament_not_registered_here"),
    (registration(reglament=None), "reglament", "missing"),
    (registration(applicantIin="900515401231"), "applicantIin", "iin_checksum"),
    (registration(applicantIin="90051540123"), "applicantIin", "iin_format"),
    (registration(applicantIin=900515401230), "applicantIin", "string_type"),
    (registration(applicantIin="901315401008"), "applicantIin", "iin_date"),
    (registration(documentKind="letter"), "documentKind", "literal_error"),
    (registration(title="   "), "title", "string_too_short"),
    (registration(title="т" * 201), "title", "string_too_long"),
    (registration(executor=""), "executor", "string_too_short"),
    (registration(pages=3), "pages", "extra_forbidden"),
    (["not", "an", "object"], "requestData.data", "model_type"),
]


async def test_each_refusal_names_its_field_and_rule(run):
    for data, field, rule in REFUSALS:
        info = gateway_fault(await send(run, data), 400, "Provider.RequestInvalid")
        assert (info["errorData"]["field"], info["errorData"]["rule"]) == (field, rule), data
        assert field in info["errorMessage"]
    async with run.client("e_akimdik") as e_akimdik:
        assert (await e_akimdik.get("/api/registrations")).json() == []


async def test_a_refusal_says_why_in_three_languages_and_lists_every_problem(run):
    info = gateway_fault(await send(run, registration(applicantIin="900515401231")), 400, "Provider.RequestInvalid")
    [problem] = info["errorData"]["fields"]
    assert problem["message_kk"] == "ЖСН: бақылау саны сәйкес келмейді"
    assert problem["message_ru"] == "ИИН: контрольный разряд не совпадает"
    assert problem["message"] == "check digit 1 does not match the computed 0"
    info = gateway_fault(
        await send(run, registration(applicantIin="1", documentKind="letter", title="")), 400, "Provider.RequestInvalid"
    )
    assert [p["field"] for p in info["errorData"]["fields"]] == ["applicantIin", "documentKind", "title"]


async def test_a_caller_without_the_right_or_on_a_wrong_route_is_refused_by_the_gateway(run):
    for sender in ("portal", "corporation_ws"):
        info = gateway_fault(await send(run, registration(), sender=sender), 403, "Client.AccessDenied")
        assert f"{sender} -> {SERVICE}" in info["errorMessage"]
    for route_id in ("almaty", "pavlodar", "mars", None):
        info = gateway_fault(await send(run, registration(), route_id=route_id), 404, "Client.UnknownRoute")
        assert SERVICE in info["errorMessage"] and repr(route_id) in info["errorMessage"]
    async with run.client("e_akimdik") as e_akimdik:
        assert (await e_akimdik.get("/api/registrations")).json() == []


async def test_e_akimdik_takes_requests_only_from_its_gateway(run):
    runtime = run.runtime("provider_ws")
    signed = build_signed_request(
        runtime.identity, sender_id="provider_ws", password=runtime.credentials.password_of("provider_ws"), service_id=SERVICE,
        data=registration(), message_date=await runtime.now(), route_id="wko",
    ).model_dump(mode="json", exclude_none=True)
    async with run.client("e_akimdik") as e_akimdik:
        direct = await e_akimdik.post(SYNC_PATH, json=signed)
        via_almaty = await e_akimdik.post(
            SYNC_PATH, json=signed,
            headers={HOP_HEADER: "gateway-almaty"},
        )
    for reply in (direct, via_almaty):
        gateway_fault(reply, 403, "Client.HopNotTrusted")


async def test_the_read_api_answers_what_is_not_there_clearly(run):
    async with run.client("e_akimdik") as e_akimdik:
        missing = await e_akimdik.get("/api/registrations/EAK-2026-000404")
        no_application = await e_akimdik.get("/api/registrations/by-application/nothing")
        bad_iin = await e_akimdik.get("/api/registrations", params={"applicantIin": "900515401231"})
    assert missing.status_code == 404 and missing.json()["message_kk"].startswith("Тіркеу нөмірі табылмады")
    assert no_application.status_code == 404 and no_application.json()["application"] == "nothing"
    assert bad_iin.status_code == 422
    assert bad_iin.json()["fields"][0]["field"] == "applicantIin"
