"""``egov-sim demo``: one application through the portal, narrated step by step."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any, TextIO

from egov_sim.citizen import DEMO_CITIZEN, apply_on_portal
from egov_sim.inprocess import Simulation
from egov_sim.texts import duration, elapsed, in_language, phrase, status, text_lines, trace_lines
from reglaments import get_reglament
from simulation.calendar import term_end
from simulation.settings import Settings

if TYPE_CHECKING:
    from egov_sim.world import World


def narrate(trace: list[dict[str, Any]], out: TextIO, lang: str = "en") -> None:
    """The trace, one line a step (``egov_sim.texts.trace_lines``)."""
    if trace:
        reglament = get_reglament(trace[0]["reglament"])
        for line in trace_lines(trace, reglament, trace[0]["channel"], lang):
            out.write(line + "\n")


async def run_demo(settings: Settings, out: TextIO, reglament_id: str = "almaty-queue", lang: str = "en",
                   world: World | None = None) -> int:
    reglament = get_reglament(reglament_id)
    out.write(f"egov-sim: {getattr(reglament.title, lang)}\n")
    if lang != "kk":
        out.write(f"  ({reglament.title.kk})\n")
    out.write(phrase("demo_citizen", lang, surname=DEMO_CITIZEN.surname, name=DEMO_CITIZEN.name,
                     iin=DEMO_CITIZEN.iin) + "\n")
    async with Simulation(settings) as simulation:
        if world is not None:
            out.write(world.describe(await simulation.runtime("control").clock.now(), lang) + "\n")
        out.write("\n")
        outcome = await apply_on_portal(
            simulation.client, reglament_id, DEMO_CITIZEN, data_dir=settings.data_dir
        )
    narrate(outcome.trace, out, lang)
    application = outcome.application or {}
    result = application.get("result") or {}
    document = result.get("document") or {}
    out.write("\n")
    out.write(phrase("demo_application", lang, id=application.get("id"), status=status(application.get("status"), lang),
                     number=application.get("registrationNumber")) + "\n")
    queue = document.get("queue")
    if queue:
        out.write(phrase("demo_queue", lang, list=in_language(queue["listName"], lang),
                         number=queue["sequenceNumber"]) + "\n")
    for line in text_lines(document.get("text"), lang):
        out.write(f"  {line}\n")
    verdict = result.get("verdict") or {}
    signer = verdict.get("signer") or {}
    if verdict:
        out.write(phrase("demo_signature", lang, code=verdict.get("code"), signer=signer.get("common_name"),
                         organisation=signer.get("organisation")) + "\n")
    submitted, finished = application.get("submittedAt"), outcome.trace[-1]["sim_time"] if outcome.trace else None
    if submitted and finished:
        took = datetime.fromisoformat(finished) - datetime.fromisoformat(submitted)
        limit = term_end(reglament.term, datetime.fromisoformat(submitted))
        met = datetime.fromisoformat(finished) <= limit
        term = duration(reglament.term, lang) + ("" if lang == "kk" else f" ({reglament.term.kazakh()})")
        out.write(phrase("demo_term", lang, limit=term, elapsed=elapsed(took, lang),
                         met=phrase("met" if met else "not_met", lang, due=f"{limit:%Y-%m-%d %H:%M}")) + "\n")
    return 0 if queue and verdict.get("valid") else 1
