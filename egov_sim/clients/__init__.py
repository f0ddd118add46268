"""Typed Python clients of each system's HTTP API (httpx).

Each takes an :class:`httpx.AsyncClient` addressed to its system -- the in-process transport of
:class:`egov_sim.inprocess.Simulation` (``sim.client("portal")``), a real URL, or a respx mock --
returns pydantic models of the answers, and raises :class:`ClientError` with the system's refusal
(HTTP status, code, message in Kazakh, Russian and English, the fields it names).
"""

from egov_sim.clients._base import ClientError
from egov_sim.clients.control import ControlClient
from egov_sim.clients.corporation_ws import OperatorClient
from egov_sim.clients.gateway import GatewayClient, GatewaySender
from egov_sim.clients.portal import PortalClient
from egov_sim.clients.provider_ws import ProviderClient
from egov_sim.clients.registries import RegistriesAdminClient, RegistriesAuditClient, RegistriesClient
from egov_sim.clients.signatures import CAClient

__all__ = [
    "CAClient", "ClientError", "ControlClient", "GatewayClient", "GatewaySender", "OperatorClient",
    "PortalClient", "ProviderClient", "RegistriesAdminClient", "RegistriesAuditClient", "RegistriesClient",
]
