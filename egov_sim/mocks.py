"""Mocks of a subsystem's neighbours, on respx: a mock ЭҮШ (gateway), mock ЖТ МДҚ and БНАЖ behind
it, and a mock provider -- for a developer who builds one system and tests it against the others.

They sign and check as the real ones do, with a small PKI of their own (:class:`MockPKI`): give the
system under test the mock's ``trusted_roots`` and a key storage it issues (``identity_of``).
The pytest plugin (:mod:`egov_sim.pytest_plugin`) hands them out as fixtures; docs/developers.md
shows them at work.
"""

from __future__ import annotations

import base64
import inspect
import itertools
import json
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import respx
from cryptography import x509
from pydantic import ValidationError

from egov_sim.clients._base import ClientError
from gateway_protocol.client import build_signed_request
from gateway_protocol.envelope import (
    ASYNC_PATH, SUCCESS_CODE, SUCCESS_MESSAGE, SYNC_PATH, SignedRequest, SignedResponse, signed_content,
)
from gateway_protocol.errors import ErrorCode, GatewayFault
from gateway_protocol.hops import sign_hop
from gateway_protocol.provider import Incoming, sign_response
from signatures.certificates import (
    Subject, create_issuing_ca, create_root_ca, generate_key, issue_certificate,
)
from signatures.identity import Identity
from signatures.jws import verify_detached

Clock = Callable[[], Awaitable[datetime]]
Answerer = Callable[[Incoming], Any]
"""What answers a service: given the verified request, its answer data (or an awaitable of it);
raising :class:`gateway_protocol.errors.GatewayFault` refuses it with that fault."""

GBDFL = "GBDFL_UniversalServiceSync"
ENIS = "ENIS_PowerOfAttorneyCheck"
RESULT_OK = {"code": "00000", "message": "Сообщение успешно обработано"}


async def wall_clock() -> datetime:
    """The mocks' time unless told otherwise: now."""
    return datetime.now(UTC)


class MockGatewayError(AssertionError):
    """The system under test broke the protocol: the check that failed, and what was wrong."""


class MockPKI:
    """A certification authority of the mocks' own: a root, an issuing CA, and key storages for
    systems (CN = the system's name) and people, issued on first ask (ECDSA P-256, quick)."""

    def __init__(self, now: datetime | None = None) -> None:
        start = (now or datetime.now(UTC)) - timedelta(days=1)
        self._start = start
        self._root_key = generate_key("ec")
        self.root = create_root_ca(self._root_key, now=start, name="egov-sim mock root CA")
        self._ca_key = generate_key("ec")
        self.issuer = create_issuing_ca(self._ca_key, self.root, self._root_key, now=start,
                                        name="egov-sim mock issuing CA")
        self._systems: dict[str, Identity] = {}

    @property
    def trusted_roots(self) -> list[x509.Certificate]:
        return [self.root]

    def identity_of(self, system: str) -> Identity:
        """The signing key storage of information system ``system`` (its certificate's CN)."""
        if system not in self._systems:
            key = generate_key("ec")
            subject = Subject.information_system(system_id=system, organisation=f"{system} (mock)", bin="990000000000")
            cert = issue_certificate(key.public_key(), subject, issuer_cert=self.issuer, issuer_key=self._ca_key,
                                     now=self._start, usage="sign", days=3 * 365)
            self._systems[system] = Identity(key, (cert, self.issuer))
        return self._systems[system]

    def person(self, iin: str, surname: str, name: str, *, usage: str = "sign",
               organisation: str | None = None, bin: str | None = None) -> Identity:
        """A person's (with ``organisation`` and ``bin``: an employee's) key storage."""
        subject = (Subject.employee(iin=iin, surname=surname, name=name, organisation=organisation, bin=bin)
                   if organisation and bin else Subject.individual(iin=iin, surname=surname, name=name))
        key = generate_key("ec")
        cert = issue_certificate(key.public_key(), subject, issuer_cert=self.issuer, issuer_key=self._ca_key,
                                 now=self._start, usage=usage, days=365)  # type: ignore[arg-type]
        return Identity(key, (cert, self.issuer))


@dataclass
class Call:
    """A request the system under test sent through the mock gateway, as the mock saw it."""

    service_id: str
    data: Any
    signed: SignedRequest
    channel: str
    signer: str | None
    answer: Any = None
    fault: str | None = None

    @property
    def info(self):
        return self.signed.request.requestInfo


@dataclass
class _Service:
    answer: Answerer
    provider: str


@dataclass
class MockGateway:
    """A mock ЭҮШ.

    - :meth:`deliver` hands a signed request (and the gateway's signed hop) to the provider under
      test, as the gateway forwards one, and checks the answer: the envelope, the signature (by
      the mock PKI, of the provider named), that it answers this message.
    - :meth:`answer` says how a service answers the calls the system under test sends to
      :attr:`url` (sync ``SendMessage``, async ``sendMessage``): each call's sender signature
      is checked and the call kept in :attr:`calls`.
    """

    router: respx.MockRouter
    url: str = "http://gateway.mock"
    pki: MockPKI = field(default_factory=MockPKI)
    clock: Clock = wall_clock
    name: str = "gateway"
    passwords: dict[str, str] = field(default_factory=dict)
    """senderId -> password the mock accepts; a sender not named here is accepted with any."""
    calls: list[Call] = field(default_factory=list)
    _services: dict[str, _Service] = field(default_factory=dict)
    _numbers: itertools.count = field(default_factory=lambda: itertools.count(1))

    def __post_init__(self) -> None:
        self.url = self.url.rstrip("/")
        self.router.post(self.url + SYNC_PATH, name=f"{self.name} sync").mock(side_effect=self._sync)
        self.router.post(self.url + ASYNC_PATH + "/sendMessage", name=f"{self.name} async").mock(side_effect=self._async)
        host = httpx.URL(self.url).host
        self.router.route(host=host, name=f"{self.name} other").mock(side_effect=self._unknown_path)

    # ---- keys --------------------------------------------------------------------------------

    @property
    def trusted_roots(self) -> list[x509.Certificate]:
        """The roots the system under test trusts (the mock PKI's)."""
        return self.pki.trusted_roots

    def identity_of(self, system: str) -> Identity:
        return self.pki.identity_of(system)

    # ---- what the system under test calls ----------------------------------------------------

    def answer(self, service_id: str, answer: Answerer | dict[str, Any] | GatewayFault, *, provider: str = "provider") -> None:
        """How ``service_id`` answers: fixed data, a fault, or a function of the request."""
        if isinstance(answer, GatewayFault):
            fault = answer

            def refuse(_: Incoming) -> Any:
                raise fault

            self._services[service_id] = _Service(refuse, provider)
        elif callable(answer):
            self._services[service_id] = _Service(answer, provider)
        else:
            fixed = answer
            self._services[service_id] = _Service(lambda _: fixed, provider)

    def calls_of(self, service_id: str) -> list[Call]:
        return [c for c in self.calls if c.service_id == service_id]

    async def _check_request(self, request: httpx.Request, channel: str) -> tuple[SignedRequest, str | None]:
        try:
            signed = SignedRequest.model_validate_json(request.content)
        except ValidationError as exc:
            raise GatewayFault(ErrorCode.ENVELOPE_INVALID, str(exc).splitlines()[0]) from None
        info = signed.request.requestInfo
        expected = self.passwords.get(info.sender.senderId)
        if expected is not None and expected != info.sender.password:
            raise GatewayFault(ErrorCode.AUTHENTICATION_FAILED, info.sender.senderId)
        verdict = verify_detached(signed.signature, signed_content(signed.request), trusted_roots=self.trusted_roots,
                                  at=await self.clock())
        if not verdict.valid:
            raise GatewayFault(ErrorCode.SIGNATURE_INVALID, verdict.message, data={"verdict": verdict.code})
        signer = (verdict.signer or {}).get("common_name")
        if signer != info.sender.senderId:
            raise GatewayFault(ErrorCode.SIGNATURE_INVALID,
                               f"the certificate is issued to {signer!r}, not to the sender {info.sender.senderId!r}",
                               data={"verdict": "SIGNER_NOT_SENDER"})
        if channel == "async" and info.messageType is None:
            raise GatewayFault(ErrorCode.MESSAGE_TYPE_MISSING, info.messageId)
        return signed, signer

    async def _run(self, signed: SignedRequest, signer: str | None, channel: str) -> tuple[Call, Any, _Service]:
        info = signed.request.requestInfo
        call = Call(info.serviceId, signed.request.requestData.data, signed, channel, signer)
        self.calls.append(call)
        service = self._services.get(info.serviceId)
        if service is None:
            call.fault = ErrorCode.UNKNOWN_SERVICE
            known = ", ".join(sorted(self._services)) or "none yet: mock_gateway.answer(service_id, …)"
            raise GatewayFault(ErrorCode.UNKNOWN_SERVICE, f"the mock gateway answers no {info.serviceId!r} (it answers: {known})")
        incoming = Incoming(info=info, data=call.data, signer={"common_name": signer}, hop=self.name)
        try:
            result = service.answer(incoming)
            if inspect.isawaitable(result):
                result = await result
        except GatewayFault as fault:
            call.fault = fault.code
            raise
        call.answer = result
        return call, result, service

    async def _sync(self, request: httpx.Request) -> httpx.Response:
        at = await self.clock()
        try:
            signed, signer = await self._check_request(request, "sync")
            _, result, service = await self._run(signed, signer, "sync")
        except GatewayFault as fault:
            return httpx.Response(fault.http_status, json=fault.to_body(at))
        body = sign_response(self.identity_of(service.provider), signed.request.requestInfo, result, await self.clock())
        return httpx.Response(200, json=json.loads(json.dumps(body, default=str)))

    async def _async(self, request: httpx.Request) -> httpx.Response:
        at = await self.clock()
        try:
            signed, signer = await self._check_request(request, "async")
            await self._run(signed, signer, "async")
        except GatewayFault as fault:
            return httpx.Response(fault.http_status, json=fault.to_body(at))
        info = signed.request.requestInfo
        return httpx.Response(200, json={
            "messageId": info.messageId, "correlationId": info.correlationId or info.messageId,
            "acceptedAt": at.isoformat(), "deliveryState": "DELIVERED",
            "status": {"code": SUCCESS_CODE, "message": SUCCESS_MESSAGE},
        })

    async def _unknown_path(self, request: httpx.Request) -> httpx.Response:
        return httpx.Response(404, json={
            "error": "not_found",
            "message": f"the mock gateway serves {SYNC_PATH} and {ASYNC_PATH}/sendMessage, not {request.method} "
                       f"{request.url.path}",
        })

    # ---- delivering to the provider under test -----------------------------------------------

    async def deliver(
        self, provider_app: Any, service_id: str, data: Any, *, provider: str = "provider", sender: str = "portal",
        password: str = "mock-password", correlation_id: str | None = None, signed: SignedRequest | None = None,
        hop: bool = True,
    ) -> Any:
        """Forward a request from ``sender`` to the provider under test -- ``provider_app``: its
        ASGI app, an :class:`httpx.AsyncClient` addressed to it, or its base URL -- as the gateway
        does (the hop signed for ``provider``), and check the answer. The verified response's data;
        the provider's refusal raises :class:`egov_sim.clients.ClientError` (its status, code, texts);
        a broken answer :class:`MockGatewayError` naming the check."""
        at = await self.clock()
        if signed is None:
            signed = build_signed_request(self.identity_of(sender), sender_id=sender, password=password,
                                          service_id=service_id, data=data, message_date=at,
                                          correlation_id=correlation_id)
        body = json.dumps(signed.model_dump(mode="json", exclude_none=True), ensure_ascii=False).encode()
        headers = {"content-type": "application/json"}
        if hop:
            headers.update(sign_hop(self.identity_of(self.name), self.name, provider, body, at))
        async with _client_of(provider_app) as http:
            response = await http.post(SYNC_PATH, content=body, headers=headers)
        return self._checked(response, signed, provider)

    def _checked(self, response: httpx.Response, signed: SignedRequest, provider: str) -> Any:
        try:
            answer = response.json()
        except ValueError:
            raise MockGatewayError(f"envelope: the provider answered HTTP {response.status_code}, not JSON: "
                                   f"{response.text[:200]!r}") from None
        if isinstance(answer, dict) and "errorInfo" in answer:
            if response.status_code < 400:
                raise MockGatewayError(f"envelope: a fault with HTTP {response.status_code} (a fault takes a 4xx/5xx)")
            raise ClientError.of(response, provider)
        if response.status_code != 200:
            raise MockGatewayError(f"envelope: HTTP {response.status_code} without a fault: {response.text[:200]}")
        try:
            reply = SignedResponse.model_validate(answer)
        except ValidationError as exc:
            raise MockGatewayError(f"envelope: the answer is no signed ШЭП response: {exc}") from None
        info = reply.response.responseInfo
        verdict = verify_detached(reply.signature, signed_content(reply.response), trusted_roots=self.trusted_roots,
                                  at=info.responseDate)
        if not verdict.valid:
            raise MockGatewayError(f"signature: the response's signature does not verify: {verdict.code} {verdict.message}")
        signer = (verdict.signer or {}).get("common_name")
        if signer != provider:
            raise MockGatewayError(f"signature: the response is signed by {signer!r}, not by the provider {provider!r}")
        request_info = signed.request.requestInfo
        if info.correlationId not in (request_info.correlationId or request_info.messageId, request_info.messageId):
            raise MockGatewayError(f"correlation: the response's correlationId {info.correlationId!r} is not the "
                                   f"request's ({request_info.correlationId or request_info.messageId!r})")
        if info.status.code != SUCCESS_CODE:
            raise MockGatewayError(f"status: {info.status.code} {info.status.message} (success is {SUCCESS_CODE})")
        return reply.response.responseData.data


def _client_of(target: Any) -> httpx.AsyncClient:
    if isinstance(target, httpx.AsyncClient):
        return _Borrowed(target)  # type: ignore[return-value]
    if isinstance(target, str):
        return httpx.AsyncClient(base_url=target, timeout=30)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=target), base_url="http://provider.under.test", timeout=30)


class _Borrowed:
    """A caller's client used in ``async with`` without closing it."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client

    async def __aenter__(self) -> httpx.AsyncClient:
        return self.client

    async def __aexit__(self, *exc: Any) -> None:
        return None


# ---- registries behind the mock gateway -----------------------------------------------------------


class MockGBDFL:
    """A mock ЖТ МДҚ (ГБД ФЛ) behind the mock gateway: answers ``GBDFL_UniversalServiceSync`` with
    the people given (``{"result": …, "person": …}``, as the registries do), Provider.NotFound else."""

    def __init__(self, gateway: MockGateway, people: list[dict[str, Any]] = ()) -> None:  # type: ignore[assignment]
        self.people: dict[str, dict[str, Any]] = {}
        for person in people:
            self.add(person)
        gateway.answer(GBDFL, self._answer, provider="registries")

    def add(self, person: dict[str, Any] | None = None, **fields: Any) -> dict[str, Any]:
        """A person (the registry's field names: iin, surname, name, patronymic, birthDate …)."""
        record = {**(person or {}), **fields}
        if not isinstance(record.get("iin"), str):
            raise ValueError("a person needs an iin (12 digits)")
        self.people[record["iin"]] = record
        return record

    def _answer(self, request: Incoming) -> dict[str, Any]:
        data = request.data if isinstance(request.data, dict) else {}
        iin = data.get("iin")
        if not isinstance(iin, str) or len(iin) != 12 or not iin.isdigit():
            raise GatewayFault(ErrorCode.PROVIDER_REQUEST_INVALID, "iin: a 12-digit ЖСН is required", data={"field": "iin"})
        if iin not in self.people:
            raise GatewayFault(ErrorCode.PROVIDER_NOT_FOUND, f"ЖТ МДҚ: no record for ЖСН {iin}",
                               data={"registry": "ЖТ МДҚ", "iin": iin})
        return {"result": RESULT_OK, "person": self.people[iin]}


class MockENIS:
    """A mock БНАЖ (ЕНИС) behind the mock gateway: answers ``ENIS_PowerOfAttorneyCheck`` with the
    powers of attorney given -- valid, expired, revoked, not_found or out_of_scope, by the
    registries' own rule, on the request's date."""

    def __init__(self, gateway: MockGateway) -> None:
        self.powers: dict[str, dict[str, Any]] = {}
        gateway.answer(ENIS, self._answer, provider="registries")

    def add(self, number: str, *, principal_iin: str, attorney_iin: str, valid_from: date | str,
            valid_to: date | str, scope: list[str], revoked: bool = False, **fields: Any) -> dict[str, Any]:
        document = {"number": number, "principalIin": principal_iin, "attorneyIin": attorney_iin,
                    "validFrom": str(valid_from), "validTo": str(valid_to), "scope": list(scope),
                    "revoked": revoked, **fields}
        self.powers[number] = document
        return document

    def _answer(self, request: Incoming) -> dict[str, Any]:
        from registries.models import PowerOfAttorneyRecord
        from registries.service import poa_status

        data = request.data if isinstance(request.data, dict) else {}
        number = data.get("number")
        if not isinstance(number, str) or not number.strip():
            raise GatewayFault(ErrorCode.PROVIDER_REQUEST_INVALID, "number: required", data={"field": "number"})
        for name in ("principalIin", "attorneyIin"):
            if not isinstance(data.get(name), str):
                raise GatewayFault(ErrorCode.PROVIDER_REQUEST_INVALID, f"{name}: a 12-digit ЖСН is required",
                                   data={"field": name})
        doc = self.powers.get(number)
        record = None if doc is None else PowerOfAttorneyRecord(
            number=number, principal_iin=doc["principalIin"], attorney_iin=doc["attorneyIin"], document=json.dumps(doc))
        status = poa_status(record, data["principalIin"], data["attorneyIin"], data.get("serviceId"),
                            request.info.messageDate.date())
        answer: dict[str, Any] = {"result": RESULT_OK, "number": number, "status": status}
        if doc is not None and status != "not_found":
            answer["powerOfAttorney"] = doc
        return answer


# ---- a provider behind the mock gateway -------------------------------------------------------------


class MockProvider:
    """A mock provider for a front office under test: answers its applications (``service_id``,
    HousingQueueRegistration by default) with an acknowledgement -- ``registrationNumber``,
    ``registeredAt``, ``resultDue`` -- and, on :meth:`send_result`, delivers the signed result
    through the mock gateway to the front office's result service."""

    def __init__(self, gateway: MockGateway, service_id: str = "HousingQueueRegistration", *,
                 name: str = "provider_ws", term: timedelta = timedelta(days=5)) -> None:
        self.gateway = gateway
        self.service_id = service_id
        self.name = name
        self.term = term
        self.applications: dict[str, dict[str, Any]] = {}
        self.head = gateway.pki.person("700101300001", "БАСШЫ", "БӨЛІМ", organisation=f"{name} (mock)",
                                       bin="990000000001")
        gateway.answer(service_id, self._take, provider=name)

    def _take(self, request: Incoming) -> dict[str, Any]:
        data = request.data if isinstance(request.data, dict) else {}
        application_id = str(data.get("applicationId") or request.info.correlationId or request.info.messageId)
        at = request.info.messageDate
        number = f"MOCK-{len(self.applications) + 1:06d}"
        self.applications[application_id] = {"registrationNumber": number, "request": data,
                                             "sender": request.info.sender.senderId}
        return {"registrationNumber": number, "registeredAt": at.isoformat(), "resultDue": (at + self.term).isoformat()}

    def sign(self, document: dict[str, Any]) -> str:
        """The head's CMS (detached, base64) over the document's RFC 8785 form, as results are signed."""
        from signatures.cms import sign_cms
        from signatures.jws import canonical_json

        return base64.b64encode(sign_cms(canonical_json(document), self.head.key, self.head.chain,
                                         at=datetime.now(UTC), detached=True)).decode()

    async def send_result(self, front_office: Any, application_id: str, *, decision: str = "approved",
                          document: dict[str, Any] | None = None, result_service: str = "GK_ResultDelivery",
                          recipient: str = "corporation_ws", channel: str | None = None) -> Any:
        """Deliver the signed result of ``application_id`` to the front office under test
        (``front_office``: its ASGI app, client or URL), as the provider's step does; the front
        office's answer data."""
        taken = self.applications.get(application_id)
        if taken is None:
            raise KeyError(f"the mock provider took no application {application_id!r} "
                           f"(it took: {', '.join(self.applications) or 'none'})")
        reglament = (taken["request"] or {}).get("reglament")
        document = document or {"applicationId": application_id, "registrationNumber": taken["registrationNumber"],
                                "decision": decision, "issuedAt": (await self.gateway.clock()).isoformat(),
                                "id": str(uuid.uuid4())}
        data = {"applicationId": application_id, "reglament": reglament,
                "channel": channel or (taken["request"] or {}).get("channel"),
                "registrationNumber": taken["registrationNumber"], "decision": decision,
                "document": document, "signature": self.sign(document)}
        return await self.gateway.deliver(front_office, result_service, data, provider=recipient, sender=self.name,
                                          correlation_id=application_id)
