"""What a gateway does with one message: check it, route it, deliver it, log it."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any, Literal

import httpx
from pydantic import ValidationError

from gateway.config import GatewayConfig
from gateway.models import MessageRecord
from gateway_protocol.envelope import (
    HOP_HEADER,
    HOP_PASSWORD_HEADER,
    SYNC_PATH,
    SignedRequest,
    signed_content,
)
from gateway_protocol.client import verify_signed_response
from gateway_protocol.errors import ErrorCode, GatewayFault
from simulation.clock import to_us
from simulation.runtime import SystemRuntime
from simulation.topology import sender_password

log = logging.getLogger(__name__)

CENTRAL = "gateway"


@dataclass
class Reply:
    status_code: int
    body: dict[str, Any]


class GatewayService:
    def __init__(
        self,
        runtime: SystemRuntime,
        config: GatewayConfig,
        role: Literal["central", "regional"],
    ) -> None:
        self.runtime = runtime
        self.config = config
        self.role = role
        self.region = config.region_of_gateway(runtime.name) if role == "regional" else None
        if role == "regional" and self.region is None:
            raise ValueError(f"{runtime.name} serves no region in the gateway configuration")
        self.peers = {CENTRAL} | {r.gateway for r in config.regions.values()}
        self.peers.discard(runtime.name)

    async def handle(self, body: bytes, headers: httpx.Headers | dict[str, str]) -> Reply:
        at = await self.runtime.now()
        record: MessageRecord | None = None
        try:
            came_from = self._authenticate_hop(headers)
            signed = self._parse(body)
            info = signed.request.requestInfo
            record = MessageRecord(
                message_id=info.messageId,
                correlation_id=info.correlationId,
                service_id=info.serviceId,
                sender_id=info.sender.senderId,
                route_id=info.routeId,
                came_from=came_from or info.sender.senderId,
                received_us=to_us(at),
                status="ON_DELIVERY",
                request=_masked(signed),
            )
            await self._check(signed, at)
            record.recipient = target = self._route(signed, came_from)
            reply = await self._deliver(target, body, at)
            if reply.status_code == 200:
                record.status = "DELIVERED"
            else:
                record.status = "NOT_DELIVERED"
                info_body = reply.body.get("errorInfo", {})
                record.error_code = info_body.get("errorCode")
                record.error_detail = info_body.get("errorMessage")
            return reply
        except GatewayFault as fault:
            if record is not None:
                record.status = "REFUSED"
                record.error_code = fault.code
                record.error_detail = fault.detail
            log.info("%s refused a message: %s", self.runtime.name, fault)
            return Reply(fault.http_status, fault.to_body(at))
        finally:
            if record is not None:
                async with self.runtime.db.session() as session:
                    session.add(record)
                    await session.commit()

    # ---- the checks, in order -------------------------------------------------------------

    def _authenticate_hop(self, headers: Any) -> str | None:
        hop = headers.get(HOP_HEADER)
        if hop is None:
            return None
        if hop not in self.peers or headers.get(HOP_PASSWORD_HEADER) != sender_password(hop):
            raise GatewayFault(ErrorCode.HOP_NOT_TRUSTED, f"{hop!r} is not a peer gateway")
        return hop

    @staticmethod
    def _parse(body: bytes) -> SignedRequest:
        try:
            return SignedRequest.model_validate_json(body)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or 'body'}: {e['msg']}" for e in exc.errors()
            )
            raise GatewayFault(ErrorCode.ENVELOPE_INVALID, problems) from None

    async def _check(self, signed: SignedRequest, at) -> None:
        info = signed.request.requestInfo
        sender = info.sender.senderId
        expected = self.config.password_of(sender)
        if expected is None:
            raise GatewayFault(ErrorCode.UNKNOWN_SENDER, sender)
        if info.sender.password != expected:
            raise GatewayFault(ErrorCode.AUTHENTICATION_FAILED, sender)
        verdict = await self.runtime.validator.jws(
            signed.signature, signed_content(signed.request), at=at
        )
        if not verdict.valid:
            raise GatewayFault(
                ErrorCode.SIGNATURE_INVALID, verdict.message, data={"verdict": verdict.code}
            )
        signer = (verdict.signer or {}).get("common_name")
        if signer != sender:
            raise GatewayFault(
                ErrorCode.SIGNATURE_INVALID,
                f"the certificate is issued to {signer!r}, not to the sender {sender!r}",
                data={"verdict": "SIGNER_NOT_SENDER"},
            )
        if info.serviceId not in self.config.services:
            raise GatewayFault(ErrorCode.UNKNOWN_SERVICE, info.serviceId)
        if info.serviceId not in self.config.participants[sender].services:
            raise GatewayFault(ErrorCode.ACCESS_DENIED, f"{sender} -> {info.serviceId}")

    def _route(self, signed: SignedRequest, came_from: str | None) -> str:
        info = signed.request.requestInfo
        service = self.config.services[info.serviceId]
        if self.role == "regional":
            region = self.config.regions[self.region]  # type: ignore[index]
            local = region.services.get(info.serviceId)
            if local and info.routeId in (None, self.region):
                return local
            if came_from == CENTRAL:  # the centre sent it here: it must be ours
                raise GatewayFault(
                    ErrorCode.UNKNOWN_ROUTE,
                    f"{self.runtime.name} has no provider of {info.serviceId} for {info.routeId!r}",
                )
            return CENTRAL
        if service.system:
            return service.system
        region = self.config.regions.get(info.routeId or "")
        if region is None or info.serviceId not in region.services:
            raise GatewayFault(
                ErrorCode.UNKNOWN_ROUTE,
                f"{info.serviceId} has no provider for routeId {info.routeId!r}",
            )
        return region.gateway

    async def _deliver(self, target: str, body: bytes, at) -> Reply:
        url = self.runtime.url_of(target) + SYNC_PATH
        try:
            response = await self.runtime.http.post(
                url,
                content=body,
                headers={
                    "Content-Type": "application/json",
                    HOP_HEADER: self.runtime.name,
                    HOP_PASSWORD_HEADER: sender_password(self.runtime.name),
                },
            )
        except httpx.TimeoutException:
            raise GatewayFault(ErrorCode.PROVIDER_TIMEOUT, target) from None
        except httpx.TransportError as exc:
            raise GatewayFault(ErrorCode.PROVIDER_UNAVAILABLE, f"{target}: {exc}") from None
        try:
            payload = response.json()
        except ValueError:
            raise GatewayFault(
                ErrorCode.PROVIDER_RESPONSE_INVALID, f"{target}: HTTP {response.status_code}"
            ) from None
        if response.status_code != 200:
            if isinstance(payload, dict) and "errorInfo" in payload:
                return Reply(response.status_code, payload)
            raise GatewayFault(
                ErrorCode.PROVIDER_RESPONSE_INVALID, f"{target}: HTTP {response.status_code}"
            )
        verify_signed_response(
            payload, trusted_roots=self.runtime.trusted_roots, at=await self.runtime.now(),
            source=target,
        )
        return Reply(200, payload)


def _masked(signed: SignedRequest) -> str:
    data = signed.model_dump(mode="json", exclude_none=True)
    data["request"]["requestInfo"]["sender"]["password"] = "***"
    return json.dumps(data, ensure_ascii=False)
