"""``egov-sim demo``: one application through the portal, narrated step by step.

With ``--step`` (``step_input``) the narration stops after each step, under the seed's own text of
it, until the trainer presses Enter; ``q`` and Enter ends the narration there (the demo still
succeeds). When the input ends (stdin closed, or a pipe that ran dry) it goes on without waiting.
The prompt goes to ``prompt`` (the command's stderr), so the narration on stdout stays as it is
without ``--step``.
"""

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


_STEP_WORDS: dict[str, dict[str, str]] = {
    "prompt": {
        "kk": "[{n}/{total}] Enter — келесі қадам, q — тоқтату: ",
        "ru": "[{n}/{total}] Enter — следующий шаг, q — остановить: ",
        "en": "[{n}/{total}] Enter: next step, q: stop: ",
    },
    "stopped": {
        "kk": "Баяндау тоқтатылды: {total} қадамның {n}-і көрсетілді.",
        "ru": "Рассказ остановлен: показано шагов {n} из {total}.",
        "en": "Narration stopped after step {n} of {total}.",
    },
}


class _Pauses:
    """Waits for Enter between steps: ``q`` stops, the end of the input stops the waiting."""

    def __init__(self, source: TextIO | None, prompt: TextIO | None, lang: str) -> None:
        self.source, self.prompt, self.lang = source, prompt, lang
        self.waiting = source is not None

    def go_on(self, n: int, total: int) -> bool:
        """False when the trainer typed ``q``; True otherwise (Enter, or the input ended)."""
        if not self.waiting:
            return True
        if self.prompt is not None:
            self.prompt.write(_STEP_WORDS["prompt"][self.lang].format(n=n, total=total))
            self.prompt.flush()
        line = self.source.readline() if self.source is not None else ""
        if self.prompt is not None and (line == "" or not _echoes(self.source)):
            self.prompt.write("\n")  # a terminal echoes the Enter; a pipe or a file does not
        if line == "":  # the end of the input: no one to wait for
            self.waiting = False
            return True
        return line.strip().lower() not in ("q", "quit", "й")  # й: q on a Kazakh or Russian layout


def _echoes(source: TextIO | None) -> bool:
    try:
        return bool(source is not None and source.isatty())
    except (ValueError, OSError):  # closed
        return False


def narrate(trace: list[dict[str, Any]], out: TextIO, lang: str = "en", pauses: _Pauses | None = None) -> bool:
    """The trace, one line a step (``egov_sim.texts.trace_lines``). With ``pauses``: each line
    followed by the seed's text of the step, then a wait for Enter. False if the trainer stopped."""
    if not trace:
        return True
    reglament = get_reglament(trace[0]["reglament"])
    lines = trace_lines(trace, reglament, trace[0]["channel"], lang)
    for n, (event, line) in enumerate(zip(trace, lines, strict=True), start=1):
        out.write(line + "\n")
        if pauses is None:
            continue
        seed = _seed_text(reglament, event)
        if seed:
            out.write(f"      «{seed}»\n")
        out.flush()
        if not pauses.go_on(n, len(lines)):
            out.write(_STEP_WORDS["stopped"][lang].format(n=n, total=len(lines)) + "\n")
            return False
    return True


def _seed_text(reglament: Any, event: dict[str, Any]) -> str | None:
    key = event.get("step") or f"{event['kind']}-{event['number']}"
    try:
        return reglament.channels[event["channel"]].step(key).text_kk
    except KeyError:
        return None


async def run_demo(settings: Settings, out: TextIO, reglament_id: str = "almaty-queue", lang: str = "en",
                   world: World | None = None, step_input: TextIO | None = None,
                   prompt: TextIO | None = None) -> int:
    """Play the demo and narrate it; ``step_input`` given, pause after each step (module doc).
    0 when the result is a valid signed queue notification (or the trainer stopped early), else 1."""
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
    pauses = _Pauses(step_input, prompt, lang) if step_input is not None else None
    if not narrate(outcome.trace, out, lang, pauses):
        return 0
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
