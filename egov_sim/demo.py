"""``egov-sim demo``: one application through the portal, narrated step by step."""

from __future__ import annotations

from datetime import datetime
from typing import Any, TextIO

from egov_sim.citizen import DEMO_CITIZEN, apply_on_portal
from egov_sim.inprocess import Simulation
from reglaments import get_reglament
from simulation.settings import Settings
from simulation.topology import SYSTEMS


def _when(iso: str) -> str:
    return datetime.fromisoformat(iso).strftime("%Y-%m-%d %H:%M")


def narrate(outcome_trace: list[dict[str, Any]], out: TextIO) -> None:
    for event in outcome_trace:
        system = SYSTEMS[event["system"]].title_kk
        outcome = {"true": " [иә]", "false": " [жоқ]"}.get(event["outcome"], "")
        out.write(
            f"  {_when(event['sim_time'])}  {event['label']:<15} {system:<28} {event['detail']}{outcome}\n"
        )


async def run_demo(settings: Settings, out: TextIO, reglament_id: str = "almaty-queue") -> int:
    reglament = get_reglament(reglament_id)
    out.write(f"egov-sim: {reglament.title.en}\n  ({reglament.title.kk})\n")
    out.write(f"Citizen {DEMO_CITIZEN.surname} {DEMO_CITIZEN.name}, ЖСН {DEMO_CITIZEN.iin}, applies on the portal.\n\n")
    async with Simulation(settings) as simulation:
        outcome = await apply_on_portal(
            simulation.client, reglament_id, DEMO_CITIZEN, data_dir=settings.data_dir
        )
    narrate(outcome.trace, out)
    application = outcome.application or {}
    result = application.get("result") or {}
    document = result.get("document") or {}
    out.write("\n")
    out.write(f"Application {application.get('id')}: {application.get('status')}, "
              f"registration number {application.get('registrationNumber')}\n")
    queue = document.get("queue")
    if queue:
        out.write(f"Queue: {queue['listName']['kk']} ({queue['listName']['en']}), "
                  f"sequence number {queue['sequenceNumber']}\n")
    if document.get("text"):
        out.write(f"  kk: {document['text']['kk']}\n  ru: {document['text']['ru']}\n  en: {document['text']['en']}\n")
    verdict = result.get("verdict") or {}
    signer = verdict.get("signer") or {}
    if verdict:
        out.write(f"Result signature: {verdict.get('code')} — {signer.get('common_name')}, "
                  f"{signer.get('organisation')}\n")
    submitted, finished = application.get("submittedAt"), outcome.trace[-1]["sim_time"] if outcome.trace else None
    if submitted and finished:
        elapsed = datetime.fromisoformat(finished) - datetime.fromisoformat(submitted)
        limit = reglament.term.add_to(datetime.fromisoformat(submitted))
        met = datetime.fromisoformat(finished) <= limit
        out.write(f"Term {reglament.term.english()} ({reglament.term.kazakh()}): took {elapsed}, "
                  f"{'met' if met else 'NOT met'}\n")
    return 0 if queue and verdict.get("valid") else 1
