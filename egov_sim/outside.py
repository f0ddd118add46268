"""Outside systems join the gateway: a tester's own information system, in place of a simulated one.

An outside system takes part in the exchange as the simulated ones do:

- **as a client** (:func:`register_client`): the gateway knows its senderId, its password and the
  services it has the right to (``PUT /admin/participants/{id}``); the certification authority
  certifies its key from its own CSR (``POST /v1/certificates/system``; the certificate's CN is
  its name). Its messages, signed with that key (:meth:`OutsideSystem.gateway_client`), are
  accepted by the gateway and answered.
- **as a provider** (:func:`register_provider`): a service routed to a URL outside the
  simulation -- the system under test (``PUT /admin/services/{id}`` with ``system`` and ``url``,
  and ``protocol: soap`` for one that takes the ШЭП SOAP interface).
  The gateway delivers to it with its signed hop, and passes on its answer only when it is signed
  with the key the CA certified for that name (``SIGNER_NOT_PROVIDER`` otherwise).
  :func:`provider_app` is a small ASGI app of such a provider: it checks the gateway's hop and the
  sender's signature, calls a handler per service, and signs what it answers.

Every call here goes to the systems' public HTTP APIs, with clients carrying the run's admin
token (``Simulation.client(...)`` in one process; ``httpx.AsyncClient(base_url=...,
headers={"X-Egov-Sim-Token": ...})`` against ``egov-sim up``). See docs/outside-systems.md.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

import httpx
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from gateway_protocol.client import GatewayClient
from gateway_protocol.envelope import SYNC_PATH, RequestInfo, SignedRequest, signed_content
from gateway_protocol.errors import ErrorCode, GatewayFault
from gateway_protocol.hops import HopVerifier
from gateway_protocol.provider import sign_response
from signatures.identity import Identity
from signatures.validation import SignatureValidator
from simulation.topology import REGIONAL_GATEWAYS

log = logging.getLogger(__name__)

__all__ = [
    "Certified", "ControlClock", "OutsideRefused", "OutsideSystem", "Protocol", "admit_client", "certify", "certify_csr", "grant",
    "new_csr", "provider_app", "register_client", "register_provider", "route_provider",
]

PrivateKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey
GATEWAYS = frozenset({"gateway", *REGIONAL_GATEWAYS})
"""The gateways whose signed hops an outside provider takes."""


class OutsideRefused(RuntimeError):
    """A system refused a registration step: which call, its status and its answer."""

    def __init__(self, step: str, reply: httpx.Response) -> None:
        try:
            answer: Any = reply.json()
        except ValueError:
            answer = reply.text[:500]
        super().__init__(f"{step}: {reply.status_code} {answer}")
        self.step = step
        self.status = reply.status_code
        self.answer = answer


def _ok(step: str, reply: httpx.Response) -> Any:
    if reply.status_code != 200:
        raise OutsideRefused(step, reply)
    return reply.json()


class ControlClock:
    """The run's virtual time, as simulation control tells it (``GET /clock``): what an outside
    system dates its messages with and checks certificates at."""

    def __init__(self, control_client: httpx.AsyncClient) -> None:
        self.http = control_client

    async def now(self) -> datetime:
        return datetime.fromisoformat(_ok("the run's clock", await self.http.get("/clock"))["now"])


@dataclass
class OutsideSystem:
    """What a tester needs to run an outside system: its name, its key with the certificate the
    CA issued for it (``identity``), its gateway password (a client's), the CA's roots to check
    what it receives against."""

    name: str
    identity: Identity
    roots: list[x509.Certificate]
    password: str | None = None
    services: list[str] = field(default_factory=list)

    @property
    def certificate_pem(self) -> str:
        return self.identity.certificate.public_bytes(serialization.Encoding.PEM).decode()

    def gateway_client(self, http: httpx.AsyncClient, gateway_url: str, clock: Any) -> GatewayClient:
        """A client that sends this system's signed messages to the gateway at ``gateway_url``
        through ``http``, dated by ``clock`` (``ControlClock``), answers verified against the roots."""
        if self.password is None:
            raise ValueError(f"{self.name} is not registered as a client: it has no gateway password")
        return GatewayClient(http, gateway_url, sender_id=self.name, password=self.password, identity=self.identity,
                             clock=clock, trusted_roots=self.roots)


def new_csr(name: str, algorithm: Literal["ec", "rsa"] = "ec") -> tuple[PrivateKey, str]:
    """A new key of the system and its certificate signing request (PEM), CN = ``name``: ECDSA
    P-256 (certified by the GOST stand-in CA) or RSA-2048 (by the RSA CA)."""
    key: PrivateKey = ec.generate_private_key(ec.SECP256R1()) if algorithm == "ec" else \
        rsa.generate_private_key(public_exponent=65537, key_size=2048)
    csr = x509.CertificateSigningRequestBuilder().subject_name(
        x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])).sign(key, hashes.SHA256())
    return key, csr.public_bytes(serialization.Encoding.PEM).decode()


@dataclass(frozen=True)
class Certified:
    """What the CA issued for a system's CSR: the certificate's serial (hex) and its chain."""

    serial: str
    chain_pem: str

    @property
    def chain(self) -> list[x509.Certificate]:
        return x509.load_pem_x509_certificates(self.chain_pem.encode())


async def certify_csr(ca_client: httpx.AsyncClient, name: str, csr_pem: str) -> Certified:
    """The CA's certificate for ``name`` from its CSR (``ca_client`` carries the admin token): for
    a system whose key stays elsewhere (``egov-sim gateway join``)."""
    issued = _ok(f"the CA certifying {name}", await ca_client.post(
        "/v1/certificates/system", json={"system": name, "csr_pem": csr_pem}))
    return Certified(str(issued["serial"]), issued["chain_pem"])


async def certify(ca_client: httpx.AsyncClient, name: str, key: PrivateKey, csr_pem: str) -> tuple[Identity, list[x509.Certificate]]:
    """The CA's certificate for ``name`` from its own CSR (``ca_client`` carries the admin token),
    and the CA's roots."""
    chain = (await certify_csr(ca_client, name, csr_pem)).chain
    reply = await ca_client.get("/v1/ca/root")
    if reply.status_code != 200:
        raise OutsideRefused("the CA's root", reply)
    return Identity(key, tuple(chain)), x509.load_pem_x509_certificates(reply.content)


async def admit_client(gateway_client: httpx.AsyncClient, name: str, services: Sequence[str], password: str) -> None:
    """The gateway's side of a client: ``name`` may send with ``password`` to ``services``."""
    _ok(f"the gateway registering {name}", await gateway_client.put(
        f"/admin/participants/{name}", json={"services": list(services), "password": password}))


Protocol = Literal["json", "soap"]
"""How an outside provider takes requests: ``json`` at URL/bip/sync/v10, or ``soap`` (the ШЭП
SyncChannel v10 with WS-Security) at URL/bip-sync-wss-gost/."""


async def route_provider(gateway_client: httpx.AsyncClient, name: str, service_ids: Sequence[str], url: str,
                         protocol: Protocol = "json") -> None:
    """The gateway's side of a provider: ``service_ids`` are delivered to ``name`` at ``url``, in
    ``protocol`` (``soap``: a JSON caller's request is adapted by the central gateway,
    :mod:`gateway.soapadapter`; a SOAP caller's is made again without its password, signed by the
    gateway)."""
    for service_id in service_ids:
        body: dict[str, Any] = {"system": name, "url": url}
        if protocol != "json":
            body["protocol"] = protocol
        _ok(f"the gateway routing {service_id} to {name}", await gateway_client.put(
            f"/admin/services/{service_id}", json=body))


async def register_client(
    gateway_client: httpx.AsyncClient, ca_client: httpx.AsyncClient, name: str, services: Sequence[str],
    password: str, *, csr: tuple[PrivateKey, str] | None = None,
) -> OutsideSystem:
    """Have the CA certify the key of ``name`` (``csr``: the system's own key and CSR; a new
    ECDSA P-256 one when not given), then register it at the gateway as a client with the right to
    ``services`` and its ``password`` -- in this order, so a CA's refusal leaves the gateway
    untouched. The clients carry the admin token."""
    key, csr_pem = csr or new_csr(name)
    identity, roots = await certify(ca_client, name, key, csr_pem)
    await admit_client(gateway_client, name, services, password)
    return OutsideSystem(name, identity, roots, password, list(services))


async def register_provider(
    gateway_client: httpx.AsyncClient, ca_client: httpx.AsyncClient, name: str, service_ids: Sequence[str],
    url: str, *, csr: tuple[PrivateKey, str] | None = None, protocol: Protocol = "json",
) -> OutsideSystem:
    """Route ``service_ids`` to the outside provider ``name`` listening at ``url`` (its base URL:
    the gateway posts to ``url`` + ``/bip/sync/v10``, or, for ``protocol="soap"``, a WS-Security
    signed SOAP request to ``url`` + ``/bip-sync-wss-gost/``), once the CA has certified its key,
    with which it signs its answers. A service the gateway had (a simulated system's) is routed
    there instead: the system under test replaces the simulated one. Give callers the right to a
    new service with :func:`grant`."""
    key, csr_pem = csr or new_csr(name)
    identity, roots = await certify(ca_client, name, key, csr_pem)
    await route_provider(gateway_client, name, service_ids, url, protocol)
    return OutsideSystem(name, identity, roots, services=list(service_ids))


async def grant(gateway_client: httpx.AsyncClient, sender_id: str, service_ids: Sequence[str],
                password: str | None = None) -> list[str]:
    """Add ``service_ids`` to the rights of participant ``sender_id`` (an outside participant's
    ``password`` must be given again: the gateway never shows it). Its services now."""
    config = _ok("the gateway's configuration", await gateway_client.get("/admin/config"))
    current = (config["participants"].get(sender_id) or {}).get("services", [])
    services = [*current, *(s for s in service_ids if s not in current)]
    body: dict[str, Any] = {"services": services}
    if password is not None:
        body["password"] = password
    _ok(f"the gateway granting {sender_id}", await gateway_client.put(f"/admin/participants/{sender_id}", json=body))
    return services


Handler = Callable[[RequestInfo, Any], Awaitable[Any]]
"""A provider's handler: the request's info (sender, serviceId, ...) and data; what it answers
(or a :class:`GatewayFault` with a Provider.* code)."""


def provider_app(
    system: OutsideSystem, handlers: dict[str, Handler], clock: Any, *,
    skew: timedelta = timedelta(seconds=300), accept_from: Collection[str] = GATEWAYS,
    received: list[dict[str, Any]] | None = None,
) -> FastAPI:
    """An outside provider's sync channel (``POST /bip/sync/v10``) as a small FastAPI app: a
    request is taken only through a gateway's signed hop addressed to ``system.name``, with a
    sender's signature that verifies against the CA's roots at the run's time (``clock``); the
    handler of its serviceId answers, signed with ``system.identity``. ``received``, when given,
    gets one entry a request: the hop, the sender, the serviceId, the verdict."""
    validator = SignatureValidator(trusted_roots=system.roots, issuing_cas=[], revocation=None)
    hops = HopVerifier(system.name)
    app = FastAPI(title=f"{system.name} (outside provider)")

    @app.post(SYNC_PATH)
    async def take(request: Request) -> JSONResponse:
        body, at = await request.body(), await clock.now()
        entry: dict[str, Any] = {"hop": request.headers.get("X-Egov-Gateway")}
        try:
            entry["hop"] = await hops.verify(request.headers, body, accepted=accept_from, validator=validator,
                                             at=at, skew=skew)
            try:
                signed = SignedRequest.model_validate_json(body)
            except ValidationError as exc:
                raise GatewayFault(ErrorCode.ENVELOPE_INVALID, str(exc)) from None
            info = signed.request.requestInfo
            entry.update(sender=info.sender.senderId, serviceId=info.serviceId, messageId=info.messageId)
            verdict = await validator.jws(signed.signature, signed_content(signed.request), at=at)
            if not verdict.valid or (verdict.signer or {}).get("common_name") != info.sender.senderId:
                raise GatewayFault(ErrorCode.SIGNATURE_INVALID, f"the sender's signature: {verdict.message}",
                                   data={"verdict": verdict.code})
            handler = handlers.get(info.serviceId)
            if handler is None:
                raise GatewayFault(ErrorCode.PROVIDER_UNKNOWN_SERVICE, info.serviceId)
            answer = sign_response(system.identity, info, await handler(info, signed.request.requestData.data),
                                   await clock.now())
            entry["verdict"] = "ACCEPTED"
            return JSONResponse(answer)
        except GatewayFault as fault:
            entry["verdict"] = fault.code
            log.info("%s refused a request: %s", system.name, fault)
            return JSONResponse(fault.to_body(at), status_code=fault.http_status)
        finally:
            if received is not None:
                received.append(entry)

    return app
