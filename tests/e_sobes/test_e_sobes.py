""""Е-собес" behind the Almaty gateway: a housing-aid application through ЭҮШ → ЭҮӨШ with the
applicant's signed request, the per-year number sequence, the same application twice, each refusal
with its code and field, and the gateway refusing a caller without the right or a wrong route."""

from __future__ import annotations

import asyncio
import copy
from datetime import datetime
from typing import Any

import httpx
import pytest

from egov_sim.citizen import DEMO_CITIZEN, Citizen, obtain_signing_key, sign_with_ncalayer
from egov_sim.inprocess import Simulation
from gateway_protocol.client import build_signed_request
from gateway_protocol.envelope import HOP_HEADER, SYNC_PATH, SignedResponse, signed_content
from signatures.jws import verify_detached
from simulation.database import drop_run
from simulation.settings import Settings
from simulation.topology import SYSTEMS
from tests.conftest import gateway_fault

SERVICE = "ESOBES_HousingAidApplication"
ALIYA = DEMO_CITIZEN.iin
SPOUSE = "880303300455"
CHILD = "150720600013"
OTHER = Citizen("780120300886", "ТЕСТОВ", "ТЕСТ", None, "Test-2026!")


@pytest.fixture
async def run(tmp_path):
    settings = Settings(
        data_dir=tmp_path / "run", population_size=0, seed_people=False,
        clock_start=datetime.fromisoformat("2026-04-10T10:00:00+05:00"),
    )
    async with Simulation(settings) as simulation:
        yield simulation
    await drop_run(settings, (*SYSTEMS, "simulation"))


def application(application_id: str = "aid-1", **changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "applicationId": application_id,
        "applicantIin": ALIYA,
        "period": {"from": "2026-04", "to": "2026-06"},
        "familyMembers": [{"iin": SPOUSE, "relation": "spouse"}, {"iin": CHILD, "relation": "child"}],
        "incomes": [
            {"iin": ALIYA, "kind": "business-and-other-activities", "month": f"2026-0{m}", "amount": 95000}
            for m in (1, 2, 3)
        ] + [
            {"iin": SPOUSE, "kind": "social-payments", "month": "2026-03", "amount": 41250.5},
            {"iin": CHILD, "kind": "alimony", "month": "2026-03", "amount": 20000},
        ],
        "housing": {
            "area": 54.3,
            "costs": [
                {"kind": "maintenance", "month": "2026-03", "amount": 4887},
                {"kind": "heating", "month": "2026-03", "amount": 9120.4, "quantity": 1.2},
                {"kind": "hot-water", "month": "2026-03", "amount": 3400, "quantity": 6},
                {"kind": "cold-water", "month": "2026-03", "amount": 1100, "quantity": 12},
                {"kind": "gas", "month": "2026-03", "amount": 1800, "quantity": 30},
            ],
        },
    }
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


def changed(path: str, value: Any, base: dict[str, Any] | None = None) -> dict[str, Any]:
    """``base`` (the default application) with the field at ``path`` (``a.b[2].c``) set, or
    removed when ``value`` is ``...``."""
    data = copy.deepcopy(base or application())
    parts = path.replace("]", "").replace("[", ".").split(".")
    target: Any = data
    for part in parts[:-1]:
        target = target[int(part)] if part.isdigit() else target[part]
    last = int(parts[-1]) if parts[-1].isdigit() else parts[-1]
    if value is ...:
        del target[last]
    else:
        target[last] = value
    return data


async def signed_by(run: Simulation, citizen: Citizen, data: dict[str, Any]) -> dict[str, Any]:
    """The application with the request the citizen signed on the portal (document and CMS)."""
    document = {
        "service": "Тұрғын үй көмегін тағайындау",
        "applicant": {"iin": data["applicantIin"]},
        "period": data["period"],
        "familyMembers": data["familyMembers"],
    }
    async with run.client("signatures") as ca, run.client("control") as control:
        key = await obtain_signing_key(ca, citizen)
        signature = await sign_with_ncalayer(control, key, document)
    return {**data, "document": document, "signature": signature}


async def send(
    run: Simulation, data: Any, *, sender: str = "portal", route_id: str | None = "almaty", via: str = "gateway",
) -> httpx.Response:
    runtime = run.runtime(sender)
    signed = build_signed_request(
        runtime.identity, sender_id=sender, password=runtime.credentials.password_of(sender), service_id=SERVICE,
        data=data, message_date=await runtime.now(), route_id=route_id, correlation_id="aid-case",
    )
    async with run.client(via) as gateway:
        return await gateway.post(SYNC_PATH, json=signed.model_dump(mode="json", exclude_none=True))


def answer(reply: httpx.Response) -> dict[str, Any]:
    assert reply.status_code == 200, reply.text
    return reply.json()["response"]["responseData"]["data"]


async def registrations(run: Simulation) -> list[dict[str, Any]]:
    async with run.client("e_sobes") as e_sobes:
        return (await e_sobes.get("/api/registrations")).json()


async def test_a_signed_application_goes_through_the_gateways_and_is_received(run):
    data = await signed_by(run, DEMO_CITIZEN, application())
    reply = await send(run, data)
    signed = SignedResponse.model_validate(reply.json())
    verdict = verify_detached(
        signed.signature, signed_content(signed.response),
        trusted_roots=run.runtime("portal").trusted_roots, at=await run.runtime("portal").now(),
    )
    assert verdict.valid and verdict.signer["common_name"] == "e_sobes"
    assert signed.response.responseInfo.status.code == "SCSS001"

    received = answer(reply)
    assert received["registrationNumber"] == "ESB-2026-000001"
    assert received["receivedAt"] == "2026-04-10T10:00:00+05:00"
    assert received["status"] == "RECEIVED"
    assert received["statusText"] == {"kk": "Қабылданды", "ru": "Принято", "en": "Received"}
    assert received["alreadyRegistered"] is False
    assert "ESB-2026-000001" in received["message"]["kk"]
    summary = received["received"]
    assert summary["familySize"] == 3
    assert [m["relation"]["code"] for m in summary["familyMembers"]] == ["spouse", "child"]
    assert summary["incomes"] == {
        "social-payments": 41250.5, "business-and-other-activities": 285000, "alimony": 20000,
    }
    assert summary["housingCosts"]["heating"] == 9120.4 and summary["housingArea"] == 54.3
    assert summary["signedDocument"] == {
        "iin": ALIYA, "commonName": "НҰРЛАНОВА ӘЛИЯ", "certificateSerial": summary["signedDocument"]["certificateSerial"],
        "verdict": "VALID",
    }

    async with run.client("gateway") as central, run.client("gateway-almaty") as regional:
        [centre] = (await central.get("/v1/messages", params={"serviceId": SERVICE})).json()
        [region] = (await regional.get("/v1/messages", params={"serviceId": SERVICE})).json()
    assert (centre["sender"], centre["recipient"]) == ("portal", "gateway-almaty")
    assert (region["cameFrom"], region["recipient"]) == ("gateway", "e_sobes")

    async with run.client("e_sobes") as e_sobes:
        by_number = (await e_sobes.get("/api/registrations/ESB-2026-000001")).json()
        by_application = (await e_sobes.get("/api/registrations/by-application/aid-1")).json()
        of_aliya = (await e_sobes.get("/api/registrations", params={"applicantIin": ALIYA})).json()
        of_other = (await e_sobes.get("/api/registrations", params={"applicantIin": SPOUSE})).json()
    assert by_number == by_application == of_aliya[0] and of_other == []
    assert by_number["request"]["signature"] == data["signature"]
    assert by_number["request"]["document"] == data["document"]
    assert by_number["received"] == summary and by_number["sentBy"] == "portal"


async def test_an_application_without_a_signed_document_is_received_too(run):
    received = answer(await send(run, application(incomes=[])))
    assert received["received"]["signedDocument"] is None
    assert received["received"]["incomes"] == {"social-payments": 0, "business-and-other-activities": 0, "alimony": 0}


async def test_numbers_are_gap_free_and_the_same_application_gets_its_number_back(run):
    replies = await asyncio.gather(*(send(run, application(f"aid-{n}")) for n in range(1, 13)))
    assert sorted(answer(r)["registrationNumber"] for r in replies) == [f"ESB-2026-{n:06d}" for n in range(1, 13)]

    again = answer(await send(run, application("aid-7")))
    first = next(r for r in await registrations(run) if r["received"]["applicationId"] == "aid-7")
    assert again["registrationNumber"] == first["registrationNumber"]
    assert again["receivedAt"] == first["receivedAt"]
    assert again["alreadyRegistered"] is True
    assert "бұрын қабылданған" in again["message"]["kk"] and "уже принято" in again["message"]["ru"]

    other = gateway_fault(await send(run, application("aid-7", period={"from": "2026-05", "to": "2026-07"})), 409,
                    "Provider.Refused")
    assert other["errorData"]["fields"] == ["period"]
    assert other["errorData"]["rule"] == "registered_with_other_data"
    assert len(await registrations(run)) == 12
    assert answer(await send(run, application("aid-13")))["registrationNumber"] == "ESB-2026-000013"


async def test_a_signature_is_checked_against_the_applicant(run):
    data = await signed_by(run, OTHER, application())  # signed by someone else
    info = gateway_fault(await send(run, data), 400, "Provider.RequestInvalid")
    assert (info["errorData"]["field"], info["errorData"]["rule"]) == ("signature", "signature_not_valid")
    assert info["errorData"]["verdict"] == "IIN_MISMATCH"
    assert info["errorData"]["fields"][0]["message_kk"]

    data = await signed_by(run, DEMO_CITIZEN, application())
    tampered = changed("document.period.to", "2026-12", data)
    info = gateway_fault(await send(run, tampered), 400, "Provider.RequestInvalid")
    assert info["errorData"]["field"] == "signature" and info["errorData"]["verdict"] != "VALID"

    info = gateway_fault(await send(run, {**data, "signature": "not base64!"}), 400, "Provider.RequestInvalid")
    assert info["errorData"]["rule"] == "signature_not_base64"
    assert await registrations(run) == []


REFUSALS = [
    (changed("applicationId", ...), "applicationId", "missing"),
    (changed("applicantIin", "900515401231"), "applicantIin", "iin_checksum"),
    (changed("applicantIin", "9005154012"), "applicantIin", "iin_format"),
    (changed("period", ...), "period", "missing"),
    (changed("period.from", "2026-13"), "period.from", "string_pattern_mismatch"),
    (changed("period.to", "2026-03"), "period.to", "period_order"),
    (changed("familyMembers[0].iin", "880303300456"), "familyMembers[0].iin", "iin_checksum"),
    (changed("familyMembers[1].relation", "neighbour"), "familyMembers[1].relation", "literal_error"),
    (changed("familyMembers[0].iin", ALIYA), "familyMembers[0].iin", "applicant_listed_as_member"),
    (changed("familyMembers[1].iin", SPOUSE), "familyMembers[1].iin", "duplicate_member"),
    (changed("incomes[3].iin", "780120300886"), "incomes[3].iin", "not_a_family_member"),
    (changed("incomes[0].kind", "lottery"), "incomes[0].kind", "literal_error"),
    (changed("incomes[0].amount", -1), "incomes[0].amount", "greater_than_equal"),
    (changed("incomes[0].amount", "95000"), "incomes[0].amount", "float_type"),
    (changed("incomes[1].month", "2026-01"), "incomes[0]", "duplicate_income"),
    (changed("incomes[4].month", "2026-05"), "incomes[4].month", "month_after_receipt"),
    (changed("housing", ...), "housing", "missing"),
    (changed("housing.area", 0), "housing.area", "greater_than"),
    (changed("housing.costs", []), "housing.costs", "too_short"),
    (changed("housing.costs[1].quantity", ...), "housing.costs[1].quantity", "quantity_required"),
    (changed("housing.costs[0].quantity", 54.3), "housing.costs[0].quantity", "quantity_not_applicable"),
    (changed("housing.costs[2].kind", "electricity"), "housing.costs[2].kind", "literal_error"),
    (changed("housing.costs[3].kind", "hot-water"), "housing.costs[2]", "duplicate_cost"),
    (changed("housing.costs[4].month", "2026-07"), "housing.costs[4].month", "month_after_receipt"),
    (changed("document", {"applicant": {"iin": ALIYA}}), "signature", "signed_document_incomplete"),
    (changed("signature", "MIIB"), "document", "signed_document_incomplete"),
    (changed("wishes", "soon"), "wishes", "extra_forbidden"),
    ("an application", "requestData.data", "model_type"),
]


async def test_each_refusal_names_its_field_and_rule(run):
    for data, field, rule in REFUSALS:
        info = gateway_fault(await send(run, data), 400, "Provider.RequestInvalid")
        assert (info["errorData"]["field"], info["errorData"]["rule"]) == (field, rule), (field, info)
        assert field in info["errorMessage"]
        assert info["errorData"]["fields"][0]["message"]
    assert await registrations(run) == []


async def test_a_caller_without_the_right_or_on_a_wrong_route_is_refused_by_the_gateway(run):
    for sender in ("provider_ws",):  # the front office may send it: it takes housing-aid packages
        info = gateway_fault(await send(run, application(), sender=sender), 403, "Client.AccessDenied")
        assert f"{sender} -> {SERVICE}" in info["errorMessage"]
    for route_id in ("wko", "karaganda", "nowhere", None):
        info = gateway_fault(await send(run, application(), route_id=route_id), 404, "Client.UnknownRoute")
        assert SERVICE in info["errorMessage"]
    assert await registrations(run) == []


async def test_e_sobes_takes_requests_only_from_the_almaty_gateway(run):
    runtime = run.runtime("portal")
    signed = build_signed_request(
        runtime.identity, sender_id="portal", password=runtime.credentials.password_of("portal"), service_id=SERVICE,
        data=application(), message_date=await runtime.now(), route_id="almaty",
    ).model_dump(mode="json", exclude_none=True)
    async with run.client("e_sobes") as e_sobes:
        direct = await e_sobes.post(SYNC_PATH, json=signed)
        via_central = await e_sobes.post(
            SYNC_PATH, json=signed, headers={HOP_HEADER: "gateway"},
        )
        missing = await e_sobes.get("/api/registrations/ESB-2026-000404")
        bad_iin = await e_sobes.get("/api/registrations", params={"applicantIin": "12"})
    for reply in (direct, via_central):
        gateway_fault(reply, 403, "Client.HopNotTrusted")
    assert missing.status_code == 404 and missing.json()["message_ru"].startswith("Регистрационный номер не найден")
    assert bad_iin.status_code == 422 and bad_iin.json()["fields"][0]["field"] == "applicantIin"
