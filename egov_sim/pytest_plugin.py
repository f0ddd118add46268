"""The egov-sim pytest plugin (entry point group ``pytest11``): fixtures for developers who test
one subsystem against the others. Its fixtures are documented in docs/developers.md.

Every fixture's name starts with ``egov_``; none is autouse; the heavy modules are imported inside
the fixtures, so loading the plugin (``pytest --help``) costs nothing. The async fixtures are
pytest-asyncio's (``pytest_asyncio.fixture``): they work in its strict mode as in auto mode.

- ``egov_settings``: a fresh run's settings (its data directory in ``tmp_path``; its PostgreSQL
  schemas, when ``EGOV_SIM_DATABASE_URL`` is set, dropped afterwards);
- ``egov_stack``: every system of that run in one process (:class:`egov_sim.inprocess.Simulation`);
- ``egov_citizen``: a citizen of the registries registered on the portal, with SIGN and AUTH keys;
- ``egov_signed_request``: a builder of signed ШЭП requests;
- ``egov_mock_gateway``: a mock ЭҮШ (respx) for someone building a provider system;
- ``egov_mock_gbdfl`` / ``egov_mock_enis``: mock ЖТ МДҚ / БНАЖ behind the mock gateway;
- ``egov_mock_provider``: a mock provider for someone building a front office.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:  # pragma: no cover
    from egov_sim.inprocess import Simulation
    from egov_sim.mocks import MockGateway
    from simulation.settings import Settings

try:  # pytest-asyncio's own marker: the async fixtures work in its strict mode too, not only in auto mode
    from pytest_asyncio import fixture as async_fixture
except ImportError:  # pragma: no cover - without pytest-asyncio, whichever async plugin there is takes them
    async_fixture = pytest.fixture

STACK_START = "2026-11-02T10:00:00+05:00"
"""Where ``egov_settings``' virtual clock starts: a working Monday morning in Almaty."""


@async_fixture
async def egov_settings(tmp_path) -> AsyncIterator[Settings]:
    """A fresh run: its data directory in ``tmp_path``, a small population, the clock on a working
    Monday; ``EGOV_SIM_DATABASE_URL`` (PostgreSQL) honoured, the run's schemas dropped after."""
    from simulation.database import drop_run
    from simulation.settings import Settings
    from simulation.topology import SYSTEMS

    settings = Settings(data_dir=tmp_path / "egov-run", population_size=300,
                        clock_start=datetime.fromisoformat(STACK_START))
    yield settings
    await drop_run(settings, (*SYSTEMS, "simulation"))


@async_fixture
async def egov_stack(egov_settings) -> AsyncIterator[Simulation]:
    """The whole stack in one process: ``egov_stack.client("portal")`` is an httpx client with the
    run's admin token; ``egov_stack.runtime("control")`` a system's runtime."""
    from egov_sim.inprocess import Simulation

    async with Simulation(egov_settings) as running:
        yield running


@dataclass
class EgovCitizen:
    """A citizen of the run, registered on the portal, with key storages from the run's CA."""

    person: Any
    """The :class:`egov_sim.citizen.Citizen` (iin, names, portal password)."""
    sign_key: Any
    """The SIGN key storage (:class:`signatures.identity.Identity`)."""
    auth_key: Any

    @property
    def iin(self) -> str:
        return self.person.iin


@async_fixture
async def egov_citizen(egov_stack) -> EgovCitizen:
    """Әлия Нұрланова (registries/fixtures.yaml), registered on the portal with her AUTH key;
    her SIGN key to sign applications (``egov_sim.citizen.apply_on_portal(..., signing_key=…)``)."""
    from egov_sim.citizen import DEMO_CITIZEN, register_on_portal
    from egov_sim.clients import CAClient

    async with egov_stack.client("signatures") as http, egov_stack.client("portal", role=None) as portal, \
            egov_stack.client("control") as control:
        ca = CAClient(http)
        person = DEMO_CITIZEN
        names = {"iin": person.iin, "surname": person.surname, "name": person.name, "patronymic": person.patronymic}
        sign_key = (await ca.issue_person(**names, usage="sign")).identity()
        auth_key = (await ca.issue_person(**names, usage="auth")).identity()
        await register_on_portal(http, portal, control, person, auth_key=auth_key)
    return EgovCitizen(person, sign_key, auth_key)


class SignedRequestBuilder:
    """Builds signed ШЭП requests: ``build(service_id, data, identity=…, sender_id=…)``."""

    def __call__(self, service_id: str, data: Any, *, identity: Any, sender_id: str | None = None,
                 password: str = "mock-password", at: datetime | None = None, **info: Any):
        """A :class:`gateway_protocol.envelope.SignedRequest` signed with ``identity`` (a
        :class:`signatures.identity.Identity`); ``sender_id`` defaults to its certificate's CN;
        ``info``: correlation_id, route_id, message_id, message_type, properties …"""
        from datetime import UTC

        from cryptography.x509.oid import NameOID

        from gateway_protocol.client import build_signed_request

        if sender_id is None:
            sender_id = identity.certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value
        return build_signed_request(identity, sender_id=sender_id, password=password, service_id=service_id,
                                    data=data, message_date=at or datetime.now(UTC), **info)

    @staticmethod
    def body(signed: Any) -> dict[str, Any]:
        """The request as JSON goes on the wire."""
        return signed.model_dump(mode="json", exclude_none=True)


@pytest.fixture
def egov_signed_request() -> SignedRequestBuilder:
    """A builder of signed ШЭП requests for a given sender key."""
    return SignedRequestBuilder()


@pytest.fixture
def egov_mock_gateway() -> Iterator[MockGateway]:
    """A mock ЭҮШ at ``http://gateway.mock`` (respx): ``deliver(app, service_id, data, provider=…)``
    hands the provider under test a signed request and checks its signed answer; ``answer(service_id,
    …)`` answers the calls the system under test makes; ``trusted_roots`` and ``identity_of(name)``
    give it its keys. Any other HTTP call of the test (through httpx's network transports) is
    refused unless a route of ``egov_mock_gateway.router`` takes it (``.pass_through()`` lets it go);
    apps called in process (httpx.ASGITransport) are not affected."""
    import respx

    from egov_sim.mocks import MockGateway

    with respx.mock(assert_all_called=False) as router:
        yield MockGateway(router)


@pytest.fixture
def egov_mock_gbdfl(egov_mock_gateway):
    """A mock ЖТ МДҚ behind ``egov_mock_gateway``: ``egov_mock_gbdfl.add(iin=…, surname=…, …)``."""
    from egov_sim.mocks import MockGBDFL

    return MockGBDFL(egov_mock_gateway)


@pytest.fixture
def egov_mock_enis(egov_mock_gateway):
    """A mock БНАЖ behind ``egov_mock_gateway``: ``egov_mock_enis.add(number, principal_iin=…, …)``."""
    from egov_sim.mocks import MockENIS

    return MockENIS(egov_mock_gateway)


@pytest.fixture
def egov_mock_provider(egov_mock_gateway):
    """A mock provider behind ``egov_mock_gateway``: acknowledges HousingQueueRegistration requests,
    and ``send_result(front_office_app, application_id)`` delivers a signed result."""
    from egov_sim.mocks import MockProvider

    return MockProvider(egov_mock_gateway)
