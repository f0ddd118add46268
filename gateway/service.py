"""What a gateway does with a message: check it, route it, deliver it, log it.

Every message passes the same checks, in this order, and the first that fails answers:
a forwarding gateway is a trusted peer that signed the hop (:mod:`gateway_protocol.hops`);
envelope schema; the sender is registered; its password (the participant file's, else the run's,
:mod:`simulation.credentials`); its signature and certificate (chain, validity, key usage,
revocation -- the PKI's verdicts) and that the certificate is the sender's; then a repeated
messageId gets the first answer, within the replay window; the messageDate is within the allowed
skew of the run's virtual time; the service exists and the sender has the right to it; the route
exists. Sync messages are then delivered at once, the hop signed with this gateway's key; async
ones are stored and delivered by :class:`gateway.asyncchannel.AsyncDelivery`, which uses this
service through its public checkpoint (:class:`gateway.messages.Checkpoint`).

An answer is passed on only when it is signed by the provider registered for the service, with a
certificate the validator accepts (revocation included); otherwise the sender gets
``Server.ProviderResponseInvalid`` and the log keeps why.

A refusal before the sender is authenticated (a bad hop, an unknown sender, a wrong password, a
bad signature) is logged as the body's SHA-256 and its first KiB, not the whole body: whoever can
reach the gateway cannot fill its log. A refusal after it keeps the whole masked request.

A message comes in one of two formats, read into the same :class:`gateway.messages.Incoming` and
put through the same checks by the same code: the JSON envelope (a detached JWS over its signed
content) and the ШЭП SOAP interface (:mod:`gateway.soapchannel`; WS-Security over the Body,
checked with :meth:`signatures.validation.SignatureValidator.xmldsig`). Only reading the envelope
and checking its signature differ. A SOAP message is forwarded as it came to the next hop's SOAP
path (:data:`gateway_protocol.soap.SYNC_SOAP_PATH`) -- to an outside provider a tester registered
it goes made again, with the password ``***`` and signed by the gateway, since the sender's signed
Body holds its password; for an outside provider that takes JSON only it is refused
(``Client.UnknownRoute``) before anything is sent -- and a provider's SOAP answer is passed on as
it came once its WS-Security signature is the registered provider's. The gateway's own answers to a
SOAP caller are SOAP faults (HTTP 500) signed with its key. The log keeps a SOAP message as
``{"format": "soap", "envelope", "receipt"}``: the envelope re-serialised from its parsed tree
with the sender's password masked (:func:`mask_soap`; so its signature cannot be verified again
from the log) and the verdict at receipt. A
repeated messageId is answered only in the format of its first answer (the other format gets
``Client.MessageReplayed``). A JSON message for an outside provider registered with ``protocol:
soap`` is adapted (:mod:`gateway.soapadapter`): sent as a SendMessage signed by the gateway, and
the provider's checked SOAP answer turned into a JSON answer signed by the gateway; the log keeps
that JSON answer with the provider's SOAP answer as it came (``providerAnswer``).
"""

from __future__ import annotations

import hashlib
import logging
import re
import secrets
import time
from datetime import datetime, timedelta
from typing import Any, Literal

import httpx
from pydantic import ValidationError

from gateway.asyncchannel import AsyncDelivery
from gateway.config import ConfigStore, GatewayConfig
from gateway.faults import FaultSwitches
from gateway.messagelog import MessageLog
from gateway.models import upgrade_tables
from gateway.replicas import SharedAnswers, chain_of, check_replica, lease_of
from cryptography.x509.oid import NameOID

from gateway.messages import (
    MAX_ENVELOPE_BYTES, SOAP_CONTENT_TYPE, SOAP_FORMAT, Accepted, Channel, Format, Incoming, Reply,
    PROVIDER_ANSWER, format_of, parse_json, parse_soap, remembered, soap_document, soap_operation,
)
from gateway.metrics import GatewayMetrics
from gateway.soapadapter import json_answer_from, soap_request_for, soap_request_from_soap
from gateway_protocol import soap
from gateway_protocol.envelope import ASYNC_PATH, SYNC_PATH, ErrorInfo, RequestInfo, SignedResponse, signed_content
from gateway_protocol.errors import ErrorCode, GatewayFault, check_message_date
from gateway_protocol.soap.names import SYNC_OPERATION
from gateway_protocol.soap.xmldata import XmlRefused, parse_xml
from lxml import etree
from signatures.xmldsig import ACCEPTED_DIGEST_METHODS, ACCEPTED_SIGNATURE_METHODS
from gateway_protocol.hops import HopVerifier, has_hop, sign_hop
from gateway_protocol.replay import ReplayGuard
from simulation import jsoncodec
from simulation.clock import to_us
from simulation.observability import log_context
from runtime import SystemRuntime
from runtime.system import StartupRefused

log = logging.getLogger(__name__)

CENTRAL = "gateway"
ACCEPTED_ALGORITHMS = (*ACCEPTED_SIGNATURE_METHODS, *ACCEPTED_DIGEST_METHODS)
"""The XML-DSig algorithms (signature methods, then digest methods) a SOAP message may be signed with."""
FAULTS_REFRESH = 1.0
"""Seconds within which a replica acts on the fault rules another replica set (docs/scaling.md)."""
REFUSED_PREFIX = 1024
"""Bytes of a body refused before its sender was authenticated that the log keeps (with its digest)."""


class GatewayService:
    def __init__(self, runtime: SystemRuntime, store: ConfigStore, role: Literal["central", "regional"]) -> None:
        self.runtime = runtime
        self.store = store
        self.role = role
        self._derived_for: GatewayConfig | None = None
        self._derived_value: tuple[str | None, frozenset[str]] = (None, frozenset())
        store.config  # read now: a file that is no configuration stops the start, naming why
        if role == "regional" and self.region is None:
            raise ValueError(f"{runtime.name} serves no region in the gateway configuration")
        self.replica = runtime.settings.replica
        """``gateway#N`` when this process is one replica of the gateway (docs/scaling.md), else None."""
        self.refusal = check_replica(runtime.name, self.replica, runtime.db)
        """Why this process cannot start as the replica it was named (raised at the start), or None."""
        self.log = MessageLog(runtime.db, chain=chain_of(self.replica))
        self.faults = FaultSwitches(runtime.db, refresh_every=FAULTS_REFRESH if self.replica else None)
        self.metrics = GatewayMetrics(runtime.name)
        # replicas share the replay guard's answers (a repeat through another replica gets the
        # first answer); a single process keeps them in memory and recalls them from its log
        self.replay = ReplayGuard(
            SharedAnswers(runtime.db, self.replica, lease=lease_of(runtime.settings))
            if self.replica else None
        )
        self.hops = HopVerifier(runtime.name)
        self.async_channel = AsyncDelivery(self)

    @property
    def config(self) -> GatewayConfig:
        return self.store.config

    @property
    def region(self) -> str | None:
        return self._derived(self.config)[0]

    def _derived(self, config: GatewayConfig) -> tuple[str | None, frozenset[str]]:
        """(this gateway's region, its peer gateways) in ``config``, worked out once per configuration."""
        if self._derived_for is not config:
            region = config.region_of_gateway(self.runtime.name) if self.role == "regional" else None
            peers = frozenset({CENTRAL} | {r.gateway for r in config.regions.values()}) - {self.runtime.name}
            self._derived_value, self._derived_for = (region, peers), config
        return self._derived_value

    async def start(self) -> None:
        if self.refusal is not None:
            raise StartupRefused(self.refusal)
        await upgrade_tables(self.runtime.db)
        await self.log.start()
        await self.faults.load()
        await self.recall_answers()
        await self.async_channel.start()

    async def recall_answers(self) -> None:
        """The replay guard given the latest answers of the log (after a restart): a JSON answer
        as its document, a SOAP one as its logged :func:`~gateway.messages.soap_document`."""
        async for record in self.log.recent_answers(self.replay.capacity):
            self.replay.remember(
                (record.sender_id, record.message_id), (record.status_code or 200, jsoncodec.loads(record.body)),
                record.at_us,
            )

    async def stop(self) -> None:
        await self.async_channel.stop()
        await self.log.stop()

    # ---- the sync channel -----------------------------------------------------------------

    async def sync(self, body: bytes, headers: Any, fmt: Format = "json") -> Reply:
        """A sync message (JSON, or a SOAP ``SendMessage``) checked, forwarded, answered and logged.

        A SOAP message's answer is a :class:`Reply` whose ``raw`` is the SOAP envelope to send
        (the provider's as it came, or the gateway's own, signed; :mod:`gateway.soapchannel`)."""
        started = time.perf_counter()
        at = await self.runtime.now()
        config = self.config  # one configuration for all the checks of a message
        service_id = "-"
        incoming: Incoming | None = None
        came_from = "?"
        try:
            incoming, came_from = await self.authenticate(body, headers, at, "sync", config, fmt)
            info = incoming.info
            service_id = info.serviceId
            with log_context(correlationId=info.correlationId or info.messageId, messageId=info.messageId,
                             serviceId=info.serviceId, gateway=self.runtime.name):
                delivered: list[Reply] = []

                async def produce() -> tuple[int, dict[str, Any]]:
                    try:
                        accepted = self.admit(incoming, came_from, at, "sync", config)
                    except GatewayFault as fault:
                        log.info("refused: %s", fault, extra={"fields": {"errorCode": fault.code}})
                        self.log_request(incoming, came_from, None, at, "sync", "REFUSED", fault.code)
                        reply = self.answer_fault(incoming, fault, at)
                        self.log_answer(incoming, None, at, "sync", "REFUSED", reply, fault.code)
                        return reply.status_code, remembered(reply)
                    self.log_request(incoming, came_from, accepted.target, at, "sync", "RECEIVED", None)
                    reply = await self.forward(accepted)
                    if incoming.format == "soap" and reply.format != "soap":  # the gateway's own fault
                        reply = self.answer_fault(incoming, reply, reply.at or at)
                    state = "DELIVERED" if reply.status_code == 200 else "NOT_DELIVERED"
                    self.log_answer(incoming, accepted.target, reply.at or await self.runtime.now(), "sync", state, reply)
                    delivered.append(reply)
                    return reply.status_code, remembered(reply)

                (status, answer), replayed = await self.replay.answer(
                    (info.sender.senderId, info.messageId), produce, at=at, window=self.replay_window
                )
                if replayed:
                    if format_of(answer) != incoming.format:
                        raise GatewayFault(
                            ErrorCode.MESSAGE_REPLAYED,
                            f"messageId {info.messageId!r} of {info.sender.senderId!r} was first sent over the "
                            f"{format_of(answer).upper()} interface; its answer is given again only there",
                        )
                    self.metrics.replays.inc()
                    self.log_request(incoming, came_from, None, at, "sync", "REPLAYED", None)
                    log.info("a repeated messageId was answered with the first answer")
                outcome = "REPLAYED" if replayed else _outcome(status, answer)
                self.count(service_id, "sync", outcome, started)
                return delivered[0] if delivered and not replayed else replied(status, answer)
        except GatewayFault as fault:
            if fault.code == ErrorCode.MESSAGE_REPLAYED and incoming is not None:
                self.log_request(incoming, came_from, None, at, "sync", "REFUSED", fault.code)
                log.info("refused: %s", fault, extra={"fields": {"errorCode": fault.code}})
            self.count(service_id, "sync", fault.code, started)
            if fmt == "soap":
                return self.soap_fault(fault, incoming.operation if incoming else _operation_of(body), at)
            return Reply(fault.http_status, fault.to_body(at))

    def answer_fault(self, incoming: Incoming, fault: GatewayFault | Reply, at: datetime) -> Reply:
        """The gateway's fault in the format of the message it answers (a SOAP one signed)."""
        if isinstance(fault, Reply):
            if incoming.format == "json" or fault.format == "soap":
                return fault
            fault = GatewayFault.from_error_info(ErrorInfo.model_validate(fault.body["errorInfo"]))
        if incoming.format == "soap":
            return self.soap_fault(fault, incoming.operation, at)
        return Reply(fault.http_status, fault.to_body(at), at=at)

    def soap_fault(self, fault: GatewayFault, operation: str, at: datetime) -> Reply:
        """A SOAP fault of the gateway's, signed with its key: HTTP 500, as SOAP 1.1 over HTTP says."""
        envelope = self.sign_soap(soap.fault(fault, operation, at=at))
        return Reply(500, fault.to_body(at), raw=envelope, at=at, format="soap")

    def sign_soap(self, envelope: bytes) -> bytes:
        """One of the gateway's own SOAP answers, WS-Security signed with its key."""
        from signatures.xmldsig import sign_envelope

        return sign_envelope(envelope, self.runtime.identity)

    @property
    def replay_window(self) -> timedelta:
        """How long after a message came its first answer is given again to a repeat."""
        return timedelta(seconds=self.runtime.settings.message_date_skew)

    def check_sender(self, sender_id: str, password: str, config: GatewayConfig | None = None) -> None:
        """The sender is a participant and ``password`` its password in this run (compared in
        constant time); else ``Client.UnknownSender`` or ``Client.AuthenticationFailed``."""
        expected = (config or self.config).password_of(sender_id, self.runtime.credentials)
        if expected is None:
            raise GatewayFault(ErrorCode.UNKNOWN_SENDER, sender_id)
        if not secrets.compare_digest(password.encode(), expected.encode()):
            raise GatewayFault(ErrorCode.AUTHENTICATION_FAILED, sender_id)

    # ---- the checks -----------------------------------------------------------------------

    async def authenticate(
        self, body: bytes, headers: Any, at: datetime, channel: Channel, config: GatewayConfig,
        fmt: Format = "json",
    ) -> tuple[Incoming, str]:
        """Hop, envelope, sender, password, signature: who sent this, proven. Logs a refusal.

        The same checks in the same order for both formats: only reading the envelope (JSON or
        SOAP) and checking its signature (a JWS over the signed content, or WS-Security over the
        SOAP Body, :meth:`SignatureValidator.xmldsig`) differ. Gives the message and the peer
        gateway or sender it came from."""
        incoming: Incoming | None = None
        came_from: str | None = None
        try:
            came_from = await self._authenticate_hop(headers, body, at, config)
            incoming = self._parse(body, channel) if fmt == "json" else self._parse_soap(body, channel, came_from)
            info = incoming.info
            came_from = came_from or info.sender.senderId
            sender = info.sender.senderId
            self.check_sender(sender, info.sender.password, config)
            if incoming.format == "json":
                assert incoming.signed is not None
                incoming.content = signed_content(incoming.signed.request)
                verdict = await self.runtime.validator.jws(incoming.signed.signature, incoming.content, at=at)
            else:
                checked = await self.runtime.validator.xmldsig(body, at=at)
                verdict = checked.verdict
                incoming.receipt = receipt(checked)
                if checked.algorithm_refused:
                    raise GatewayFault(
                        ErrorCode.SIGNATURE_INVALID, verdict.message,
                        data={"verdict": verdict.code, "accepted": list(ACCEPTED_ALGORITHMS)},
                    )
            if not verdict.valid:
                raise GatewayFault(ErrorCode.SIGNATURE_INVALID, verdict.message, data={"verdict": verdict.code})
            signer = (verdict.signer or {}).get("common_name")
            if signer != sender:
                if incoming.receipt is not None:
                    incoming.receipt["verdict"] = "SIGNER_NOT_SENDER"
                raise GatewayFault(
                    ErrorCode.SIGNATURE_INVALID,
                    f"the certificate is issued to {signer!r}, not to the sender {sender!r}",
                    data={"verdict": "SIGNER_NOT_SENDER"},
                )
            return incoming, came_from
        except GatewayFault as fault:
            # Not authenticated: the log keeps the body's digest and first KiB, not the body.
            if incoming is not None:
                info = incoming.info
                self.log_unauthenticated(body, came_from or "?", at, channel, fault.code, incoming)
                with log_context(correlationId=info.correlationId or info.messageId, messageId=info.messageId,
                                 serviceId=info.serviceId, gateway=self.runtime.name):
                    log.info("refused: %s", fault, extra={"fields": {"errorCode": fault.code}})
            else:
                self.log_unauthenticated(body, came_from or "?", at, channel, fault.code)
                with log_context(gateway=self.runtime.name):
                    log.info("refused: %s", fault, extra={"fields": {"errorCode": fault.code}})
            raise

    def admit(
        self, incoming: Incoming, came_from: str, at: datetime, channel: Channel, config: GatewayConfig,
    ) -> Accepted:
        """The checks after authentication: time, service, access right, route."""
        info = incoming.info
        check_message_date(info, at, timedelta(seconds=self.runtime.settings.message_date_skew), "the gateway's")
        if channel == "async" and info.messageType is None:
            raise GatewayFault(ErrorCode.MESSAGE_TYPE_MISSING, "requestInfo.messageType")
        if info.serviceId not in config.services:
            raise GatewayFault(ErrorCode.UNKNOWN_SERVICE, info.serviceId)
        if info.serviceId not in config.participants[info.sender.senderId].services:
            raise GatewayFault(ErrorCode.ACCESS_DENIED, f"{info.sender.senderId} -> {info.serviceId}")
        target = self._route(info, came_from, config)
        if incoming.format == SOAP_FORMAT and config.outside_protocol(target) == "json":
            # refused before anything is sent: the provider would get SOAP at a path it does not serve
            path = ASYNC_PATH if channel == "async" else SYNC_PATH
            raise GatewayFault(
                ErrorCode.UNKNOWN_ROUTE,
                f"the provider of {info.serviceId} ({target}) takes the JSON channel only, not SOAP: "
                f"send this request as a JSON envelope to {path}",
                data={"serviceId": info.serviceId, "provider": target, "jsonPath": path},
            )
        return Accepted(incoming, came_from, target, at)

    async def _authenticate_hop(self, headers: Any, body: bytes, at: datetime, config: GatewayConfig) -> str | None:
        """The peer gateway that signed this hop, None for a sender's own request, or
        ``Client.HopNotTrusted`` naming the check that failed (:mod:`gateway_protocol.hops`)."""
        if not has_hop(headers):
            return None
        return await self.hops.verify(
            headers, body, accepted=self._derived(config)[1], validator=self.runtime.validator, at=at,
            skew=timedelta(seconds=self.runtime.settings.message_date_skew),
        )

    @staticmethod
    def _parse(body: bytes, channel: Channel = "sync") -> Incoming:
        return parse_json(body)

    @staticmethod
    def _parse_soap(body: bytes, channel: Channel, hop: str | None) -> Incoming:
        return parse_soap(body, channel, hop)

    def _route(self, info: RequestInfo, came_from: str | None, config: GatewayConfig) -> str:
        service = config.services[info.serviceId]
        if self.role == "regional":
            own = self._derived(config)[0]
            region = config.regions.get(own or "")
            if region is None:  # the participant file no longer names this gateway's region
                raise GatewayFault(
                    ErrorCode.TARGET_UNKNOWN, f"{self.runtime.name} serves no region in the gateway configuration"
                )
            local = region.services.get(info.serviceId)
            if local and info.routeId in (None, own):
                return local
            if came_from == CENTRAL:  # the centre sent it here: it must be ours
                raise GatewayFault(
                    ErrorCode.UNKNOWN_ROUTE,
                    f"{self.runtime.name} has no provider of {info.serviceId} for {info.routeId!r}",
                )
            return CENTRAL
        if service.system:
            return service.system
        region = config.regions.get(info.routeId or "")
        if region is None or info.serviceId not in region.services:
            raise GatewayFault(
                ErrorCode.UNKNOWN_ROUTE, f"{info.serviceId} has no provider for routeId {info.routeId!r}"
            )
        return region.gateway

    # ---- delivery -------------------------------------------------------------------------

    async def forward(self, accepted: Accepted) -> Reply:
        """Hand an accepted message to its next hop; its answer, or the fault why not.

        The message travels as it came (a SOAP one with its sender's WS-Security signature
        intact, to the next hop's SOAP path), with this gateway's hop signature over its bytes --
        except to an outside provider: a SOAP message is made again for it without the sender's
        password and signed by this gateway (:func:`gateway.soapadapter.soap_request_from_soap`;
        a JSON-only outside provider never gets SOAP, :meth:`admit` refuses that), and a JSON
        message for an outside SOAP provider is adapted (:func:`gateway.soapadapter.soap_request_for`)."""
        target = accepted.target
        fmt = accepted.incoming.format
        body = accepted.body
        try:
            url = self._url_of(target)
            adapted = fmt == "json" and self._speaks_soap(accepted.info.serviceId, target)
            if adapted:  # a JSON message for an outside provider that speaks SOAP (gateway.soapadapter)
                assert accepted.incoming.signed is not None
                body = soap_request_for(accepted.incoming.signed, self.runtime.identity)
            elif fmt == "soap" and self.config.outside_url(target) is not None:
                # a SOAP message for an outside provider: made again without the sender's password,
                # signed by the gateway (gateway.soapadapter.soap_request_from_soap); never as it came
                try:
                    body = soap_request_from_soap(accepted.incoming.body, accepted.info, self.runtime.identity)
                except ValueError as exc:  # XmlRefused included: never for a body the gateway read
                    raise GatewayFault(ErrorCode.ENVELOPE_INVALID, f"the request cannot be made for {target}: {exc}") from None
            headers = sign_hop(self.runtime.identity, self.runtime.name, target, body, await self.runtime.now())
            if fmt == "soap" or adapted:
                headers["Content-Type"] = SOAP_CONTENT_TYPE
                path = soap.SYNC_SOAP_PATH
            else:
                headers["Content-Type"] = "application/json"
                path = SYNC_PATH
            info = accepted.info
            try:
                status, content = await self.faults.deliver(  # the operator's faults acted out, if any
                    info.serviceId, target, lambda: self._provider_of(info.serviceId, info.routeId, self.config),
                    lambda: self.runtime.post_bytes(url + path, body, headers),
                    timeout=self.runtime.settings.request_timeout, now=self.runtime.now,
                )
            except httpx.TimeoutException:
                raise GatewayFault(ErrorCode.PROVIDER_TIMEOUT, target) from None
            except httpx.TransportError as exc:
                raise GatewayFault(ErrorCode.PROVIDER_UNAVAILABLE, f"{target}: {exc}") from None
            if fmt == "soap":
                return await self._soap_answer(status, content, accepted)
            if adapted:
                answered = await self.runtime.now()
                status, payload = await json_answer_from(
                    content, provider=self._provider_of(info.serviceId, info.routeId, self.config),
                    validator=self.runtime.validator, at=answered, gateway=self.runtime.identity,
                )
                return Reply(status, payload, at=answered, received=content)
            try:
                payload = jsoncodec.loads(content)
            except ValueError:
                raise GatewayFault(ErrorCode.PROVIDER_RESPONSE_INVALID, f"{target}: HTTP {status}") from None
            if status != 200:
                if isinstance(payload, dict) and "errorInfo" in payload:
                    return Reply(status, payload)
                raise GatewayFault(ErrorCode.PROVIDER_RESPONSE_INVALID, f"{target}: HTTP {status}")
            answered = await self.runtime.now()
            await self._check_answer(payload, accepted, answered)
            return Reply(200, payload, content, answered)
        except GatewayFault as fault:
            answered = await self.runtime.now()
            return Reply(fault.http_status, fault.to_body(answered), at=answered)

    async def _soap_answer(self, status: int, content: bytes, accepted: Accepted) -> Reply:
        """The next hop's SOAP answer, passed on as it came when it may be: a SOAP fault (any
        status), or an answer WS-Security signed by the provider registered for the service.
        A JSON fault (an operator's fault switch acts in the gateway's own format) becomes the
        gateway's fault; anything else is ``Server.ProviderResponseInvalid``."""
        target, info = accepted.target, accepted.info
        answered = await self.runtime.now()
        if content[:1] in (b"{", b"["):
            try:
                payload = jsoncodec.loads(content)
            except ValueError:
                payload = None
            if isinstance(payload, dict) and "errorInfo" in payload:
                return Reply(status if status != 200 else 500, payload, at=answered)
        try:
            carried = soap.parse_fault(content)
        except GatewayFault as exc:
            raise GatewayFault(ErrorCode.PROVIDER_RESPONSE_INVALID, f"{target}: HTTP {status}: {exc.detail}") from None
        if carried is not None:
            return Reply(500, carried.to_body(answered), raw=content, at=answered, format="soap")
        if status != 200:
            raise GatewayFault(ErrorCode.PROVIDER_RESPONSE_INVALID, f"{target}: HTTP {status} without a SOAP fault")
        checked = await self.runtime.validator.xmldsig(content, at=answered)
        expected = self._provider_of(info.serviceId, info.routeId, self.config)
        verdict = checked.verdict
        signer = (verdict.signer or {}).get("common_name")
        if not verdict.valid:
            fault = GatewayFault(
                ErrorCode.PROVIDER_RESPONSE_INVALID, f"{target}: response signature: {verdict.message}",
                data={"verdict": verdict.code},
            )
        elif signer != expected:
            fault = GatewayFault(
                ErrorCode.PROVIDER_RESPONSE_INVALID,
                f"{target}: the answer is signed by {signer!r}, not by {expected or 'a registered provider'!r}, "
                f"the provider of {info.serviceId}",
                data={"verdict": "SIGNER_NOT_PROVIDER", "signer": signer, "expected": expected},
            )
        else:
            return Reply(200, {}, raw=content, at=answered, format="soap", receipt=receipt(checked))
        log.warning("an answer was not passed on: %s", fault, extra={"fields": {"errorCode": fault.code}})
        raise fault

    async def _check_answer(self, payload: Any, accepted: Accepted, at: datetime) -> None:
        """An answer is passed on only when the provider registered for the service signed it
        with a key the validator accepts (chain, validity, usage, revocation). At every hop the
        signer is that provider: a regional gateway passes on the provider's signed answer as
        it came."""
        target, info = accepted.target, accepted.info
        try:
            signed = SignedResponse.model_validate(payload)
        except ValidationError as exc:
            raise GatewayFault(ErrorCode.PROVIDER_RESPONSE_INVALID, f"{target}: {exc}") from None
        verdict = await self.runtime.validator.jws(signed.signature, signed_content(signed.response), at=at)
        expected = self._provider_of(info.serviceId, info.routeId, self.config)
        if not verdict.valid:
            fault = GatewayFault(
                ErrorCode.PROVIDER_RESPONSE_INVALID, f"{target}: response signature: {verdict.message}",
                data={"verdict": verdict.code},
            )
        else:
            signer = (verdict.signer or {}).get("common_name")
            if signer == expected:
                return
            fault = GatewayFault(
                ErrorCode.PROVIDER_RESPONSE_INVALID,
                f"{target}: the answer is signed by {signer!r}, not by {expected or 'a registered provider'!r}, "
                f"the provider of {info.serviceId}",
                data={"verdict": "SIGNER_NOT_PROVIDER", "signer": signer, "expected": expected},
            )
        log.warning("an answer was not passed on: %s", fault, extra={"fields": {"errorCode": fault.code}})
        raise fault

    def _provider_of(self, service_id: str, route_id: str | None, config: GatewayConfig) -> str | None:
        """The system registered to provide ``service_id`` for ``route_id``: the one whose
        signature an answer must carry."""
        service = config.services.get(service_id)
        if service is None:
            return None
        if service.system:
            return service.system
        region = config.regions.get(route_id or self._derived(config)[0] or "")
        return region.services.get(service_id) if region else None

    def _speaks_soap(self, service_id: str, target: str) -> bool:
        """Whether ``target`` is an outside provider of ``service_id`` registered with ``protocol: soap``."""
        service = self.config.services.get(service_id)
        return (service is not None and service.system == target and service.url is not None
                and getattr(service, "protocol", None) == "soap")

    def waits_for_pull(self, target: str) -> bool:
        """Whether messages to ``target`` wait for it to take them (``getMessages``) rather than
        being pushed: a registered participant the gateway knows no address of (an outside
        client system a tester registered, which has no server)."""
        if target == self.runtime.name or target in self.config.services:
            return False
        try:
            self.runtime.url_of(target)
            return False
        except KeyError:
            return self.config.outside_url(target) is None and target in self.config.participants

    def _url_of(self, target: str) -> str:
        """Where the next hop listens, or ``Server.TargetUnknown`` when the gateway knows no way
        to it (a service's target edited by hand into the participant file, say)."""
        if target == self.runtime.name:
            raise GatewayFault(ErrorCode.TARGET_UNKNOWN, f"{target!r} is this gateway itself")
        try:
            return self.runtime.url_of(target)
        except KeyError:
            outside = self.config.outside_url(target)  # an outside provider a tester registered
            if outside is None:
                raise GatewayFault(ErrorCode.TARGET_UNKNOWN, f"{target!r} is not a known system") from None
            return outside

    # ---- log and metrics ------------------------------------------------------------------

    def log_request(
        self, incoming: Incoming, came_from: str, recipient: str | None, at: datetime,
        channel: Channel, status: str, error_code: str | None = None,
    ) -> None:
        info = incoming.info
        self.log.append(
            kind="request", channel=channel, message_id=info.messageId, correlation_id=info.correlationId,
            service_id=info.serviceId, sender_id=info.sender.senderId, came_from=came_from,
            recipient=recipient, at_us=to_us(at), status=status, status_code=None, error_code=error_code,
            body=masked(incoming),
        )

    def log_answer(
        self, incoming: Incoming, recipient: str | None, at: datetime, channel: Channel,
        status: str, reply: Reply, error_code: str | None = None,
    ) -> None:
        info = incoming.info
        self.log.append(
            kind="response", channel=channel, message_id=info.messageId, correlation_id=info.correlationId,
            service_id=info.serviceId, sender_id=info.sender.senderId, came_from=self.runtime.name,
            recipient=recipient, at_us=to_us(at), status=status, status_code=reply.status_code,
            error_code=error_code or reply.body.get("errorInfo", {}).get("errorCode"),
            body=_answer_text(reply),
        )

    def log_unauthenticated(
        self, body: bytes, came_from: str, at: datetime, channel: Channel, error_code: str,
        incoming: Incoming | None = None,
    ) -> None:
        """A refusal before the sender was authenticated: the body's SHA-256, its length and its
        first :data:`REFUSED_PREFIX` bytes (the sender's password masked), not the body; for a
        SOAP message also the verdict on its signature, when it was checked."""
        info = incoming.info if incoming is not None else None
        kept = refused_digest(body)
        if incoming is not None and incoming.receipt is not None:
            kept["receipt"] = incoming.receipt
        self.log.append(
            kind="request", channel=channel, message_id=info.messageId if info else "-",
            correlation_id=info.correlationId if info else None, service_id=info.serviceId if info else "-",
            sender_id=info.sender.senderId if info else "-", came_from=came_from, recipient=None,
            at_us=to_us(at), status="REFUSED", status_code=None, error_code=error_code,
            body=jsoncodec.dumps_text(kept),
        )

    def count(self, service_id: str, channel: Channel, outcome: str, started: float) -> None:
        self.metrics.messages(service_id, channel, outcome).inc()
        self.metrics.latency(service_id, channel).observe(time.perf_counter() - started)


_PASSWORD = re.compile(r'("password"\s*:\s*")((?:[^"\\]|\\.)*)("?)')
"""A JSON sender's ``"password"`` value; masked as ``***``."""
_XML_PASSWORD_TAG = re.compile(r"<(?:[\w.-]+:)?password(?=[\s/>]|$)", re.IGNORECASE)
"""The start of a ``<password>`` start tag (any prefix), or the prefix's end inside one."""
MASK = "***"


def refused_digest(body: bytes) -> dict[str, Any]:
    """What the log keeps of a body refused before its sender was authenticated: its SHA-256, its
    length and its first :data:`REFUSED_PREFIX` bytes as text, the password cut out. The prefix
    may be no well-formed XML (cut short, or never XML), so it is not parsed: a JSON
    ``"password"`` value becomes ``***``, and from the first ``<password`` start tag on (any
    prefix; its text may be split by CDATA sections, comments, entities) the whole rest of the
    prefix becomes ``***``. A body that is not UTF-8 keeps no prefix (digest and length only): its
    text could not be searched for the password."""
    refused: dict[str, Any] = {"sha256": hashlib.sha256(body).hexdigest(), "bytes": len(body)}
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return {"refused": refused}
    # the body is UTF-8: its prefix can only be broken in its last character, cut there
    refused["prefix"] = _cut_password(body[:REFUSED_PREFIX].decode("utf-8", "ignore"))
    return {"refused": refused}


def _cut_password(text: str) -> str:
    """``text`` with a JSON password value masked and everything from the first ``<password``
    start tag on replaced by ``***``: safe for text that is no well-formed XML."""
    text = _PASSWORD.sub(lambda m: m.group(1) + MASK + m.group(3), text)
    tag = _XML_PASSWORD_TAG.search(text)
    return text if tag is None else text[:tag.start()] + MASK


def mask_soap(envelope: bytes) -> str:
    """A SOAP envelope as logged: the envelope **re-serialised** from its parsed tree with the
    sender's password masked -- every element whose local name is ``password`` under a ``sender``
    loses its content (text, CDATA sections, comments, children) and says ``***``. Not the bytes
    as received: their password text may be split in ways a pattern on the text would miss, and
    the WS-Security signature can no longer be verified from the log anyway. Read with the
    hardened parser (:func:`gateway_protocol.soap.xmldata.parse_xml`); an envelope that does not
    parse (never one the gateway read) is cut at its first ``<password`` start tag."""
    try:
        root = parse_xml(envelope, "the logged envelope")
    except XmlRefused:
        return _cut_password(envelope.decode("utf-8", "replace"))
    for element in root.iter():
        if not isinstance(element.tag, str) or etree.QName(element).localname != "password":
            continue
        if any(isinstance(up.tag, str) and etree.QName(up).localname == "sender" for up in element.iterancestors()):
            for child in list(element):
                element.remove(child)  # a child's tail is its parent's text: gone with the child
            element.text = MASK
    return etree.tostring(root, encoding="unicode")


def receipt(checked: Any) -> dict[str, Any]:
    """The gateway's verdict on a WS-Security signature when the message came: signer (CN),
    certificate serial number (hex), verdict code."""
    signer = (checked.verdict.signer or {}).get("common_name")
    certificate = checked.certificate
    if signer is None and certificate is not None:
        names = certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
        signer = names[0].value if names else None
    return {
        "signer": signer,
        "serial": format(certificate.serial_number, "x") if certificate is not None else None,
        "verdict": checked.verdict.code,
        "message": checked.verdict.message,
    }


def replied(status: int, answer: dict[str, Any]) -> Reply:
    """The :class:`Reply` of an answer the replay guard kept (:func:`remembered`)."""
    if format_of(answer) == SOAP_FORMAT:
        errors = {} if status == 200 else {"errorInfo": {"errorCode": answer.get("errorCode")}}
        return Reply(status, errors, raw=answer["envelope"].encode("utf-8"), format="soap", receipt=answer.get("receipt"))
    return Reply(status, {k: v for k, v in answer.items() if k != PROVIDER_ANSWER})


def _operation_of(body: bytes) -> str:
    """The operation whose fault element answers ``body``: its own when it is one of the interface's."""
    operation = soap_operation(body)
    return operation if operation in (SYNC_OPERATION, *soap.ASYNC_OPERATIONS) else SYNC_OPERATION


def _outcome(status: int, answer: dict[str, Any]) -> str:
    if status == 200:
        return "DELIVERED"
    if format_of(answer) == SOAP_FORMAT:
        return str(answer.get("errorCode") or "NOT_DELIVERED")
    return str(answer.get("errorInfo", {}).get("errorCode", "NOT_DELIVERED"))


def masked(incoming: Incoming) -> str:
    """The request as logged: everything, signature included, but the sender's password.

    A JSON request as its document (the signed content, reused when already made, and the JWS);
    a SOAP request as :func:`soap_document` of its masked text with the verdict at receipt."""
    if incoming.format == SOAP_FORMAT:
        return jsoncodec.dumps_text(soap_document(mask_soap(incoming.body), incoming.receipt))
    signed, content = incoming.signed, incoming.content
    assert signed is not None
    if content is None:
        data = signed.model_dump(mode="json", exclude_none=True)
        data["request"]["requestInfo"]["sender"]["password"] = "***"
    else:
        info = dict(content["requestInfo"])
        info["sender"] = {**info["sender"], "password": "***"}
        data = {"request": {**content, "requestInfo": info}, "signature": signed.signature}
    return jsoncodec.dumps_text(data)


def _answer_text(reply: Reply) -> str:
    """An answer as logged: as it came from the next hop when it came from one (a SOAP answer as
    :func:`soap_document`, with the verdict on its signature)."""
    if (reply.format == SOAP_FORMAT and reply.raw is not None) or reply.received is not None:
        return jsoncodec.dumps_text(remembered(reply))  # a SOAP provider's answer as it came kept too
    if reply.raw is not None:
        try:
            return reply.raw.decode("utf-8")
        except UnicodeDecodeError:
            pass
    return jsoncodec.dumps_text(reply.body)
