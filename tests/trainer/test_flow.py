"""The flow document every trainer's view and export reads: steps from the trace, messages joined
across the gateways' logs, each signature checked at the time its message travelled."""

from __future__ import annotations

import json

import pytest

from egov_sim.scenarios import play
from egov_sim.trainer.flow import FORMAT, FlowError, collect
from reglaments import get_reglament


async def _flow(simulation, reglament: str, channel: str, case: str) -> tuple[dict, dict]:
    spec = get_reglament(reglament).cases[channel][case]
    report = await play(simulation, reglament, channel, spec, case)
    return report, await collect(simulation, report["application_id"])


async def test_a_portal_application_joins_its_steps_and_every_hop_of_its_messages(simulation):
    report, flow = await _flow(simulation, "almaty-queue", "portal", "approved")
    assert flow["format"] == FORMAT and flow["outcome"] == "approved" == report["outcome"]
    assert [s["label"] for s in flow["steps"]] == [e["label"] for e in report["trace"]]
    assert [p["id"] for p in flow["participants"]] == [
        "portal", "gateway", "gateway-almaty", "provider_ws", "registries", "signatures"]
    assert {m["messageId"] for m in flow["messages"]} == {m["messageId"] for m in report["messages"]}

    filed = next(m for m in flow["messages"] if m["serviceId"] == "HousingQueueRegistration")
    assert [(h["from"], h["to"], h["kind"]) for h in filed["hops"]] == [
        ("portal", "gateway", "request"), ("gateway", "gateway-almaty", "request"),
        ("gateway-almaty", "provider_ws", "request"), ("provider_ws", "gateway-almaty", "response"),
        ("gateway-almaty", "gateway", "response"), ("gateway", "portal", "response")]
    sent_in = flow["steps"][filed["step"]]
    assert sent_in["label"] == "5-процесс" and filed["index"] in sent_in["messages"]
    # the citizen's signed application travels in it, and each signature holds at its time
    signatures = {s["of"]: s for s in filed["signatures"]}
    assert set(signatures) == {"request", "document", "response"}
    assert all(s["verdict"] == "VALID" for s in signatures.values())
    document = signatures["document"]
    assert document["serial"] and document["revocation"]["status"] == "good"
    assert len(document["chain"]) == 3 and document["chain"][0] == document["signer"]
    assert filed["request"]["document"]["applicant"]["iin"]

    # a staff procedure brings its actor, duration and working hours from the definition
    procedure = next(s for s in flow["steps"] if s["kind"] == "action")
    assert procedure["actor"]["kk"] and procedure["duration"]["en"] and procedure["hours"]["ru"]
    assert procedure["name"]["en"] and procedure["textKk"]
    json.dumps(flow)  # one JSON document


async def test_a_front_office_application_and_its_refusal(simulation):
    report, flow = await _flow(simulation, "almaty-queue", "corporation", "refused")
    assert flow["outcome"] == "refused" == report["outcome"]
    assert flow["participants"][0]["id"] == "corporation_ws"
    result = flow["messages"][-1]
    assert result["recipient"] == "corporation_ws" and result["request"]["decision"] == "refused"


async def test_an_application_the_run_does_not_know_is_named(simulation):
    with pytest.raises(FlowError, match="no trace of application 'nothing-here'"):
        await collect(simulation, "nothing-here")
