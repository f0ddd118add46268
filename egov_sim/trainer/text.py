"""``egov-sim trace show --format text``: the flow of one application as lines to read.

A line per step -- virtual time, the seed's label, the system, the step's name in the chosen
language (with a condition's answer) and the system's own Kazakh detail; a staff procedure's actor,
duration and working hours under it; then each message sent in the step: its service, the way it
went (sender → gateways → recipient), its status, and each signature's verdict at the time it
travelled. The outcome last. A pure function of the flow document (:mod:`egov_sim.trainer.flow`).
"""

from __future__ import annotations

from typing import Any

from egov_sim.texts import LANGUAGES, aligned, phrase, phrase_or, said, when


def render_text(flow: dict[str, Any], lang: str = "kk") -> str:
    """The narration of ``flow`` in ``lang`` (kk, ru, en), one string ending in a newline."""
    if lang not in LANGUAGES:
        raise ValueError(f"unknown language {lang!r} (known: {', '.join(LANGUAGES)})")
    titles = {p["id"]: p["title"] for p in flow["participants"]}

    def system(name: str) -> str:
        title = titles.get(name)
        return title.get(lang) or name if title else name

    outcome = _outcome(flow["outcome"], lang)
    lines = [f"{flow['reglament']} / {flow['channel']}: {outcome}",
             f"  {(flow.get('title') or {}).get(lang, '')}".rstrip(),
             "  " + phrase("application", lang, id=flow["applicationId"]),
             "  " + phrase("trace.clock", lang, start=when(flow["clock"]["start"]), end=when(flow["clock"]["end"]))]
    lines = [line for line in lines if line.strip()]
    rows = [(when(step["at"]), step["label"], system(step["system"]),
             said((step.get("name") or {}).get(lang), step["outcome"], step.get("detail") or "", lang))
            for step in flow["steps"]]
    messages = flow["messages"]
    for step, row, line in zip(flow["steps"], rows, aligned(rows)):
        lines.append(line.rstrip())
        indent = " " * (2 + len(row[0]) + 2)
        if step.get("actor") and step.get("duration"):
            actor, took = step["actor"][lang], step["duration"][lang]
            hours = (step.get("hours") or {}).get(lang)
            lines.append(indent + (phrase("trace.staff", lang, actor=actor, duration=took, hours=hours)
                                   if hours else f"{actor}, {took}"))
        for index in step["messages"]:
            lines.extend(indent + line for line in _message_lines(messages[index], system, lang))
    unplaced = [m for m in messages if m.get("step") is None]
    if unplaced:
        lines.append("  " + phrase("trace.unplaced", lang))
        for message in unplaced:
            lines.extend("    " + line for line in _message_lines(message, system, lang))
    lines.append("  " + phrase("trace.outcome", lang, outcome=outcome))
    return "\n".join(lines) + "\n"


def _outcome(value: str, lang: str) -> str:
    return phrase_or(f"outcome.{value}", lang, value)


def path_of(message: dict[str, Any]) -> list[str]:
    """The systems a message passed, from its sender to its recipient (its request hops)."""
    requests = [hop for hop in message["hops"] if hop["kind"] == "request"]
    if not requests:
        return [message["sender"], message["recipient"]]
    return [requests[0]["from"], *(hop["to"] for hop in requests)]


def _message_lines(message: dict[str, Any], system, lang: str) -> list[str]:
    way = " → ".join(system(name) for name in path_of(message))
    state = message["status"] or ""
    if message.get("errorCode"):
        state += f" ({phrase('trace.error_code', lang, code=message['errorCode'])})"
    lines = [f"✉ {message['serviceId']}: {way}: {state}".rstrip(": ")]
    lines.extend("    " + signature_line(signature, lang) for signature in message["signatures"])
    return lines


def signature_line(signature: dict[str, Any], lang: str) -> str:
    """One signature of a message: whose, what it proves, its verdict and revocation status."""
    what = phrase_or(f"trace.signature.{signature['of']}", lang, signature["of"])
    signer = signature.get("signer") or "?"
    line = f"{what}: {signer} — {signature['verdict']}"
    revocation = signature.get("revocation") or {}
    status = revocation.get("atTheTime") or revocation.get("status")
    if status:
        line += f", {phrase_or(f'trace.revocation.{status}', lang, status)}"
    if signature.get("issuer"):
        line += f" · {signature['issuer']}"
    return line
