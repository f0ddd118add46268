"""The egov-sim pytest plugin: loaded from its entry point, its fixtures and mocks at work, and
every system's OpenAPI served offline."""

from __future__ import annotations

import base64
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from egov_sim.clients import ClientError, PortalClient
from egov_sim.mocks import MockGatewayError, MockPKI
from gateway_protocol.client import GatewayClient as SystemGateway
from gateway_protocol.envelope import SYNC_PATH, SignedRequest
from gateway_protocol.errors import ErrorCode, GatewayFault
from gateway_protocol.provider import sign_response
from simulation.topology import START_ORDER

ROOT = Path(__file__).resolve().parents[1]


class WallClock:
    async def now(self):
        from datetime import UTC, datetime

        return datetime.now(UTC)


def test_the_plugin_loads_light_and_clashes_with_nothing(pytestconfig) -> None:
    plugin = pytestconfig.pluginmanager.get_plugin("egov_sim")
    assert plugin is not None and plugin.__name__ == "egov_sim.pytest_plugin"
    markers = {name: value._fixture_function_marker for name, value in vars(plugin).items()
               if hasattr(value, "_fixture_function_marker")}
    assert len(markers) == 8 and all(name.startswith("egov_") for name in markers), sorted(markers)
    assert not any(marker.autouse for marker in markers.values())
    import conftest

    assert not set(markers) & set(vars(conftest)), "a fixture name of tests/conftest.py is taken"
    code = ("import sys, egov_sim.pytest_plugin; heavy = [m for m in ('fastapi', 'respx', 'sqlalchemy', "
            "'gateway', 'signatures', 'egov_sim.inprocess') if m in sys.modules]; print(heavy)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert done.stdout.strip() == "[]", done.stdout + done.stderr


def provider_app(identity, name: str = "provider") -> FastAPI:
    """A minimal provider: answers every request with its data back, signed with ``identity``."""
    app = FastAPI()

    @app.post(SYNC_PATH)
    async def take(request: Request):
        from datetime import UTC, datetime

        signed = SignedRequest.model_validate_json(await request.body())
        if signed.request.requestData.data == {"refuse": True}:
            return JSONResponse(GatewayFault(ErrorCode.PROVIDER_REFUSED, "as asked").to_body(datetime.now(UTC)), 400)
        return sign_response(identity, signed.request.requestInfo, {"echo": signed.request.requestData.data},
                             datetime.now(UTC))

    return app


async def test_the_mock_gateway_checks_the_providers_answer(egov_mock_gateway) -> None:
    app = provider_app(egov_mock_gateway.identity_of("housing"))
    assert await egov_mock_gateway.deliver(app, "S", {"a": 1}, provider="housing") == {"echo": {"a": 1}}
    with pytest.raises(ClientError) as refused:
        await egov_mock_gateway.deliver(app, "S", {"refuse": True}, provider="housing")
    assert refused.value.code == "Provider.Refused" and refused.value.message_kk
    with pytest.raises(MockGatewayError, match="signed by 'housing', not by the provider 'other'"):
        await egov_mock_gateway.deliver(app, "S", {"a": 1}, provider="other")
    stranger = provider_app(MockPKI().identity_of("housing"))
    with pytest.raises(MockGatewayError, match="signature does not verify"):
        await egov_mock_gateway.deliver(stranger, "S", {"a": 1}, provider="housing")


async def test_the_mock_registries_answer_as_the_registries(egov_mock_gateway, egov_mock_gbdfl, egov_mock_enis) -> None:
    egov_mock_gbdfl.add(iin="900515401230", surname="НҰРЛАНОВА", name="ӘЛИЯ")
    egov_mock_enis.add("N-1", principal_iin="900515401230", attorney_iin="800404305123",
                       valid_from="2020-01-01", valid_to="2099-12-31", scope=["HousingQueueRegistration"])
    egov_mock_enis.add("N-2", principal_iin="900515401230", attorney_iin="800404305123",
                       valid_from="2020-01-01", valid_to="2021-01-01", scope=["HousingQueueRegistration"])
    async with httpx.AsyncClient() as http:
        system = SystemGateway(http, egov_mock_gateway.url, sender_id="front", password="x",
                               identity=egov_mock_gateway.identity_of("front"), clock=WallClock(),
                               trusted_roots=egov_mock_gateway.trusted_roots)
        assert (await system.ask("GBDFL_UniversalServiceSync", {"iin": "900515401230"}))["person"]["surname"] == "НҰРЛАНОВА"
        assert await system.ask("GBDFL_UniversalServiceSync", {"iin": "010101500003"}) is None
        statuses = [
            (await system.ask("ENIS_PowerOfAttorneyCheck", {"number": number, "principalIin": "900515401230",
                                                            "attorneyIin": "800404305123", "serviceId": service}))["status"]
            for number, service in (("N-1", "HousingQueueRegistration"), ("N-2", None), ("N-1", "HousingAid"), ("N-9", None))
        ]
        assert statuses == ["valid", "expired", "out_of_scope", "not_found"]
        with pytest.raises(GatewayFault) as unknown:
            await system.send("NoSuchService", {})
        assert unknown.value.code == "Client.UnknownService"
        stranger = SystemGateway(http, egov_mock_gateway.url, sender_id="front", password="x",
                                 identity=MockPKI().identity_of("front"), clock=WallClock(), trusted_roots=[])
        with pytest.raises(GatewayFault) as refused:
            await stranger.send("GBDFL_UniversalServiceSync", {"iin": "900515401230"})
        assert refused.value.code == "Client.SignatureInvalid"
    assert [c.signer for c in egov_mock_gateway.calls_of("GBDFL_UniversalServiceSync")] == ["front", "front"]


async def test_the_mock_provider_acknowledges_and_delivers_the_result(egov_mock_gateway, egov_mock_provider) -> None:
    """A front office under test: sends an application, gets a result delivered later."""
    results: list[dict] = []
    office = FastAPI()
    identity = egov_mock_gateway.identity_of("corporation_ws")

    @office.post(SYNC_PATH)
    async def take(request: Request):
        from datetime import UTC, datetime

        from signatures.cms import verify_cms
        from signatures.jws import canonical_json

        signed = SignedRequest.model_validate_json(await request.body())
        data = signed.request.requestData.data
        verdict = verify_cms(base64.b64decode(data["signature"]), canonical_json(data["document"]),
                             trusted_roots=egov_mock_gateway.trusted_roots, at=datetime.now(UTC))
        results.append({"data": data, "valid": verdict.valid})
        return sign_response(identity, signed.request.requestInfo, {"received": True}, datetime.now(UTC))

    async with httpx.AsyncClient() as http:
        system = SystemGateway(http, egov_mock_gateway.url, sender_id="corporation_ws", password="x",
                               identity=identity, clock=WallClock(), trusted_roots=egov_mock_gateway.trusted_roots)
        reply = await system.send("HousingQueueRegistration", {"applicationId": "A-1", "reglament": "almaty-queue"},
                                  correlation_id="A-1")
    acknowledged = reply.responseData.data
    assert acknowledged["registrationNumber"] and acknowledged["resultDue"] > acknowledged["registeredAt"]
    assert await egov_mock_provider.send_result(office, "A-1", decision="refused") == {"received": True}
    (result,) = results
    assert result["valid"] and result["data"]["decision"] == "refused"
    assert result["data"]["registrationNumber"] == acknowledged["registrationNumber"]
    with pytest.raises(KeyError, match="took no application 'A-2'"):
        await egov_mock_provider.send_result(office, "A-2")


def test_the_signed_request_builder(egov_signed_request) -> None:
    from gateway_protocol.envelope import signed_content
    from signatures.jws import verify_detached

    pki = MockPKI()
    signed = egov_signed_request("S", {"x": 1}, identity=pki.identity_of("portal"), correlation_id="c-1")
    assert signed.request.requestInfo.sender.senderId == "portal" and signed.request.requestInfo.correlationId == "c-1"
    verdict = verify_detached(signed.signature, signed_content(signed.request), trusted_roots=pki.trusted_roots,
                              at=signed.request.requestInfo.messageDate)
    assert verdict.valid, verdict.message
    assert egov_signed_request.body(signed)["request"]["requestData"] == {"data": {"x": 1}}


async def test_the_stack_and_a_citizen(egov_stack, egov_citizen) -> None:
    async with egov_stack.client("portal", role=None) as http:
        portal = PortalClient(http)
        assert (await portal.login(egov_citizen.iin, egov_citizen.person.password)).iin == egov_citizen.iin
    assert egov_citizen.sign_key.certificate != egov_citizen.auth_key.certificate
    # every system documents its API, and the pages work with no network: their assets are served
    for system in START_ORDER:
        async with egov_stack.client(system, role=None) as http:
            schema = await http.get("/openapi.json")
            assert schema.status_code == 200 and schema.json()["openapi"].startswith("3"), system
            page = await http.get("/docs")
            assert page.status_code == 200 and "/docs/assets/swagger-ui-bundle.js" in page.text, system
            assert (await http.get("/docs/assets/swagger-ui-bundle.js")).status_code == 200, system
            assert "cdn.jsdelivr" not in page.text, system


STRICT_TEST = '''
import pytest

from simulation.settings import Settings


@pytest.mark.asyncio
async def test_the_async_fixtures_in_strict_mode(egov_settings, egov_stack):
    assert isinstance(egov_settings, Settings) and egov_stack.settings is egov_settings
    async with egov_stack.client("control") as control:
        assert (await control.get("/clock")).status_code == 200
'''


def test_the_async_fixtures_work_in_pytest_asyncios_strict_mode(tmp_path: Path) -> None:
    """Not only in auto mode: the plugin's async fixtures are pytest-asyncio's own, so a project
    that keeps ``asyncio_mode = strict`` (pytest-asyncio's default) gets them as well."""
    (tmp_path / "pytest.ini").write_text("[pytest]\nasyncio_mode = strict\n"
                                         "asyncio_default_fixture_loop_scope = function\n", encoding="utf-8")
    (tmp_path / "test_strict.py").write_text(STRICT_TEST, encoding="utf-8")
    done = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "test_strict.py"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "mode=Mode.STRICT" in done.stdout and "1 passed" in done.stdout, done.stdout
