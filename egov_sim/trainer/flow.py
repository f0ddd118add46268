"""The flow of one application: its reglament's steps as the trace recorded them, joined with the
gateway messages that passed between the systems, in one JSON-ready document.

The trainer's web view and every export (``egov-sim trace show --format text|mermaid|html|otlp``)
read this one document, so they show the same thing. It is built from what the run recorded, never
from the definition alone: the control system's trace of the application (the steps, each with its
seed label, system, virtual time, outcome and detail) and the message log of every gateway (each
hop of each message, with its signed content). The definition adds only what the seed says of a
step: its Kazakh text, its names in Russian and English, the actor and duration of a staff
procedure, whose working hours time it.

Signatures are checked here, as a relying party would, at the virtual time each message travelled:
the hop signature of each message (the sending system's JWS) and the document signature a message
carries (a citizen's, an operator's or an official's CMS over the document), against the run's
root; the signer certificate's revocation status is the one the certification authority (НУЦ) gives.
A message that travelled over the SOAP interface is logged with its sender's password masked, so its
WS-Security signature cannot be checked again from the log: it is shown with the verdict the gateway
recorded when it came (``"atReceipt": true``), and its data read from the envelope.

The document (:data:`FORMAT`)::

    {"format", "applicationId", "reglament", "channel", "title", "channelTitle",
     "participants": [{"id", "title": {kk, ru, en}}],           # in the diagram's order
     "steps": [{"index", "key", "kind", "number", "label", "system", "at", "outcome", "detail",
                "name": {kk, ru, en} | None, "textKk", "actor": {kk, ru, en} | None,
                "duration": {kk, ru, en} | None, "hours": {kk, ru, en} | None,
                "messages": [message index, ...]}],
     "messages": [{"index", "messageId", "correlationId", "serviceId", "channel", "sender",
                   "recipient", "at", "status", "errorCode", "step": step index | None,
                   "hops": [{"from", "to", "kind": "request" | "response", "at", "gateway", "seq"}],
                   "request": data, "response": data,
                   "signatures": [{"of": "request" | "response" | "document", "signer", "issuer",
                                   "serial", "validFrom", "validTo", "chain", "verdict",
                                   "message", "messages": {kk, ru, en}, "revocation"}]}],
     "clock": {"start", "end"}, "outcome": "approved" | "refused" | "rejected" | "in-progress"}
"""

from __future__ import annotations

import asyncio
import base64
import binascii
from datetime import datetime
from typing import Any, Protocol

import httpx
from cryptography import x509

from egov_sim.clients._base import ClientError
from egov_sim.clients.control import ControlClient
from egov_sim.clients.gateway import GatewayClient
from egov_sim.clients.signatures import CAClient
from gateway_protocol.envelope import SyncRequest, SyncResponse, signed_content
from reglaments import ReglamentError, get_reglament
from signatures.cms import verify_cms
from signatures.jws import canonical_json, signer_certificate, verify_detached
from simulation.calendar import to_local
from simulation.clock import from_us
from simulation.definition import Reglament
from simulation.topology import SYSTEMS

FORMAT = "egov-sim flow v1"

GATEWAYS = tuple(name for name in SYSTEMS if name == "gateway" or name.startswith("gateway-"))
"""Every gateway of the topology: the central one and the regional ones."""

ORDER = ("portal", "corporation_ws", "gateway", *(g for g in GATEWAYS if g != "gateway"),
         "provider_ws", "e_sobes", "e_akimdik", "registries", "signatures")
"""The diagram's columns, left to right: where the citizen applies, the gateways, the provider and
the systems it consults; the certification authority last."""


class World(Protocol):
    """Where the flow is read from: the in-process simulation, running systems, or the control
    system's own view of its run (anything with this method)."""

    def client(self, system: str, *, role: str | None = "admin", **kwargs: Any) -> httpx.AsyncClient: ...


class FlowError(LookupError):
    """The application is not known to the run (no trace)."""


class DefinitionMissing(FlowError):
    """The application's reglament is not loaded here (a definition of ``EGOV_SIM_REGLAMENTS`` the
    run had and this process has not): ``texts`` says so in kk, ru and en."""

    def __init__(self, reglament: str) -> None:
        self.reglament = reglament
        self.texts = {
            "kk": f"{reglament} регламенті мұнда жүктелмеген: EGOV_SIM_REGLAMENTS әлемдегідей болсын",
            "ru": f"Регламент {reglament} здесь не загружен: задайте EGOV_SIM_REGLAMENTS как в этом мире",
            "en": f"reglament {reglament!r} is not loaded here: set EGOV_SIM_REGLAMENTS as the world had it",
        }
        super().__init__(self.texts["en"])


def title(system: str) -> dict[str, str]:
    known = SYSTEMS.get(system)
    if known is None:
        return {"kk": system, "ru": system, "en": system}
    return {"kk": known.title_kk, "ru": known.title_ru, "en": known.title_en}


# ---- reading the run ------------------------------------------------------------------------


async def collect(world: World, application_id: str) -> dict[str, Any]:
    """The flow of ``application_id`` in ``world``, read with the auditor's rights.

    Raises :class:`FlowError` when the run has no trace of it, and :class:`ClientError` when a
    system refuses or does not answer."""
    async with world.client("control", role="auditor") as control:
        try:
            trace = [event.model_dump(mode="json") for event in await ControlClient(control).trace(application_id)]
        except ClientError as exc:
            if exc.status == 404:
                raise FlowError(f"no trace of application {application_id!r} in this run") from None
            raise
    records: dict[str, list[dict[str, Any]]] = {}

    async def evidence(gateway: str) -> None:
        async with world.client(gateway, role="auditor") as client:
            found = await GatewayClient(client).evidence(application_id)
        records[gateway] = [r.model_dump() for r in found.records]

    await asyncio.gather(*(evidence(g) for g in GATEWAYS))
    async with world.client("signatures", role=None) as http:
        ca = CAClient(http)
        roots = await ca.root()
        statuses = {serial: (await ca.status(serial)).model_dump(mode="json")
                    for serial in sorted(set(_signer_serials(records, roots)))}
    return build(application_id, trace, records, roots=roots, statuses=statuses)


def _signer_serials(records: dict[str, list[dict[str, Any]]], roots: list[x509.Certificate]) -> list[str]:
    serials = []
    for rows in records.values():
        for row in rows:
            receipt = _receipt(row.get("message"))
            if receipt is not None and receipt.get("serial"):
                serials.append(receipt["serial"])
            for of, signature in _signatures_in(row.get("message")):
                cert, _verdict = _check(row["message"], of, signature, roots, from_us(row["at_us"]))
                if cert is not None:
                    serials.append(_serial(cert))
    return serials


# ---- building the document ------------------------------------------------------------------


def build(
    application_id: str,
    trace: list[dict[str, Any]],
    records: dict[str, list[dict[str, Any]]],
    *,
    roots: list[x509.Certificate],
    statuses: dict[str, dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """The flow document from a trace (the control system's ``/trace`` answer) and each gateway's
    evidence records (``/v1/messages/evidence``)."""
    if not trace:
        raise FlowError(f"no trace of application {application_id!r} in this run")
    try:
        reglament = get_reglament(trace[0]["reglament"])
    except ReglamentError:
        raise DefinitionMissing(trace[0]["reglament"]) from None
    channel = trace[0]["channel"]
    steps = [_step(index, event, reglament) for index, event in enumerate(trace)]
    messages = _messages(records, roots, statuses or {})
    root_name = _name(roots[0].subject) if roots else None
    for message in messages:
        for signature in message["signatures"]:
            if root_name and signature["chain"] and signature["chain"][-1] != root_name:
                signature["chain"].append(root_name)
    _place(messages, steps)
    involved = {s["system"] for s in steps}
    for message in messages:
        for hop in message["hops"]:
            involved.update((hop["from"], hop["to"]))
        if any(s["of"] == "document" for s in message["signatures"]):
            involved.add("signatures")  # the receiving system asks НУЦ of the document's signer
    participants = [{"id": name, "title": title(name)} for name in ORDER if name in involved]
    participants += [{"id": name, "title": title(name)} for name in sorted(involved - set(ORDER))]
    definition = reglament.channel(channel)
    return {
        "format": FORMAT,
        "applicationId": application_id,
        "reglament": reglament.id,
        "channel": channel,
        "title": reglament.title.model_dump(),
        "channelTitle": definition.title.model_dump() if definition.title else None,
        "participants": participants,
        "steps": steps,
        "messages": messages,
        "clock": {"start": steps[0]["at"], "end": steps[-1]["at"]},
        "outcome": _outcome(steps, messages, definition),
    }


def _text(value: Any) -> dict[str, str] | None:
    return value.model_dump() if value is not None else None


def _step(index: int, event: dict[str, Any], reglament: Reglament) -> dict[str, Any]:
    key = event.get("step") or f"{event['kind']}-{event['number']}"
    entry: dict[str, Any] = {
        "index": index, "key": key, "kind": event["kind"], "number": event["number"], "label": event["label"],
        "system": event["system"], "at": _local(event["sim_time"]), "outcome": event["outcome"], "detail": event["detail"],
        "name": None, "textKk": None, "actor": None, "duration": None, "hours": None, "messages": [],
    }
    try:
        step = reglament.channel(event["channel"]).step(key)
    except KeyError:
        return entry  # a step of a definition no longer loaded: what the trace says
    entry["name"] = _text(step.name)
    entry["textKk"] = step.text_kk
    if step.actor:
        actor = reglament.actors.get(step.actor)
        entry["actor"] = {"kk": actor.kk, "ru": actor.ru, "en": actor.en} if actor else None
    if step.duration is not None:
        entry["duration"] = {"kk": step.duration.kazakh(), "ru": step.duration.russian(),
                             "en": step.duration.english()}
        entry["hours"] = reglament.schedule_of(step.hours or step.system or event["system"]).describe()
    return entry


def _outcome(steps: list[dict[str, Any]], messages: list[dict[str, Any]], definition) -> str:
    """How the walk ended: by its last step's outcome in the definition; a decided result is
    approved or refused by the decision the result's message carried."""
    last = definition.step(steps[-1]["key"]) if steps[-1]["key"] in {s.key for s in definition.steps} else None
    if last is None or last.outcome is None:
        return "in-progress"
    if last.outcome != "decided":
        return last.outcome
    for message in reversed(messages):
        data = message["request"] if isinstance(message["request"], dict) else {}
        decision = data.get("decision") or (data.get("document") or {}).get("decision")
        if decision:
            return "approved" if decision == "approved" else "refused"
    return "decided"


def _messages(records: dict[str, list[dict[str, Any]]], roots: list[x509.Certificate],
              statuses: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """One entry per message, its hops ordered from the sender to the recipient and back."""
    by_id: dict[str, dict[str, list[dict[str, Any]]]] = {}
    for gateway, rows in records.items():
        for row in rows:
            by_id.setdefault(row["message_id"], {}).setdefault(gateway, []).append(row)
    messages = []
    for message_id, at_gateways in by_id.items():
        requests = {g: next((r for r in rows if r["kind"] == "request"), None) for g, rows in at_gateways.items()}
        responses = {g: next((r for r in rows if r["kind"] == "response"), None) for g, rows in at_gateways.items()}
        first = min((r for r in requests.values() if r), key=lambda r: r["at_us"], default=None)
        if first is None:
            continue
        path = _path(first["sender_id"], requests)
        hops = []
        for came_from, gateway in zip(path, path[1:]):
            if gateway in requests and requests[gateway] and requests[gateway]["came_from"] == came_from:
                row = requests[gateway]
                hops.append(_hop(came_from, gateway, "request", row, gateway))
        last = path[-1]
        inner = path[-2] if len(path) > 1 else None
        if inner in requests and last not in GATEWAYS:
            hops.append(_hop(inner, last, "request", requests[inner], inner))
        answered = [g for g in reversed(path) if g in responses and responses[g]]
        for gateway in answered:
            row = responses[gateway]
            position = path.index(gateway)
            if position + 1 < len(path) and path[position + 1] not in GATEWAYS:
                hops.append(_hop(path[position + 1], gateway, "response", row, gateway))
            hops.append(_hop(gateway, path[position - 1] if position else row["came_from"], "response", row, gateway))
        outer = responses.get(path[1]) if len(path) > 1 else None
        request_body = _body_of(first.get("message"), "request")
        response_row = outer or next((r for r in responses.values() if r), None)
        response_body = _body_of((response_row or {}).get("message"), "response")
        messages.append({
            "index": 0,
            "messageId": message_id,
            "correlationId": first.get("correlation_id"),
            "serviceId": first["service_id"],
            "channel": first["channel"],
            "sender": first["sender_id"],
            "recipient": last,
            "at": _when(first["at_us"]),
            "status": (response_row or first)["status"],
            "errorCode": (response_row or first).get("error_code"),
            "step": None,
            "hops": _dedupe(hops),
            "request": (request_body.get("requestData") or {}).get("data"),
            "response": (response_body.get("responseData") or {}).get("data"),
            "signatures": _verdicts(first, response_row, roots, statuses),
        })
    messages.sort(key=lambda m: (m["at"], min(h["seq"] for h in m["hops"]) if m["hops"] else 0))
    for index, message in enumerate(messages):
        message["index"] = index
    return messages


def _path(sender: str, requests: dict[str, dict[str, Any] | None]) -> list[str]:
    path, current, seen = [sender], sender, set()
    while True:
        step = next((g for g, r in requests.items() if r and r["came_from"] == current and g not in seen), None)
        if step is None:
            break
        seen.add(step)
        path.append(step)
        recipient = requests[step]["recipient"]
        if recipient in requests and requests.get(recipient) and requests[recipient]["came_from"] == step:
            current = step
            continue
        if recipient and recipient != path[-1]:
            path.append(recipient)
        break
    return path


def _hop(source: str, target: str, kind: str, row: dict[str, Any], gateway: str) -> dict[str, Any]:
    return {"from": source, "to": target, "kind": kind, "at": _when(row["at_us"]), "gateway": gateway,
            "seq": row["seq"], "status": row["status"]}


def _dedupe(hops: list[dict[str, Any]]) -> list[dict[str, Any]]:
    seen, kept = set(), []
    for hop in hops:
        key = (hop["from"], hop["to"], hop["kind"])
        if key not in seen and hop["from"] != hop["to"]:
            seen.add(key)
            kept.append(hop)
    return kept


def _local(moment: str | datetime) -> str:
    moment = datetime.fromisoformat(moment) if isinstance(moment, str) else moment
    return to_local(moment).isoformat()


def _when(at_us: int) -> str:
    return to_local(from_us(at_us)).isoformat()


def _place(messages: list[dict[str, Any]], steps: list[dict[str, Any]]) -> None:
    """Give each message to the step it belongs to: the sender's step that names the message's
    service in its detail, else the sender's last step at or before the message's time, else the
    first step after it (a message sent inside a procedure before the procedure's step is written)."""
    for message in messages:
        sent = datetime.fromisoformat(message["at"])
        own = [s for s in steps if s["system"] == message["sender"]]
        named = [s for s in own if message["serviceId"] in s["detail"] and datetime.fromisoformat(s["at"]) >= sent]
        before = [s for s in own if datetime.fromisoformat(s["at"]) <= sent]
        after = [s for s in steps if datetime.fromisoformat(s["at"]) >= sent]
        chosen = named[0] if named else before[-1] if before else after[0] if after else None
        if chosen is not None:
            message["step"] = chosen["index"]
            chosen["messages"].append(message["index"])


# ---- signatures -----------------------------------------------------------------------------


def _receipt(message: Any) -> dict[str, Any] | None:
    """The gateway's verdict recorded when a SOAP message came, None for a JSON message."""
    if isinstance(message, dict) and message.get("format") == "soap" and isinstance(message.get("receipt"), dict):
        return message["receipt"]
    return None


def _body_of(message: Any, kind: str) -> dict[str, Any]:
    """A logged message's ``request`` / ``response`` part (requestInfo, requestData...): a JSON
    message's own; a SOAP message's read from its logged envelope (empty when it cannot be)."""
    if not isinstance(message, dict):
        return {}
    if message.get("format") != "soap":
        return message.get(kind) or {}
    from gateway.messages import soap_operation
    from gateway_protocol.errors import GatewayFault
    from gateway_protocol.soap import SYNC_OPERATION, parse_async, parse_sync_request, parse_sync_response

    envelope = str(message.get("envelope") or "").encode("utf-8")
    try:
        if kind == "response":
            return {"responseData": {"data": parse_sync_response(envelope).data.value}}
        if soap_operation(envelope) == SYNC_OPERATION:  # the Body's element, not a text anywhere in it
            return {"requestData": {"data": parse_sync_request(envelope).data.value}}
        parsed = parse_async(envelope, new_message_id=lambda: "-")
        return {"requestData": {"data": parsed.data.value if parsed.data else None}}
    except (GatewayFault, ValueError):  # a fault, an async acknowledgement, or no SOAP at all
        return {}


def _signatures_in(message: Any) -> list[tuple[str, Any]]:
    """(what, signature) of a logged message: its hop JWS, and a document's CMS it carries."""
    if not isinstance(message, dict):
        return []
    found: list[tuple[str, Any]] = []
    kind = "request" if "request" in message else "response"
    if isinstance(message.get("signature"), str):
        found.append((kind, message["signature"]))
    body = message.get(kind) or {}
    data = ((body.get("requestData") or body.get("responseData")) or {}).get("data") if isinstance(body, dict) else None
    if isinstance(data, dict) and isinstance(data.get("signature"), str) and isinstance(data.get("document"), dict):
        found.append(("document", data["signature"]))
    return found


def _cms(signature: str, content: bytes | None, roots: list[x509.Certificate], at: datetime):
    try:
        raw = base64.b64decode(signature, validate=True)
    except (binascii.Error, ValueError):
        return None
    return verify_cms(raw, content, trusted_roots=roots, at=at, usage=None)


def _serial(cert: x509.Certificate) -> str:
    return format(cert.serial_number, "x")


def _name(name: x509.Name) -> str:
    common = name.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
    return common[0].value if common else name.rfc4514_string()


def _verdicts(request_row: dict[str, Any], response_row: dict[str, Any] | None, roots: list[x509.Certificate],
              statuses: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    checked = []
    for row in (request_row, response_row):
        if row is None:
            continue
        message = row.get("message")
        at = from_us(row["at_us"])
        receipt = _receipt(message)
        if receipt is not None:
            checked.append(_recorded(row["kind"], receipt, statuses, at))
        for of, signature in _signatures_in(message):
            cert, verdict = _check(message, of, signature, roots, at)
            checked.append(_signature(of, cert, verdict, statuses, at))
    return checked


def _recorded(of: str, receipt: dict[str, Any], statuses: dict[str, dict[str, Any]], at: datetime) -> dict[str, Any]:
    """A SOAP message's WS-Security signature, as the gateway judged it when the message came."""
    why = receipt.get("message") or ""
    entry = _signature(of, None, None, statuses, at)
    entry.update({
        "signer": receipt.get("signer"), "serial": receipt.get("serial"), "verdict": receipt.get("verdict") or "MALFORMED",
        "message": why, "atReceipt": True,
        "messages": {
            "kk": "Шлюз хабарлама келген кезде тексерген (журналдағы құпия сөз жасырылған)",
            "ru": "Проверено шлюзом при получении (пароль в журнале скрыт)",
            "en": "Checked by the gateway when the message came (the logged password is masked)" + (f": {why}" if why else ""),
        },
    })
    if receipt.get("serial"):
        entry["chain"] = [receipt.get("signer")] if receipt.get("signer") else []
        status = statuses.get(receipt["serial"])
        if status is not None:
            revoked_at = status.get("revokedAt") or status.get("revoked_at")
            entry["revocation"] = {
                "status": status.get("status"), "revokedAt": revoked_at, "reason": status.get("reason"),
                "atTheTime": "revoked" if revoked_at and datetime.fromisoformat(revoked_at) <= at else "good"
                if status.get("status") in ("good", "revoked") else status.get("status"),
            }
    return entry


def _check(message: dict[str, Any], of: str, signature: str, roots: list[x509.Certificate], at: datetime):
    """(signer certificate, verdict) of one signature a logged message holds, checked at ``at``."""
    if of == "document":
        body = message.get("request") or message.get("response")
        data = (body.get("requestData") or body.get("responseData"))["data"]
        result = _cms(signature, canonical_json(data["document"]), roots, at)
        return (result.certificate, result.verdict) if result is not None else (None, None)
    verdict = verify_detached(signature, _content(message, of), trusted_roots=roots, at=at, usage=None)
    return signer_certificate(signature), verdict


def _content(message: dict[str, Any], of: str) -> Any:
    try:
        model = SyncRequest.model_validate(message["request"]) if of == "request" \
            else SyncResponse.model_validate(message["response"])
    except Exception:  # not an envelope the gateway's models read: the verdict will say so
        return message.get(of)
    return signed_content(model)


def _signature(of: str, cert: x509.Certificate | None, verdict, statuses: dict[str, dict[str, Any]],
               at: datetime) -> dict[str, Any]:
    entry: dict[str, Any] = {"of": of, "signer": None, "issuer": None, "serial": None, "validFrom": None,
                             "validTo": None, "chain": [], "verdict": str(verdict.code) if verdict else "MALFORMED",
                             "message": verdict.message if verdict else "not a signature",
                             "messages": {"kk": verdict.message_kk, "ru": verdict.message_ru, "en": verdict.message}
                             if verdict else {"kk": "қолтаңба емес", "ru": "не подпись", "en": "not a signature"},
                             "revocation": None}
    if cert is None:
        return entry
    serial = _serial(cert)
    entry.update({
        "signer": _name(cert.subject), "subject": cert.subject.rfc4514_string(), "issuer": _name(cert.issuer),
        "serial": serial, "validFrom": to_local(cert.not_valid_before_utc).isoformat(),
        "validTo": to_local(cert.not_valid_after_utc).isoformat(),
        "chain": [_name(cert.subject), _name(cert.issuer)],
    })
    if verdict is not None and verdict.signer:
        entry["signerInfo"] = {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in verdict.signer.items()}
    status = statuses.get(serial)
    if status is not None:
        revoked_at = status.get("revokedAt") or status.get("revoked_at")
        entry["revocation"] = {
            "status": status.get("status"),
            "revokedAt": revoked_at,
            "reason": status.get("reason"),
            "atTheTime": "revoked" if revoked_at and datetime.fromisoformat(revoked_at) <= at else "good"
            if status.get("status") in ("good", "revoked") else status.get("status"),
        }
    return entry
