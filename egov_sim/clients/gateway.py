"""The gateway (ЭҮШ / ШЭП): the sync and async channels, the message log, administration.

>>> gateway = GatewayClient(sim.client("gateway"))
>>> reply = await gateway.send(signed_request)              # a SignedRequest built and signed
>>> await gateway.messages(correlation_id="…", kind="all")  # the log, typed
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Literal, TypedDict

from cryptography import x509

from egov_sim.clients._base import Answer, BaseClient, ClientError, params
from gateway_protocol.envelope import ASYNC_PATH, SUCCESS_CODE, SYNC_PATH, SignedRequest, SignedResponse, SyncResponse


class LogEntry(Answer):
    """One record of the message log (``GET /v1/messages``)."""

    seq: int
    kind: Literal["request", "response"]
    channel: str
    messageId: str
    correlationId: str | None = None
    serviceId: str
    sender: str
    cameFrom: str
    recipient: str | None = None
    at: datetime
    status: str
    statusCode: int | None = None
    errorCode: str | None = None


class EvidenceRecord(Answer):
    """A logged message with its exact body (``message``) and its place in the hash chain."""

    seq: int
    kind: Literal["request", "response"]
    channel: str
    message_id: str
    correlation_id: str | None = None
    service_id: str
    sender_id: str
    came_from: str
    recipient: str | None = None
    at_us: int
    status: str
    status_code: int | None = None
    error_code: str | None = None
    hash: str
    message: Any = None


class Evidence(Answer):
    gateway: str
    format: str
    records: list[EvidenceRecord]


class Acceptance(TypedDict, total=False):
    """The async channel's answer to ``sendMessage``."""

    messageId: str
    correlationId: str
    acceptedAt: str
    deliveryState: str
    status: dict[str, str]


class GatewayClient(BaseClient):
    system = "gateway"

    def __init__(self, http, *, token: str | None = None, trusted_roots: Sequence[x509.Certificate] | None = None) -> None:
        """``trusted_roots``: the run's root(s); given, every sync answer's signature is verified."""
        super().__init__(http, token=token)
        self.trusted_roots = list(trusted_roots) if trusted_roots is not None else None

    # ---- the channels ----------------------------------------------------------------------

    async def send(self, signed: SignedRequest, *, at: datetime | None = None) -> SyncResponse:
        """``SendMessage`` on the sync channel: the provider's response (its signature verified
        when the client has ``trusted_roots``, at ``at`` or the answer's own date); a fault raises
        :class:`ClientError` with its ``errorCode`` and texts."""
        response = await self.request("POST", SYNC_PATH, json=signed.model_dump(mode="json", exclude_none=True))
        try:
            answer = SignedResponse.model_validate(response.json())
        except ValueError as exc:
            raise ClientError(response.status_code, "Server.ProviderResponseInvalid", str(exc), system=self.system) from None
        if self.trusted_roots is not None:
            from gateway_protocol.client import verify_signed_response
            from gateway_protocol.errors import GatewayFault

            moment = at or answer.response.responseInfo.responseDate
            try:
                verify_signed_response(answer.model_dump(mode="json", exclude_none=True),
                                       trusted_roots=self.trusted_roots, at=moment)
            except GatewayFault as fault:
                raise ClientError(502, fault.code, str(fault), system=self.system) from None
        status = answer.response.responseInfo.status
        if status.code != SUCCESS_CODE:
            raise ClientError(response.status_code, status.code, status.message, body=response.json(), system=self.system)
        return answer.response

    async def send_async(self, signed: SignedRequest) -> Acceptance:
        """``sendMessage`` on the async channel (the request needs its ``messageType``)."""
        return await self.json("POST", ASYNC_PATH + "/sendMessage", Acceptance,
                               json=signed.model_dump(mode="json", exclude_none=True))

    async def message_status(self, sender_id: str, password: str, message_ids: list[str]) -> list[dict[str, Any]]:
        body = await self.json("POST", ASYNC_PATH + "/getMessageStatus",
                               json={"senderId": sender_id, "password": password, "messageIds": message_ids})
        return body["messages"]

    async def notifications(self, sender_id: str, password: str, after: int = 0) -> list[dict[str, Any]]:
        body = await self.json("POST", ASYNC_PATH + "/getDeliveryNotifications",
                               json={"senderId": sender_id, "password": password, "after": after})
        return body["notifications"]

    # ---- the message log -------------------------------------------------------------------

    async def messages(
        self, *, correlation_id: str | None = None, message_id: str | None = None, service_id: str | None = None,
        since: datetime | None = None, until: datetime | None = None,
        kind: Literal["request", "response", "all"] = "request", limit: int = 100,
    ) -> list[LogEntry]:
        query = params(correlationId=correlation_id, messageId=message_id, serviceId=service_id,
                       since=since.isoformat() if since else None, until=until.isoformat() if until else None,
                       kind=kind, limit=limit)
        return await self.json("GET", "/v1/messages", list[LogEntry], params=query)

    async def evidence(self, correlation_id: str) -> Evidence:
        """Every logged message of one correlationId, with its exact body."""
        return await self.json("GET", "/v1/messages/evidence", Evidence, params={"correlationId": correlation_id})

    async def verify_log(self) -> dict[str, Any]:
        return await self.json("GET", "/v1/messages/verify")

    # ---- administration --------------------------------------------------------------------

    async def config(self) -> dict[str, Any]:
        return await self.json("GET", "/admin/config")

    async def faults(self) -> dict[str, Any]:
        """The faults in force: by serviceId, and ``system:<name>`` for a whole target system."""
        return await self.json("GET", "/admin/faults")

    async def set_fault(self, fault: dict[str, Any], *, service_id: str | None = None,
                        system: str | None = None) -> dict[str, Any]:
        """Set a fault (``{"mode": "down"|"slow"|"error"|"reset"|"malformed", "latency": …,
        "error_code": …, "probability": …, "seed": …}``: egov_sim.faults.FaultSpec) on one service
        or on every service whose target is ``system``."""
        if (service_id is None) == (system is None):
            raise ValueError("set_fault: name a service_id or a system, not both")
        path = f"/admin/faults/{service_id}" if service_id else f"/admin/faults/systems/{system}"
        return await self.json("PUT", path, json=fault)

    async def clear_faults(self, service_id: str | None = None, *, system: str | None = None) -> dict[str, Any]:
        if system is not None:
            return await self.json("DELETE", f"/admin/faults/systems/{system}")
        return await self.json("DELETE", f"/admin/faults/{service_id}" if service_id else "/admin/faults")

    async def errors(self) -> list[dict[str, Any]]:
        """The error catalogue: each code with its HTTP status and texts."""
        return await self.json("GET", "/v1/errors")


class GatewaySender:
    """An information system's way to call services through the gateway with this client: its
    senderId and password, its signing identity, and the virtual clock (an async ``now()``)."""

    def __init__(self, gateway: GatewayClient, *, sender_id: str, password: str, identity: Any, clock: Any) -> None:
        self.gateway = gateway
        self.sender_id = sender_id
        self.password = password
        self.identity = identity
        self.clock = clock

    async def send(self, service_id: str, data: Any, *, correlation_id: str | None = None,
                   route_id: str | None = None, properties: dict[str, str] | None = None) -> SyncResponse:
        from gateway_protocol.client import build_signed_request

        signed = build_signed_request(
            self.identity, sender_id=self.sender_id, password=self.password, service_id=service_id, data=data,
            message_date=await self.clock.now(), correlation_id=correlation_id, route_id=route_id,
            properties=properties,
        )
        return await self.gateway.send(signed)

    async def send_async(self, service_id: str, data: Any, *, message_type: str = "REQUEST",
                         correlation_id: str | None = None, route_id: str | None = None) -> Acceptance:
        from gateway_protocol.client import build_signed_request

        signed = build_signed_request(
            self.identity, sender_id=self.sender_id, password=self.password, service_id=service_id, data=data,
            message_date=await self.clock.now(), correlation_id=correlation_id, route_id=route_id,
            message_type=message_type,  # type: ignore[arg-type]
        )
        return await self.gateway.send_async(signed)
