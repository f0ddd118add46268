"""``egov-sim run``: one application end to end in virtual time, for every case a channel has.

The contract testers and CI rely on: whatever the outcome, the run ends and reports it -- the
reglament, channel and case; the outcome (``approved``, ``refused`` by the provider, or
``rejected`` for a stop before the provider decides); the result with its signature verdict;
virtual start and finish; the term and whether it was met; the trace; and the gateway messages.
"""

from __future__ import annotations

import base64
from dataclasses import replace
from datetime import date, datetime
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any


from egov_sim.citizen import (
    DEMO_CITIZEN, Citizen, apply_on_portal, cabinet_view, obtain_signing_key, register_on_portal, sign_in_cabinet,
)
from egov_sim.clients import ControlClient, GatewayClient
from egov_sim.inprocess import Simulation
from egov_sim.texts import duration, phrase, phrase_or, text_lines, trace_lines
from reglaments import get_reglament
from signatures.identity import Identity
from simulation.calendar import term_end, to_local
from simulation.definition import Case
from simulation.identifiers import make_iin
from simulation.settings import Settings
from simulation.topology import regional_gateway

if TYPE_CHECKING:
    from egov_sim.world import World

OSPANOV = Citizen("800404305123", "ОСПАНОВ", "БОЛАТ", "ЕРЖАНҰЛЫ", "Bolat-2026!")
"""Owns the flat he lives in: the provider refuses him (registries/fixtures.yaml)."""
OMAROV = Citizen("851102304571", "ОМАРОВ", "ДӘУРЕН", "АСҚАРҰЛЫ", "Dauren-2026!")
UNKNOWN_IIN = make_iin(date(1900, 1, 1), 1, 1)
"""A well-formed ЖСН of nobody the registries know."""

CITIZENS = {"demo": DEMO_CITIZEN, "owner": OSPANOV, "other": OMAROV}
"""The citizens a case names (``applicant``, ``signer``); any other value is a ЖСН."""


class CaseError(ValueError):
    """An unknown reglament, channel or case: says which, and what there is."""


def cases_of(reglament_id: str) -> dict[str, tuple[str, ...]]:
    """The cases of each channel, as the reglament's definition lists them."""
    return {channel: tuple(cases) for channel, cases in get_reglament(reglament_id).cases.items()}


def _citizen(name: str, queue_list: str | None) -> Citizen:
    if name == "unknown":
        base = Citizen(UNKNOWN_IIN, "БЕЛГІСІЗ", "АДАМ", None, "Unknown-2026!")
    elif name in CITIZENS:
        base = CITIZENS[name]
    else:
        base = Citizen(name, "ӨТІНІШ", "БЕРУШІ", None, f"Iin-{name}!")
    return replace(base, queue_list=queue_list) if queue_list else base


async def run_case(settings: Settings, reglament_id: str, channel: str, case: str,
                   world: World | None = None) -> dict[str, Any]:
    """The report of one case; with ``world``, it says which world ran it (``egov-sim run``)."""
    try:
        reglament = get_reglament(reglament_id)
    except ValueError as exc:
        raise CaseError(str(exc)) from None
    available = cases_of(reglament.id)
    if channel not in available:
        raise CaseError(f"reglament {reglament.id} has no channel {channel!r} with cases "
                        f"(it has: {', '.join(available) or 'none'})")
    if case not in available[channel]:
        raise CaseError(f"channel {channel} has no case {case!r} (it has: {', '.join(available[channel])})")
    async with Simulation(settings) as simulation:
        report = await play(simulation, reglament.id, channel, reglament.cases[channel][case], case)
    if world is not None:
        report["world"] = world.as_dict(datetime.fromisoformat(report["clock_at_start"]))
    return report


StaffHand = Callable[[Any, str], Awaitable[None]]
"""Performs the provider's staff procedures of one application by hand (manual mode): called with
the world and the application id once the application waits at the provider."""


async def play(simulation: Any, reglament_id: str, channel: str, spec: Case, case: str = "",
               staff: StaffHand | None = None, after_filing: StaffHand | None = None) -> dict[str, Any]:
    """Play one application of ``spec`` through ``channel`` in a world already running, and report
    it. ``simulation`` is the in-process :class:`Simulation` or any object with its ``client(system)``
    and ``settings`` (a world of running systems: :class:`egov_sim.scenario.remote.RemoteWorld`).
    ``after_filing`` is called once the application is filed, before time runs on (a system
    restarted mid-application); ``staff`` once time has run as far as it goes by itself."""
    reglament = get_reglament(reglament_id)
    first = reglament.channel(channel).first.system
    async with simulation.client("control") as control:
        started = await ControlClient(control).now()
    if first == "portal":
        application_id, trace, view = await _portal(simulation, reglament, channel, spec, staff, after_filing)
    elif first == "corporation_ws":
        application_id, trace, view = await _corporation(simulation, reglament, spec, staff, after_filing)
    elif first == "provider_ws":
        application_id, trace, view = await _provider_office(simulation, reglament, spec, staff, after_filing)
    else:
        raise CaseError(f"channel {channel} starts at {first}: egov-sim run plays the portal, the front office "
                        "and the provider's chancellery")
    messages = await _messages(simulation, application_id, reglament) if application_id else []
    report = _report(reglament, channel, case, application_id, started, trace, view, messages)
    report["clock_at_start"] = started.isoformat()
    return report


async def _portal(simulation: Any, reglament, channel: str, case: Case, staff: StaffHand | None = None, after_filing: StaffHand | None = None):
    data_dir = simulation.settings.data_dir
    citizen = _citizen(case.applicant, case.queue_list)
    if case.password == "wrong":
        async with simulation.client("signatures") as ca, simulation.client("portal") as portal, \
                simulation.client("control") as control:
            await register_on_portal(ca, portal, control, citizen, data_dir=data_dir)
            refused = (await portal.post("/api/sessions", json={
                "iin": citizen.iin, "password": "not-the-password", "reglament": reglament.id})).json()
            trace = (await control.get(f"/trace/{refused['session']}")).json()
        refusal = {"kk": refused["message_kk"], "ru": refused["message_ru"], "en": refused["message"]}
        return None, trace, {"refusal": refusal}
    key = None
    if case.certificate != "valid":
        async with simulation.client("signatures") as ca:
            body = (await ca.post("/v1/certificates/person", json={
                "iin": citizen.iin, "surname": citizen.surname, "name": citizen.name, "patronymic": citizen.patronymic,
                "validity": "expired" if case.certificate == "expired" else "valid"})).json()
            key = Identity.from_pkcs12(base64.b64decode(body["pkcs12"]), body["password"].encode())
            if case.certificate == "revoked":
                await ca.post(f"/v1/certificates/{body['serial']}/revoke", json={"reason": "keyCompromise"})
    elif case.signer is not None:
        async with simulation.client("signatures") as ca:
            key = await obtain_signing_key(ca, _citizen(case.signer, None))
    outcome = await apply_on_portal(simulation.client, reglament.id, citizen, data_dir=data_dir, signing_key=key,
                                    omit=tuple(case.omit_documents), form_fields=case.form,
                                    run_clock=after_filing is None)
    if after_filing is not None and outcome.application_id:
        await after_filing(simulation, outcome.application_id)
        async with simulation.client("control") as control:
            (await control.post("/clock/run")).raise_for_status()
    if (staff is not None or after_filing is not None) and outcome.application_id:
        if staff is not None:
            await staff(simulation, outcome.application_id)
        outcome = replace(outcome, application=await cabinet_view(simulation.client, citizen, outcome.application_id))
        async with simulation.client("control") as control:
            outcome = replace(outcome, trace=(await control.get(f"/trace/{outcome.application_id}")).json())
    if case.citizen_signs and outcome.application_id and (outcome.application or {}).get("toSign"):
        # the cabinet asks the citizen to sign (a contract): they sign it, and time runs on
        view = await sign_in_cabinet(simulation.client, citizen, outcome.application_id)
        if staff is not None:  # the next stage's staff procedures, by hand too
            await staff(simulation, outcome.application_id)
            view = await cabinet_view(simulation.client, citizen, outcome.application_id)
        async with simulation.client("control") as control:
            trace = (await control.get(f"/trace/{outcome.application_id}")).json()
        return outcome.application_id, trace, view
    return outcome.application_id, outcome.trace, outcome.application


async def _corporation(simulation: Any, reglament, case: Case, staff: StaffHand | None = None, after_filing: StaffHand | None = None):
    applicant = _citizen(case.applicant, case.queue_list)
    if not reglament.queue_lists:  # a service with no queue lists (a certificate): the form names none
        applicant = replace(applicant, queue_list=None)
    documents = [d.code for d in reglament.documents_for(applicant.queue_list) if d.code not in case.omit_documents]
    async with simulation.client("corporation_ws") as ws, simulation.client("control") as control:
        session = (await ws.post("/api/operator/sessions")).json()["session"]
        auth = {"Authorization": f"Bearer {session}"}
        ticket = (await ws.post("/api/tickets", params={"reglament": reglament.id})).json()["ticket"]
        taken = await ws.post("/api/applications", headers=auth, json={
            "reglament": reglament.id, "ticket": ticket, "applicant_iin": applicant.iin,
            "presented_documents": documents,
            "form": {**({"queueList": applicant.queue_list} if reglament.queue_lists else {}), **case.form}})
        taken.raise_for_status()
        application_id = taken.json()["id"]
        if after_filing is not None:
            await after_filing(simulation, application_id)
        (await control.post("/clock/run")).raise_for_status()
        if staff is not None:
            await staff(simulation, application_id)
        view = (await ws.get(f"/api/applications/{application_id}", headers=auth)).json()
        trace = (await control.get(f"/trace/{application_id}")).json()
    return application_id, trace, view


async def _provider_office(simulation: Any, reglament, case: Case, staff: StaffHand | None = None, after_filing: StaffHand | None = None):
    """The applicant hands the package to the provider's chancellery on paper, and collects the
    result there once the staff procedures are done."""
    applicant = _citizen(case.applicant, case.queue_list)
    if not reglament.queue_lists:  # a service with no queue lists (a certificate): the form names none
        applicant = replace(applicant, queue_list=None)
    documents = [d.code for d in reglament.documents_for(applicant.queue_list) if d.code not in case.omit_documents]
    form = {**({"queueList": applicant.queue_list} if reglament.queue_lists else {}), **case.form}
    async with simulation.client("provider_ws") as ws, simulation.client("control") as control:
        taken = await ws.post("/api/chancellery/applications", json={
            "reglament": reglament.id, "applicant": {"iin": applicant.iin},
            "attachments": [{"code": code} for code in documents], "form": form})
        taken.raise_for_status()
        application_id = taken.json()["applicationId"]
        if after_filing is not None:
            await after_filing(simulation, application_id)
        (await control.post("/clock/run")).raise_for_status()
        if staff is not None:
            await staff(simulation, application_id)
        collected = await ws.post(f"/api/chancellery/applications/{application_id}/collect")
        view = collected.json() if collected.status_code == 200 else (
            await ws.get(f"/api/chancellery/applications/{application_id}")).json()
        trace = (await control.get(f"/trace/{application_id}")).json()
    return application_id, trace, view


async def _messages(simulation: Any, application_id: str, reglament) -> list[dict[str, Any]]:
    """The application's gateway messages: those through ЭҮШ, and those a provider sent through its
    regional gateway alone (to a system of the region, such as "Е-әкімдік"); one entry a message."""
    messages: dict[str, dict[str, Any]] = {}
    for gateway_name in ("gateway", regional_gateway(reglament.gateway.route_id)):
        async with simulation.client(gateway_name) as gateway:
            records = await GatewayClient(gateway).messages(correlation_id=application_id, kind="all", limit=10_000)
        for record in records:
            entry = messages.setdefault(record.messageId, {
                "messageId": record.messageId, "serviceId": record.serviceId, "sender": record.sender,
                "recipient": record.recipient, "status": record.status})
            if record.kind == "response":
                entry["status"] = record.status
                entry["recipient"] = entry["recipient"] or record.recipient
    return list(messages.values())


def _report(reglament, channel: str, case: str, application_id: str | None, started: datetime,
            trace: list[dict[str, Any]],
            view: dict[str, Any], messages: list[dict[str, Any]]) -> dict[str, Any]:
    trace = [{k: e[k] for k in ("kind", "number", "label", "step", "system", "sim_time", "outcome", "detail")}
             for e in trace]
    result = (view or {}).get("result")
    if result:
        outcome = "approved" if result["document"].get("decision") == "approved" else "refused"
        report_result: dict[str, Any] = {"document": result["document"], "signature": result["signature"],
                                         "verdict": result["verdict"]}
    else:
        outcome = "rejected"
        receipts = (view or {}).get("receipts") or []
        report_result = {"refusal": (view or {}).get("refusal") or (receipts[-1] if receipts else None)}
    finished = datetime.fromisoformat(trace[-1]["sim_time"]) if trace else started
    first = datetime.fromisoformat(trace[0]["sim_time"]) if trace else started
    limit = term_end(reglament.term, first)
    stages = stage_terms(reglament, channel, trace, view) if reglament.staff.stages else None
    report = {
        "reglament": reglament.id,
        "channel": channel,
        "case": case,
        "application_id": application_id,
        "outcome": outcome,
        "result": report_result,
        "started_at": to_local(first).isoformat(),
        "finished_at": to_local(finished).isoformat(),
        "term": {"limit": reglament.term.english(), "limit_kk": reglament.term.kazakh(),
                 "due": to_local(limit).isoformat(), "met": finished <= limit},
        "trace": trace,
        "messages": messages,
    }
    if stages is not None:  # a service in stages: each stage's term counts, the whole run meets them all
        report["stages"] = stages
        report["term"]["met"] = all(stage["met"] for stage in stages)
    return report


def stage_terms(reglament, channel: str, trace: list[dict[str, Any]], view: dict[str, Any] | None) -> list[dict[str, Any]]:
    """Each stage the trace went through: from the step before its first step (the request sent,
    the previous stage's result in the cabinet) to its last step, against the stage's own term;
    and what the cabinet shows of its result (the citizen's signature, the payment)."""
    steps, keys, spans = reglament.channel(channel).steps, [], {}
    candidates = [steps[0].key]
    by_key = {s.key: s for s in steps}
    for event in trace:  # the trace's labels walked back to the definition's steps (for their stages)
        matching = [k for k in candidates if by_key[k].label == event["label"] and by_key[k].system == event["system"]]
        if not matching:
            matching = [s.key for s in steps if s.label == event["label"] and s.system == event["system"]]
        stage_of = {by_key[k].stage for k in matching}
        keys.append(stage_of.pop() if len(stage_of) == 1 else None)
        candidates = [t for k in matching for t in by_key[k].successors]
    for index, stage in enumerate(keys):
        if stage is not None:
            start, _ = spans.get(stage, (max(index - 1, 0), index))
            spans[stage] = (start, index)
    shown = {s["stage"]: s for s in (view or {}).get("stages") or []}
    found = []
    for number, (start, end) in sorted(spans.items()):
        stage = reglament.staff.stage(number)
        begun, ended = (datetime.fromisoformat(trace[i]["sim_time"]) for i in (start, end))
        due = term_end(stage.term, begun)
        entry = {"stage": number, "name": stage.name.model_dump(), "limit": stage.term.english(),
                 "limit_kk": stage.term.kazakh(), "started_at": to_local(begun).isoformat(),
                 "finished_at": to_local(ended).isoformat(), "due": to_local(due).isoformat(), "met": ended <= due}
        result = shown.get(number) or {}
        for field in ("type", "citizenSignature", "payment"):
            if field in result:
                entry[field] = result[field]
        found.append(entry)
    return found


def narrate(report: dict[str, Any], lang: str = "en") -> str:
    """The report as lines to read, in ``lang`` (kk, ru, en) around the systems' own Kazakh texts."""
    reglament = get_reglament(report["reglament"])
    outcome = phrase(f"outcome.{report['outcome']}", lang)
    lines = [f"{report['reglament']} / {report['channel']} / {report['case']}: {outcome}"]
    if report.get("application_id"):
        lines.append("  " + phrase("application", lang, id=report["application_id"]))
    lines.extend(trace_lines(report["trace"], reglament, report["channel"], lang))
    result = report["result"] or {}
    if result.get("document"):
        lines.extend(f"  {line}" for line in text_lines(result["document"].get("text"), lang))
        lines.append("  " + phrase("result_signature", lang, code=result["verdict"]["code"]))
    elif result.get("refusal"):
        refusal = result["refusal"]
        lines.extend(f"  {line}" for line in (text_lines(refusal, lang) if isinstance(refusal, dict) else [refusal]))
    lines.extend("  " + line for line in _stage_lines(report.get("stages") or [], reglament, lang))
    due = datetime.fromisoformat(report["term"]["due"])
    met = phrase("met" if report["term"]["met"] else "not_met", lang, due=f"{due:%Y-%m-%d %H:%M}")
    lines.append("  " + phrase("run_term", lang, limit=duration(reglament.term, lang), met=met,
                               messages=len(report["messages"])))
    return "\n".join(lines)


def _stage_lines(stages: list[dict[str, Any]], reglament, lang: str) -> list[str]:
    """Each stage's term, and what the cabinet shows of the contract: the citizen's signature and
    the payment."""
    lines = []
    for stage in stages:
        due = datetime.fromisoformat(stage["due"])
        met = phrase("met" if stage["met"] else "not_met", lang, due=f"{due:%Y-%m-%d %H:%M}")
        lines.append(phrase("stage_term", lang, stage=stage["stage"], name=stage["name"][lang],
                            limit=duration(reglament.staff.stage(stage["stage"]).term, lang), met=met))
        signature = stage.get("citizenSignature")
        if signature:
            signed = signature.get("status") == "signed"
            at = datetime.fromisoformat(signature["signedAt"]) if signed and signature.get("signedAt") else None
            lines.append("  " + phrase("signature.signed" if signed else "signature.unsigned", lang,
                                       at=f"{at:%Y-%m-%d %H:%M}" if at else ""))
        payment = stage.get("payment")
        if payment:
            if payment.get("status") == "not-required":
                lines.append("  " + phrase("payment.not-required", lang))
            else:
                lines.append("  " + phrase("payment", lang, amount=f"{payment['amount']:,.2f}".replace(",", " "),
                                           due=payment.get("due", ""),
                                           status=phrase_or(f"payment.status.{payment.get('status')}", lang,
                                                            str(payment.get("status", "")))))
    return lines
