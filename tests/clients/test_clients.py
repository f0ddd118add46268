"""The typed clients against the running stack: answers typed, refusals as ClientError."""

from __future__ import annotations

import pytest

from egov_sim.citizen import DEMO_CITIZEN, register_on_portal
from egov_sim.clients import (
    CAClient, ClientError, ControlClient, GatewayClient, GatewaySender, OperatorClient, PortalClient,
    ProviderClient, RegistriesClient,
)
from egov_sim.clients.registries import PersonAnswer


async def test_control_clock_moves_and_refusals_are_typed(simulation) -> None:
    async with simulation.client("control") as http:
        control = ControlClient(http)
        before = await control.now()
        moved = await control.advance("1 hour")
        assert (moved.now - before).total_seconds() == 3600
        assert {s.name for s in await control.systems()} >= {"gateway", "portal", "registries"}
        with pytest.raises(ClientError) as refused:
            await control.advance("a fortnight or so")
        assert refused.value.status == 422 and refused.value.fields[0]["field"] == "by"
        with pytest.raises(ClientError) as missing:
            await control.trace("no-such-application")
        assert missing.value.status == 404 and missing.value.message_kk and missing.value.message_ru


async def test_registries_through_the_gateway(simulation) -> None:
    portal = simulation.runtime("portal")
    async with simulation.client("gateway", role=None) as http, simulation.client("control") as control_http:
        gateway = GatewayClient(http, trusted_roots=portal.trusted_roots)
        sender = GatewaySender(gateway, sender_id="portal", password=portal.credentials.password_of("portal"),
                               identity=portal.identity, clock=ControlClient(control_http))
        registries = RegistriesClient(sender)
        person = await registries.person(DEMO_CITIZEN.iin)
        assert isinstance(person, PersonAnswer) and person.person["surname"] == DEMO_CITIZEN.surname
        assert await registries.person("010101500003") is None  # nobody: None, not an error
        with pytest.raises(ClientError) as refused:
            await registries.person("123")
        assert refused.value.code == "Provider.RequestInvalid" and refused.value.message_kk
        # the same through the system's own gateway client
        assert (await RegistriesClient(portal.gateway()).person(DEMO_CITIZEN.iin)).person["iin"] == DEMO_CITIZEN.iin
        bad = GatewaySender(gateway, sender_id="portal", password="wrong", identity=portal.identity,
                            clock=ControlClient(control_http))
        with pytest.raises(ClientError) as denied:
            await RegistriesClient(bad).person(DEMO_CITIZEN.iin)
        assert denied.value.status == 403 and denied.value.code == "Client.AuthenticationFailed"


async def test_gateway_log_is_typed(simulation) -> None:
    portal = simulation.runtime("portal")
    await portal.gateway().send("GBDFL_UniversalServiceSync", {"iin": DEMO_CITIZEN.iin}, correlation_id="typed-log-1")
    async with simulation.client("gateway") as http:
        gateway = GatewayClient(http)
        entries = await gateway.messages(correlation_id="typed-log-1", kind="all")
        assert [e.kind for e in entries] == ["request", "response"]
        assert entries[0].serviceId == "GBDFL_UniversalServiceSync" and entries[0].sender == "portal"
        evidence = await gateway.evidence("typed-log-1")
        assert evidence.records[0].message["request"]["requestData"]["data"] == {"iin": DEMO_CITIZEN.iin}
        assert any(e["code"] == "Client.AccessDenied" for e in await gateway.errors())
    async with simulation.client("gateway", role=None) as anonymous:
        with pytest.raises(ClientError) as refused:
            await GatewayClient(anonymous).messages(correlation_id="typed-log-1")
        assert refused.value.status == 401


async def test_ca_issue_status_revoke(simulation) -> None:
    async with simulation.client("signatures") as http:
        ca = CAClient(http)
        (root,) = await ca.root()
        assert len(await ca.chain()) >= 2
        issued = await ca.issue_person(iin=DEMO_CITIZEN.iin, surname=DEMO_CITIZEN.surname, name=DEMO_CITIZEN.name)
        assert issued.identity().certificate.serial_number == int(issued.serial, 16)
        assert (await ca.status(issued.serial)).status == "good"
        assert (await ca.revoke(issued.serial, "keyCompromise")).status == "revoked"
        assert (await ca.certificate(issued.serial)).serial_number == int(issued.serial, 16)
        with pytest.raises(ClientError) as refused:
            await ca.issue_person(iin="123", surname="X", name="Y")
        assert refused.value.status == 422 and refused.value.fields[0]["field"] == "iin"
    async with simulation.client("signatures", role=None) as anonymous:
        with pytest.raises(ClientError) as denied:
            await CAClient(anonymous).issue_person(iin=DEMO_CITIZEN.iin, surname="X", name="Y")
        assert denied.value.status == 401


async def test_portal_operator_and_provider_clients(simulation) -> None:
    async with simulation.client("signatures") as ca, simulation.client("portal", role=None) as portal_http, \
            simulation.client("control") as control:
        await register_on_portal(ca, portal_http, control, DEMO_CITIZEN)
        portal = PortalClient(portal_http)
        session = await portal.login(DEMO_CITIZEN.iin, DEMO_CITIZEN.password)
        assert session.iin == DEMO_CITIZEN.iin and portal.session == session.session
        assert await portal.applications() == []
        assert any(s.id == "almaty-queue" for s in await portal.services())
        form = await portal.form("almaty-queue")
        assert form.requiredDocuments
        with pytest.raises(ClientError) as refused:
            await portal.login(DEMO_CITIZEN.iin, "wrong password")
        assert refused.value.status == 401 and refused.value.message_kk
    async with simulation.client("corporation_ws") as http:
        operator = OperatorClient(http)
        assert (await operator.login()).session == operator.session
        assert (await operator.ticket("almaty-queue")).ticket
        with pytest.raises(ClientError) as missing:
            await operator.contact_centre("NO-SUCH-NUMBER")
        assert missing.value.status == 404 and missing.value.message_ru
    async with simulation.client("provider_ws") as http:
        provider = ProviderClient(http)
        assert await provider.cases() == []
        with pytest.raises(ClientError) as refused:
            await provider.perform("no-such-case", 2)
        assert refused.value.status in (404, 409)
