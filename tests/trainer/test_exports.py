"""The exports of `egov-sim trace show`: the text narration, the Mermaid sequenceDiagram (parsed and
drawn by the real mermaid in Chromium) and OTLP/JSON (read by the OpenTelemetry protobuf types),
each rendered from the flow of a finished application."""

from __future__ import annotations

import asyncio
import base64
import copy
import json
from datetime import datetime, timedelta, timezone

import pytest
from google.protobuf import json_format
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from egov_sim.inprocess import Simulation
from egov_sim.scenarios import play
from egov_sim.texts import phrase
from egov_sim.trainer.flow import collect
from egov_sim.trainer.mermaid import participant_ids, render_mermaid, text
from egov_sim.trainer.otlp import render_otlp
from egov_sim.trainer.text import path_of, render_text
from reglaments import get_reglament
from simulation.database import drop_run
from simulation.settings import Settings
from tests.conftest import RUN_SCHEMAS, WORKING_MONDAY

CASES = {  # name: (reglament, channel, case)
    "portal": ("almaty-queue", "portal", "approved"),
    "corporation": ("almaty-queue", "corporation", "refused"),
    "rejected": ("almaty-queue", "portal", "revoked-certificate"),  # stopped on the portal: no message at all
    "housing-aid": ("almaty-housing-aid", "portal", "approved"),  # Е-собес decides
}


@pytest.fixture(scope="module")
def flows(tmp_path_factory) -> dict[str, dict]:
    """The flows of finished applications (:data:`CASES`), played in one world. A plain fixture:
    the browser tests are sync."""
    settings = Settings(data_dir=tmp_path_factory.mktemp("exports") / "run", population_size=300,
                        clock_start=WORKING_MONDAY)

    async def play_them() -> dict[str, dict]:
        try:
            async with Simulation(settings) as simulation:
                found = {}
                for name, (reglament, channel, case) in CASES.items():
                    spec = get_reglament(reglament).cases[channel][case]
                    report = await play(simulation, reglament, channel, spec, case)
                    found[name] = await collect(simulation, report["application_id"])
                    assert found[name]["outcome"] == report["outcome"]
                return found
        finally:
            await drop_run(settings, RUN_SCHEMAS)

    return asyncio.run(play_them())


# ---- text -------------------------------------------------------------------------------------


@pytest.mark.parametrize("lang", ["kk", "ru", "en"])
@pytest.mark.parametrize("channel", list(CASES))
def test_the_text_tells_every_step_in_order_with_its_messages_and_the_outcome(flows, channel, lang):
    flow = flows[channel]
    lines = render_text(flow, lang).splitlines()
    step_lines = []
    for step in flow["steps"]:  # each step's line after the one before, with its time and label
        start = step_lines[-1] + 1 if step_lines else 0
        found = next(i for i in range(start, len(lines))
                     if f"{datetime.fromisoformat(step['at']):%Y-%m-%d %H:%M}  {step['label']} " in lines[i])
        assert step["detail"] in lines[found]
        if step["name"]:
            assert step["name"][lang] in lines[found]
        step_lines.append(found)
    bounds = [*step_lines, len(lines)]
    for position, step in enumerate(flow["steps"]):  # each message between its step and the next
        below = "\n".join(lines[bounds[position] + 1:bounds[position + 1]])
        for index in step["messages"]:
            message = flow["messages"][index]
            assert f"✉ {message['serviceId']}: " in below
            assert all(signature["verdict"] in below for signature in message["signatures"])
    assert sum(line.lstrip().startswith("✉ ") for line in lines) == len(flow["messages"])
    assert lines[-1].strip() == phrase("trace.outcome", lang, outcome=phrase(f"outcome.{flow['outcome']}", lang))


def test_the_text_names_the_way_and_a_staff_procedure(flows):
    flow = flows["portal"]
    said = render_text(flow, "en")
    filed = next(m for m in flow["messages"] if m["serviceId"] == "HousingQueueRegistration")
    assert path_of(filed) == ["portal", "gateway", "gateway-almaty", "provider_ws"]
    assert ("✉ HousingQueueRegistration: egov.kz portal → E-government gateway → Regional gateway (Almaty city) "
            "→ Service provider workstation: DELIVERED") in said
    assert "document signature: НҰРЛАНОВА ӘЛИЯ — VALID, not revoked" in said
    procedure = next(s for s in flow["steps"] if s["kind"] == "action")
    assert f"{procedure['actor']['en']}, {procedure['duration']['en']}; working hours: {procedure['hours']['en']}" in said
    with pytest.raises(ValueError, match="unknown language 'de'"):
        render_text(flow, "de")


# ---- OTLP -------------------------------------------------------------------------------------


def _parsed(document: dict) -> ExportTraceServiceRequest:
    """The export as a collector reads it: OTLP/JSON writes ids in hex where the proto3 JSON mapping
    has base64, so they are turned back first; the rest is read by the protobuf types as it is."""
    copied = copy.deepcopy(document)
    for resource in copied["resourceSpans"]:
        for scope in resource["scopeSpans"]:
            for span in scope["spans"]:
                for field in ("traceId", "spanId", "parentSpanId"):
                    span[field] = base64.b64encode(bytes.fromhex(span[field])).decode()
    return json_format.Parse(json.dumps(copied), ExportTraceServiceRequest())


def _attributes(span) -> dict:
    return {a.key: json_format.MessageToDict(a.value) for a in span.attributes}


def _nanos(iso: str) -> int:
    return (datetime.fromisoformat(iso) - datetime(1970, 1, 1, tzinfo=timezone.utc)) // timedelta(microseconds=1) * 1000


@pytest.mark.parametrize("channel", list(CASES))
def test_otlp_is_a_trace_service_request_with_a_span_per_step_and_message(flows, channel):
    flow = flows[channel]
    document = render_otlp(flow)
    as_written = json_format.Parse(json.dumps(document, ensure_ascii=False), ExportTraceServiceRequest())
    assert len(as_written.resource_spans[0].scope_spans[0].spans) == 1 + len(flow["steps"]) + len(flow["messages"])
    raw = document["resourceSpans"][0]["scopeSpans"][0]["spans"]
    assert all(len(s["traceId"]) == 32 and len(s["spanId"]) == 16 and int(s["traceId"], 16) and int(s["spanId"], 16)
               for s in raw)

    request = _parsed(document)
    resource = {a.key: a.value.string_value for a in request.resource_spans[0].resource.attributes}
    assert resource == {"service.name": "egov-sim", "egov_sim.reglament": flow["reglament"],
                        "egov_sim.channel": flow["channel"]}
    spans = list(request.resource_spans[0].scope_spans[0].spans)
    assert {len(s.trace_id) for s in spans} == {16} and {len(s.span_id) for s in spans} == {8}
    assert len({s.trace_id for s in spans}) == 1 and len({s.span_id for s in spans}) == len(spans)
    by_id = {s.span_id: s for s in spans}
    roots = [s for s in spans if not s.parent_span_id]
    assert len(roots) == 1 and all(s.parent_span_id in by_id for s in spans if s.parent_span_id)
    root = roots[0]
    assert _attributes(root)["egov_sim.outcome"] == {"stringValue": flow["outcome"]}
    # virtual time: the root covers the run's clock from the first step to the last
    assert root.start_time_unix_nano == _nanos(flow["clock"]["start"])
    assert root.end_time_unix_nano == _nanos(flow["clock"]["end"])

    steps = [s for s in spans if "egov_sim.step.label" in _attributes(s)]
    assert [_attributes(s)["egov_sim.step.label"]["stringValue"] for s in steps] == [s["label"] for s in flow["steps"]]
    for span, step in zip(steps, flow["steps"]):
        attributes = _attributes(span)
        assert span.parent_span_id == root.span_id and span.end_time_unix_nano == _nanos(step["at"])
        assert attributes["egov_sim.step.key"]["stringValue"] == step["key"]
        assert attributes["egov_sim.system"]["stringValue"] == step["system"]
        assert attributes["egov_sim.step.outcome"]["stringValue"] == step["outcome"]
    sent = [s for s in spans if "messaging.message.id" in _attributes(s)]
    assert len(sent) == len(flow["messages"])
    for span, message in zip(sent, flow["messages"]):
        attributes = _attributes(span)
        assert attributes["messaging.system"]["stringValue"] == "shep"
        assert attributes["messaging.message.id"]["stringValue"] == message["messageId"]
        assert attributes["messaging.message.conversation_id"]["stringValue"] == message["correlationId"]
        assert attributes["messaging.destination.name"]["stringValue"] == message["serviceId"]
        assert span.kind == (Span.SPAN_KIND_PRODUCER if message["channel"] == "async" else Span.SPAN_KIND_CLIENT)
        assert span.parent_span_id == steps[message["step"]].span_id
        for signature in message["signatures"]:
            assert attributes[f"egov_sim.signature.{signature['of']}.verdict"]["stringValue"] == signature["verdict"]
        assert [e.name.split(" ")[0] for e in span.events] == [h["kind"] for h in message["hops"]]


def test_otlp_ids_come_from_the_application_so_two_exports_are_the_same(flows):
    portal, corporation = flows["portal"], flows["corporation"]
    assert json.dumps(render_otlp(portal)) == json.dumps(render_otlp(copy.deepcopy(portal)))
    first = render_otlp(portal)["resourceSpans"][0]["scopeSpans"][0]["spans"][0]
    other = render_otlp(corporation)["resourceSpans"][0]["scopeSpans"][0]["spans"][0]
    assert first["traceId"] != other["traceId"] and first["spanId"] != other["spanId"]


# ---- Mermaid ----------------------------------------------------------------------------------


def test_participant_ids_are_safe_for_mermaid():
    assert participant_ids(["gateway-almaty", "end", "9lives", "a.b", "a_b", "portal"]) == {
        "gateway-almaty": "gateway_almaty", "end": "s_end", "9lives": "s_9lives", "a.b": "a_b", "a_b": "a_b_2",
        "portal": "portal"}
    assert text("5-тармақ; 3) #1: 100%\n<b>") == "5-тармақ#59; 3) #35;1: 100#37; #60;b#62;"


_MERMAID = """async (diagram) => {
  mermaid.initialize({startOnLoad: false});
  try { await mermaid.parse(diagram); } catch (error) { return {error: String(error)}; }
  const {svg} = await mermaid.render("d" + Math.random().toString(36).slice(2), diagram);
  const holder = document.createElement("div");
  holder.innerHTML = svg;
  document.body.replaceChildren(holder);
  const texts = (selector) => [...holder.querySelectorAll(selector)].map((e) => e.textContent);
  return {lines: holder.querySelectorAll(".messageLine0, .messageLine1").length,
          solid: holder.querySelectorAll(".messageLine0").length,
          dotted: holder.querySelectorAll(".messageLine1").length,
          messages: texts(".messageText"), notes: holder.querySelectorAll("rect.note").length,
          noteTexts: texts(".noteText"), actors: texts("text.actor")};
}"""


@pytest.fixture(scope="module")
def mermaid_page(browser, node_module):
    page = browser.new_page()
    page.set_content("<!DOCTYPE html><html><body></body></html>")
    page.add_script_tag(path=str(node_module("mermaid/dist/mermaid.min.js")))
    yield lambda diagram: page.evaluate(_MERMAID, diagram)
    page.close()


@pytest.mark.parametrize("lang", ["kk", "en"])
@pytest.mark.parametrize("channel", list(CASES))
def test_mermaid_parses_and_draws_an_arrow_per_hop_and_a_note_per_step(flows, mermaid_page, channel, lang):
    flow = flows[channel]
    diagram = render_mermaid(flow, lang)
    drawn = mermaid_page(diagram)
    assert "error" not in drawn, drawn.get("error")
    hops = [hop for message in flow["messages"] for hop in message["hops"]]
    assert drawn["lines"] == len(hops) and (len(hops) > 0) == (channel != "rejected")
    assert drawn["solid"] == sum(h["kind"] == "request" for h in hops)
    assert drawn["dotted"] == sum(h["kind"] == "response" for h in hops)
    assert drawn["notes"] == len(flow["steps"])
    if channel == "housing-aid":  # Е-собес decides there: a column of its own, arrows to it
        assert "e_sobes" in [p["id"] for p in flow["participants"]] and "->>e_sobes: " in diagram
    titles = {p["title"][lang] for p in flow["participants"]}
    assert set(drawn["actors"]) == titles  # (each drawn at the top and at the bottom)
    notes = " ".join(drawn["noteTexts"])
    assert all(step["label"] in notes for step in flow["steps"])
    for message in flow["messages"]:  # its first arrow says the request's and the document's verdicts
        said = next(t for t in drawn["messages"] if t.startswith(f"{message['serviceId']} ("))
        assert all(s["verdict"] in said for s in message["signatures"] if s["of"] in ("request", "document"))


def test_mermaid_keeps_text_the_grammar_would_read_as_syntax(flows, mermaid_page):
    flow = copy.deepcopy(flows["portal"])
    hostile = '5-процесс; #1: 100% <b>end</b> {x} "q" (a)'
    flow["steps"][0]["label"] = hostile
    flow["steps"][0]["name"] = {"kk": "wrap; note over: end", "ru": "-", "en": "-"}
    flow["participants"][0]["title"]["kk"] = "Портал (egov.kz): #1; 50%"
    drawn = mermaid_page(render_mermaid(flow, "kk"))
    assert "error" not in drawn, drawn.get("error")
    assert hostile in " ".join(drawn["noteTexts"])
    assert "wrap; note over: end" in " ".join(drawn["noteTexts"])
    assert "Портал (egov.kz): #1; 50%" in drawn["actors"]
    assert drawn["lines"] == sum(len(m["hops"]) for m in flow["messages"])


def test_a_broken_diagram_fails_the_check(flows, mermaid_page):
    """The control: the same diagram with one line Mermaid cannot read is refused, so the check
    above is one a wrong export would fail."""
    diagram = render_mermaid(flows["portal"], "en")
    assert "error" not in mermaid_page(diagram)
    broken = diagram + "    portal->>gateway: unescaped; semicolon\n"
    assert "Parse error" in mermaid_page(broken)["error"]
    missing_colon = diagram + "    portal->>gateway HousingQueueRegistration\n"
    assert "Parse error" in mermaid_page(missing_colon)["error"]


def test_a_message_outside_any_step_and_a_failed_one_are_shown(flows):
    """A message the flow could give to no step is told after the steps (a child of the root span);
    one the gateway did not deliver is an error span, and the text says its error code."""
    flow = copy.deepcopy(flows["portal"])
    loose = flow["messages"][-1]
    flow["steps"][loose["step"]]["messages"].remove(loose["index"])
    loose["step"] = None
    failed = flow["messages"][0]
    failed.update(status="NOT_DELIVERED", errorCode="SERVICE_UNAVAILABLE")

    said = render_text(flow, "en").splitlines()
    outside = said.index("  Messages outside any step")
    assert said[outside + 1].strip().startswith(f"✉ {loose['serviceId']}: ")
    assert f"✉ {failed['serviceId']}: " in next(line for line in said if failed["serviceId"] in line and "✉" in line)
    assert any(line.endswith(": NOT_DELIVERED (error code SERVICE_UNAVAILABLE)") for line in said)

    spans = {s["name"]: s for s in render_otlp(flow)["resourceSpans"][0]["scopeSpans"][0]["spans"]}
    root = next(s for s in spans.values() if not s["parentSpanId"])
    assert spans[f"send {loose['serviceId']}"]["parentSpanId"] == root["spanId"]
    assert spans[f"send {failed['serviceId']}"]["status"] == {"code": 2, "message": "SERVICE_UNAVAILABLE"}
    assert "status" not in spans[f"send {loose['serviceId']}"]

    diagram = render_mermaid(flow, "en")
    assert diagram.count("->>") == sum(len(m["hops"]) for m in flow["messages"])
    assert diagram.rstrip().splitlines()[-1].endswith(text(f"{loose['serviceId']}: DELIVERED"))
