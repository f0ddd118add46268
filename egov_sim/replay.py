"""Record and replay: mocks of a neighbour built from a run's message log.

The gateway logs every request and every answer it passes (:mod:`gateway.messagelog`): the list
by correlationId or service (``GET /v1/messages``), the exact bodies by correlationId
(``GET /v1/messages/evidence``). A :class:`Recording` keeps, per exchange, the service, the
request's data and the answer (the provider's data, or its fault), saves them as JSON, and mocks
the neighbour: a mock gateway (:class:`egov_sim.mocks.MockGateway`) answering each request whose
service and data match a recorded one with the recorded answer, signed again by the mock PKI.

A request that matches none is refused (``Provider.RequestInvalid``, data ``replay: "miss"``)
naming the closest recorded request of its service and where the two differ; the misses are kept
in :attr:`Recording.misses` too.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from egov_sim.clients.gateway import EvidenceRecord, GatewayClient

FORMAT = "egov-sim recording v1"


@dataclass
class Exchange:
    """One request through the gateway and the answer it got."""

    service_id: str
    request: Any
    """The request's data (``requestData.data``)."""
    status: int
    """The HTTP status of the answer."""
    answer: Any = None
    """The provider's answer data, when it answered."""
    fault: dict[str, Any] | None = None
    """The ``errorInfo`` of a refusal, when it refused."""
    provider: str | None = None
    """The system whose signature the answer carried (when it was signed)."""
    channel: str = "sync"
    correlation_id: str | None = None
    sender: str | None = None


@dataclass
class Miss:
    service_id: str
    request: Any
    closest: Any
    differences: list[str]

    def __str__(self) -> str:
        if self.closest is None:
            return f"replay: nothing of {self.service_id} was recorded"
        return (f"replay: no recorded {self.service_id} request matches {_short(self.request)}; the closest "
                f"recorded one is {_short(self.closest)} (differs at: {', '.join(self.differences)})")


@dataclass
class Recording:
    exchanges: list[Exchange] = field(default_factory=list)
    skipped: int = 0
    """Logged requests not recorded: no answer logged, or (``service=``) no correlationId to fetch
    their bodies by."""
    misses: list[Miss] = field(default_factory=list)

    # ---- recording ---------------------------------------------------------------------------

    @classmethod
    async def from_gateway(cls, gateway: GatewayClient, *, correlation_id: str | None = None,
                           service: str | None = None, limit: int = 1000) -> Recording:
        """The exchanges of one correlationId, or of one service (up to ``limit`` requests), as
        the gateway logged them. The client needs the auditor's or the administrator's token."""
        if (correlation_id is None) == (service is None):
            raise ValueError("record by correlation_id or by service (one of them)")
        recording = cls()
        if correlation_id is not None:
            recording._add((await gateway.evidence(correlation_id)).records)
            return recording
        logged = await gateway.messages(service_id=service, kind="request", limit=limit)
        correlations = list(dict.fromkeys(e.correlationId for e in logged if e.correlationId))
        recording.skipped += sum(1 for e in logged if not e.correlationId)
        for correlation in correlations:
            records = [r for r in (await gateway.evidence(correlation)).records if r.service_id == service]
            recording._add(records)
        return recording

    def _add(self, records: list[EvidenceRecord]) -> None:
        answers = {(r.sender_id, r.message_id): r for r in records if r.kind == "response"}
        for record in records:
            if record.kind != "request":
                continue
            answer = answers.get((record.sender_id, record.message_id))
            message = record.message if isinstance(record.message, dict) else {}
            if answer is None or "request" not in message:  # a refusal before the sender was known
                self.skipped += 1
                continue
            self.exchanges.append(_exchange(record, message, answer))

    # ---- saving ------------------------------------------------------------------------------

    def save(self, path: str | Path) -> Path:
        """Write the recording to ``path``, readable by its owner only (0600): it holds the
        requests' and answers' personal data, which the gateway shows only to its auditor."""
        path = Path(path)
        text = json.dumps({"format": FORMAT, "exchanges": [asdict(e) for e in self.exchanges]},
                          ensure_ascii=False, indent=1)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as file:
            os.fchmod(file.fileno(), 0o600)  # a file that was there keeps no wider mode
            file.write(text)
        return path

    @classmethod
    def load(cls, path: str | Path) -> Recording:
        document = json.loads(Path(path).read_text(encoding="utf-8"))
        if not isinstance(document, dict) or document.get("format") != FORMAT:
            raise ValueError(f"{path}: not an egov-sim recording (format {FORMAT!r})")
        return cls([Exchange(**e) for e in document["exchanges"]])

    # ---- replaying ---------------------------------------------------------------------------

    def services(self) -> list[str]:
        return list(dict.fromkeys(e.service_id for e in self.exchanges))

    def find(self, service_id: str, request: Any, ignore: tuple[str, ...] = ()) -> Exchange | Miss:
        """The recorded exchange whose service and request data match, else the miss."""
        candidates = [e for e in self.exchanges if e.service_id == service_id]
        wanted = _flatten(request, ignore)
        best: tuple[int, Exchange, list[str]] | None = None
        for exchange in candidates:
            differences = _differences(wanted, _flatten(exchange.request, ignore))
            if not differences:
                return exchange
            if best is None or len(differences) < best[0]:
                best = (len(differences), exchange, differences)
        return Miss(service_id, request, best[1].request if best else None, best[2] if best else [])

    def mock(self, target: Any, *, url: str = "http://gateway.mock", ignore: tuple[str, ...] = ()) -> Any:
        """Answer the recorded services on ``target``: a :class:`egov_sim.mocks.MockGateway`, or a
        respx router (a mock gateway at ``url`` is made on it). ``ignore``: request fields (dotted
        paths, e.g. ``"applicationId"``) that may differ. The mock gateway."""
        from egov_sim.mocks import MockGateway

        gateway = target if isinstance(target, MockGateway) else MockGateway(target, url=url)
        for service_id in self.services():
            providers = [e.provider for e in self.exchanges if e.service_id == service_id and e.provider]
            gateway.answer(service_id, self._answerer(service_id, ignore), provider=providers[0] if providers else "provider")
        return gateway

    def _answerer(self, service_id: str, ignore: tuple[str, ...]):
        from gateway_protocol.errors import ErrorCode, GatewayFault

        def answer(incoming) -> Any:
            found = self.find(service_id, incoming.data, ignore)
            if isinstance(found, Miss):
                self.misses.append(found)
                raise GatewayFault(ErrorCode.PROVIDER_REQUEST_INVALID, str(found),
                                   data={"replay": "miss", "closest": found.closest, "differences": found.differences})
            if found.fault is not None:
                info = dict(found.fault)
                data = {k: v for k, v in (info.get("errorData") or {}).items() if not k.startswith("message_")}
                data.pop("side", None)
                raise GatewayFault(info.get("errorCode", ErrorCode.GATEWAY_INTERNAL), str(data.pop("detail", "")), data=data)
            return found.answer

        return answer


def _exchange(record: EvidenceRecord, message: dict[str, Any], answer: EvidenceRecord) -> Exchange:
    request = message["request"]
    data = (request.get("requestData") or {}).get("data")
    body = answer.message if isinstance(answer.message, dict) else {}
    exchange = Exchange(service_id=record.service_id, request=data, status=answer.status_code or 0,
                        channel=record.channel, correlation_id=record.correlation_id, sender=record.sender_id)
    if "errorInfo" in body:
        exchange.fault = body["errorInfo"]
    elif "response" in body:
        exchange.answer = (body["response"].get("responseData") or {}).get("data")
        exchange.provider = _signer(body.get("signature"))
    return exchange


def _signer(token: Any) -> str | None:
    if not isinstance(token, str):
        return None
    from cryptography.x509.oid import NameOID

    from signatures.jws import signer_certificate

    cert = signer_certificate(token)
    if cert is None:
        return None
    names = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(names[0].value) if names else None


def _flatten(value: Any, ignore: tuple[str, ...], prefix: str = "") -> dict[str, Any]:
    """Leaf values by dotted path (lists by index), without the ignored paths."""
    if prefix and prefix in ignore:
        return {}
    if isinstance(value, dict):
        items = value.items()
    elif isinstance(value, list):
        items = ((str(i), v) for i, v in enumerate(value))
    else:
        return {prefix or "(data)": value}
    flat: dict[str, Any] = {}
    for key, item in items:
        flat.update(_flatten(item, ignore, f"{prefix}.{key}" if prefix else str(key)))
    if not flat and prefix:
        flat[prefix] = value
    return flat


def _differences(a: dict[str, Any], b: dict[str, Any]) -> list[str]:
    return sorted(k for k in set(a) | set(b) if a.get(k, _ABSENT) != b.get(k, _ABSENT))


_ABSENT = object()


def _short(value: Any, limit: int = 200) -> str:
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= limit else text[: limit - 1] + "…"


async def record_command(gateway_url: str, token: str, output: str | Path, *, correlation_id: str | None = None,
                         service: str | None = None, limit: int = 1000) -> Recording:
    """What ``egov-sim gateway record`` would do: record from a running gateway into ``output``."""
    import httpx

    async with httpx.AsyncClient(base_url=gateway_url, timeout=60) as http:
        recording = await Recording.from_gateway(GatewayClient(http, token=token), correlation_id=correlation_id,
                                                 service=service, limit=limit)
    recording.save(output)
    return recording
