"""``egov-sim trace show --format otlp``: the flow of one application as OpenTelemetry spans, in
the OTLP/JSON encoding of an ``ExportTraceServiceRequest`` (``resourceSpans`` → ``scopeSpans`` →
``spans``), for a trace viewer (Jaeger, Tempo, an OpenTelemetry Collector's ``otlpjsonfile``
receiver).

- one trace per application; its root span covers the application from its first step to its last;
- a span per step (``egov_sim.step.label`` "5-процесс", ``egov_sim.step.key``, ``egov_sim.system``,
  ``egov_sim.step.outcome`` …), from the end of the step before it to its own end, so a staff
  procedure's span is as long as it took in virtual time;
- a span per gateway message, a child of the step it was sent in (the root's when it belongs to
  none): kind CLIENT for a synchronous request, PRODUCER for an asynchronous one, with the
  OpenTelemetry messaging attributes (``messaging.system`` "shep", ``messaging.message.id``,
  ``messaging.message.conversation_id`` = the correlationId, ``messaging.destination.name`` = the
  serviceId), each signature's verdict, and an event per hop through the gateways.

Times are the VIRTUAL times the run recorded, as Unix nanoseconds. Ids are derived (SHA-256) from
the application id, the step's index and key, and the message id, so two exports of the same
application are identical. As OTLP/JSON prescribes, ``traceId`` and ``spanId`` are hex strings
(not base64) and enums are integers.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timezone
from typing import Any

SCOPE = "egov_sim.trainer.otlp"
SCOPE_VERSION = "1"

SPAN_KIND_INTERNAL, SPAN_KIND_SERVER, SPAN_KIND_CLIENT, SPAN_KIND_PRODUCER = 1, 2, 3, 4
STATUS_UNSET, STATUS_OK, STATUS_ERROR = 0, 1, 2

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_UNDER_WAY_OR_DONE = {"RECEIVED", "ON_DELIVERY", "DELIVERED"}
"""A message's logged states that are no failure (the gateway also logs NOT_DELIVERED, DELIVERY_STOPPED,
REFUSED, or a refusal's error code)."""


def _id(size: int, *parts: Any) -> str:
    """``size`` bytes as hex, from a hash of ``parts`` (never all zero: OTLP's invalid id)."""
    digest = hashlib.sha256("\x1f".join(str(p) for p in parts).encode()).hexdigest()[: size * 2]
    return digest if digest.strip("0") else "1".rjust(size * 2, "0")


def trace_id(application_id: str) -> str:
    return _id(16, "egov-sim trace", application_id)


def _nanos(iso: str) -> int:
    delta = datetime.fromisoformat(iso) - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1_000


def _value(value: Any) -> dict[str, Any]:
    if isinstance(value, bool):
        return {"boolValue": value}
    if isinstance(value, int):
        return {"intValue": str(value)}
    if isinstance(value, (list, tuple)):
        return {"arrayValue": {"values": [_value(v) for v in value]}}
    return {"stringValue": str(value)}


def _attributes(pairs: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"key": key, "value": _value(value)} for key, value in pairs.items() if value is not None and value != ""]


def _span(trace: str, span_id: str, parent: str | None, name: str, kind: int, start: int, end: int,
          attributes: dict[str, Any], events: list[dict[str, Any]] | None = None,
          status: tuple[int, str] = (STATUS_UNSET, "")) -> dict[str, Any]:
    span: dict[str, Any] = {
        "traceId": trace, "spanId": span_id, "parentSpanId": parent or "", "name": name, "kind": kind,
        "startTimeUnixNano": str(start), "endTimeUnixNano": str(max(start, end)),
        "attributes": _attributes(attributes),
    }
    if events:
        span["events"] = events
    if status[0] != STATUS_UNSET:
        span["status"] = {"code": status[0], **({"message": status[1]} if status[1] else {})}
    return span


def render_otlp(flow: dict[str, Any]) -> dict[str, Any]:
    """The OTLP/JSON ``ExportTraceServiceRequest`` of ``flow`` (a dict: ``json.dumps`` it)."""
    application = flow["applicationId"]
    trace = trace_id(application)
    root = _id(8, "egov-sim span", application, "application")
    steps, messages = flow["steps"], flow["messages"]
    step_ids = [_id(8, "egov-sim span", application, "step", step["index"], step["key"]) for step in steps]
    message_ids = [_id(8, "egov-sim span", application, "message", message["messageId"]) for message in messages]

    def message_bounds(message: dict[str, Any]) -> tuple[int, int]:
        moments = [_nanos(message["at"])] + [_nanos(hop["at"]) for hop in message["hops"]]
        return min(moments), max(moments)

    spans: list[dict[str, Any]] = []
    previous_end = _nanos(flow["clock"]["start"])
    for step, span_id in zip(steps, step_ids):
        end = _nanos(step["at"])
        start = min(previous_end, end)
        for index in step["messages"]:
            first, last = message_bounds(messages[index])
            start, end = min(start, first), max(end, last)
        name = step.get("name") or {}
        spans.append(_span(
            trace, span_id, root, f"{step['label']} · {step['system']}", SPAN_KIND_INTERNAL, start, end,
            {
                "egov_sim.step.label": step["label"], "egov_sim.step.key": step["key"],
                "egov_sim.step.kind": step["kind"], "egov_sim.step.number": step["number"],
                "egov_sim.system": step["system"], "egov_sim.step.outcome": step["outcome"],
                "egov_sim.step.detail": step.get("detail"),
                "egov_sim.step.name.kk": name.get("kk"), "egov_sim.step.name.ru": name.get("ru"),
                "egov_sim.step.name.en": name.get("en"), "egov_sim.step.text_kk": step.get("textKk"),
                "egov_sim.step.actor": (step.get("actor") or {}).get("en"),
                "egov_sim.step.duration": (step.get("duration") or {}).get("en"),
                "egov_sim.step.hours": (step.get("hours") or {}).get("en"),
            },
        ))
        previous_end = _nanos(step["at"])
    for message, span_id in zip(messages, message_ids):
        start, end = message_bounds(message)
        parent = step_ids[message["step"]] if message.get("step") is not None else root
        failed = message["status"] not in _UNDER_WAY_OR_DONE or bool(message.get("errorCode"))
        attributes: dict[str, Any] = {
            "messaging.system": "shep",
            "messaging.operation.type": "send",
            "messaging.message.id": message["messageId"],
            "messaging.message.conversation_id": message.get("correlationId"),
            "messaging.destination.name": message["serviceId"],
            "egov_sim.message.channel": message["channel"],
            "egov_sim.message.sender": message["sender"],
            "egov_sim.message.recipient": message["recipient"],
            "egov_sim.message.status": message["status"],
            "egov_sim.message.error_code": message.get("errorCode"),
            "egov_sim.message.path": [message["sender"]] + [hop["to"] for hop in message["hops"] if hop["kind"] == "request"],
        }
        seen: dict[str, int] = {}
        for signature in message["signatures"]:
            of = signature["of"]
            seen[of] = seen.get(of, 0) + 1
            prefix = f"egov_sim.signature.{of}" + (f".{seen[of]}" if seen[of] > 1 else "")
            revocation = signature.get("revocation") or {}
            attributes.update({
                f"{prefix}.verdict": signature["verdict"], f"{prefix}.signer": signature.get("signer"),
                f"{prefix}.issuer": signature.get("issuer"), f"{prefix}.serial": signature.get("serial"),
                f"{prefix}.chain": signature.get("chain") or None,
                f"{prefix}.revocation": revocation.get("atTheTime") or revocation.get("status"),
            })
        events = [{
            "timeUnixNano": str(_nanos(hop["at"])),
            "name": f"{hop['kind']} {hop['from']} → {hop['to']}",
            "attributes": _attributes({"egov_sim.hop.from": hop["from"], "egov_sim.hop.to": hop["to"],
                                       "egov_sim.hop.kind": hop["kind"], "egov_sim.hop.gateway": hop.get("gateway"),
                                       "egov_sim.hop.status": hop.get("status")}),
        } for hop in message["hops"]]
        spans.append(_span(
            trace, span_id, parent, f"send {message['serviceId']}",
            SPAN_KIND_PRODUCER if message["channel"] == "async" else SPAN_KIND_CLIENT, start, end, attributes, events,
            (STATUS_ERROR, message.get("errorCode") or message["status"]) if failed else (STATUS_UNSET, ""),
        ))
    first = min([_nanos(flow["clock"]["start"])] + [int(s["startTimeUnixNano"]) for s in spans])
    last = max([_nanos(flow["clock"]["end"])] + [int(s["endTimeUnixNano"]) for s in spans])
    title = flow.get("title") or {}
    spans.insert(0, _span(
        trace, root, None, f"{flow['reglament']} / {flow['channel']}", SPAN_KIND_INTERNAL, first, last,
        {"egov_sim.application.id": application, "egov_sim.reglament": flow["reglament"],
         "egov_sim.channel": flow["channel"], "egov_sim.outcome": flow["outcome"],
         "egov_sim.reglament.title.kk": title.get("kk"), "egov_sim.reglament.title.ru": title.get("ru"),
         "egov_sim.reglament.title.en": title.get("en")},
    ))
    return {"resourceSpans": [{
        "resource": {"attributes": _attributes({
            "service.name": "egov-sim", "egov_sim.reglament": flow["reglament"], "egov_sim.channel": flow["channel"],
        })},
        "scopeSpans": [{"scope": {"name": SCOPE, "version": SCOPE_VERSION}, "spans": spans}],
    }]}
