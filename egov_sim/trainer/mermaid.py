"""``egov-sim trace show --format mermaid``: the flow of one application as a Mermaid
``sequenceDiagram``.

A participant per system the application involved, titled in the chosen language, in the flow's
column order; for each step a ``Note over`` its system with the seed's label, the virtual time and
the step's name; under it every hop of the messages sent in the step as an arrow (a request
``->>``, a response ``-->>``) whose text names the service and the signature verdicts.

Mermaid's grammar (v11, the ``sequenceDiagram`` lexer) ends a statement at ``;`` or a newline,
starts a comment at ``#`` and ``%%``, and reads ``<``, ``-``, ``>``, ``:`` and ``,`` in a
participant's name as arrows and separators. So a participant's id here is only ASCII letters,
digits and ``_`` (never a keyword of the grammar), and every free text (titles, the seed's Kazakh
labels, details) has those characters written as Mermaid's entity codes (``#59;`` …), which Mermaid
shows as the characters themselves.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from egov_sim.texts import LANGUAGES, phrase, phrase_or

_KEYWORDS = frozenset(
    "sequencediagram participant actor create destroy box as loop rect opt alt else par par_over and critical "
    "option break end left right of links link properties details over note activate deactivate title "
    "acctitle accdescr autonumber off".split()
)
_ESCAPED = {"#": "#35;", ";": "#59;", "%": "#37;", "<": "#60;", ">": "#62;", "{": "#123;", "}": "#125;",
            '"': "#quot;"}
_BREAK = "<br/>"


def text(value: Any) -> str:
    """Free text made safe inside a Mermaid statement (a message, a note, a participant's title):
    one line, with the characters the grammar reads as syntax written as entity codes."""
    flat = " ".join(str(value).split())
    return "".join(_ESCAPED.get(char, char) for char in flat)


def participant_ids(names: list[str]) -> dict[str, str]:
    """A Mermaid-safe, unique id for each system name (``gateway-almaty`` → ``gateway_almaty``)."""
    ids: dict[str, str] = {}
    for name in names:
        base = re.sub(r"[^A-Za-z0-9_]", "_", name) or "system"
        if base[0].isdigit() or base.lower() in _KEYWORDS:
            base = f"s_{base}"
        candidate, n = base, 2
        while candidate in ids.values():
            candidate, n = f"{base}_{n}", n + 1
        ids[name] = candidate
    return ids


def render_mermaid(flow: dict[str, Any], lang: str = "kk") -> str:
    """The ``sequenceDiagram`` of ``flow`` with titles and names in ``lang`` (kk, ru, en)."""
    if lang not in LANGUAGES:
        raise ValueError(f"unknown language {lang!r} (known: {', '.join(LANGUAGES)})")
    names = [p["id"] for p in flow["participants"]]
    for message in flow["messages"]:  # a system a hop names that the participants left out
        for hop in message["hops"]:
            names += [n for n in (hop["from"], hop["to"]) if n not in names]
    for step in flow["steps"]:
        if step["system"] not in names:
            names.append(step["system"])
    ids = participant_ids(names)
    titles = {p["id"]: p["title"] for p in flow["participants"]}
    outcome = phrase_or(f"outcome.{flow['outcome']}", lang, flow["outcome"])
    lines = [
        "sequenceDiagram",
        f"    title {text(flow['reglament'])} / {text(flow['channel'])} · {text(flow['applicationId'])} · {text(outcome)}",
    ]
    for name in names:
        title = (titles.get(name) or {}).get(lang) or name
        lines.append(f"    participant {ids[name]} as {text(title)}")
    messages = flow["messages"]
    for step in flow["steps"]:
        lines.append(f"    Note over {ids[step['system']]}: {_note(step, lang)}")
        for index in step["messages"]:
            lines.extend(_arrows(messages[index], ids, lang))
    for message in messages:
        if message.get("step") is None:
            lines.extend(_arrows(message, ids, lang))
    return "\n".join(lines) + "\n"


def _when(iso: str) -> str:
    return datetime.fromisoformat(iso).strftime("%Y-%m-%d %H:%M")


def _note(step: dict[str, Any], lang: str) -> str:
    head = f"{text(step['label'])} · {_when(step['at'])}"
    name = (step.get("name") or {}).get(lang)
    answer = {"true": "yes", "false": "no"}.get(step["outcome"])
    if answer:
        name = f"{name or ''} [{phrase(answer, lang)}]".strip()
    parts = [head] + ([text(name)] if name else [])
    if step.get("actor") and step.get("duration"):
        parts.append(text(f"{step['actor'][lang]}, {step['duration'][lang]}"))
    return _BREAK.join(parts)


def _verdicts(message: dict[str, Any], of: tuple[str, ...], lang: str) -> str:
    said = []
    for signature in message["signatures"]:
        if signature["of"] in of:
            what = phrase_or(f"trace.signature.{signature['of']}", lang, signature["of"])
            said.append(f"{what}: {signature['verdict']}")
    return ", ".join(said)


def _arrows(message: dict[str, Any], ids: dict[str, str], lang: str) -> list[str]:
    """One arrow per hop; the first request arrow and the first response arrow say the verdicts."""
    lines, told = [], set()
    for hop in message["hops"]:
        arrow = "->>" if hop["kind"] == "request" else "-->>"
        said = message["serviceId"] if hop["kind"] == "request" else f"{message['serviceId']}: {hop.get('status') or message['status']}"
        if hop["kind"] not in told:
            told.add(hop["kind"])
            verdicts = _verdicts(message, ("request", "document") if hop["kind"] == "request" else ("response",), lang)
            if verdicts:
                said = f"{said} ({verdicts})"
            if hop["kind"] == "response" and message.get("errorCode"):
                said += f" {message['errorCode']}"
        lines.append(f"    {ids[hop['from']]}{arrow}{ids[hop['to']]}: {text(said)}")
    return lines
