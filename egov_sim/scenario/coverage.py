"""Path coverage: which steps of each reglament's channels, and which outcome of each branch, the
runs went through, out of all the definitions have.

A step is covered when a trace records it. A branch is a step that picks ``then`` or ``else``
(every condition, and the few other steps that branch); each of its two outcomes counts once. The
outcome taken is the trace's verdict for a condition (``true`` / ``false``) and, for the other
branching steps, the step the trace went to next (``then`` or ``else``).

The totals are over every channel of every definition loaded, whether a run touched it or not, so
a library of scenarios can be held to 100 %. ``as_json`` gives the shape the CLI writes with
``--coverage-json``: ``{reglament: {channel: {"steps": [covered, total], "branches": [covered, total]}}}``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from simulation.definition import Channel, Reglament, StepKind

THEN, ELSE = "then", "else"


@dataclass
class ChannelCoverage:
    """The coverage of one channel of one reglament."""

    reglament: Reglament
    channel: Channel
    steps: set[str] = field(default_factory=set)
    """Keys of the steps covered."""
    branches: set[tuple[str, str]] = field(default_factory=set)
    """(key of a branching step, ``then`` or ``else``) taken."""

    @property
    def all_steps(self) -> list[str]:
        return [s.key for s in self.channel.steps]

    @property
    def all_branches(self) -> list[tuple[str, str]]:
        return [(s.key, side) for s in self.channel.steps if s.branches for side in (THEN, ELSE)]

    @property
    def missing_steps(self) -> list[str]:
        return [k for k in self.all_steps if k not in self.steps]

    @property
    def missing_branches(self) -> list[tuple[str, str]]:
        return [b for b in self.all_branches if b not in self.branches]

    def label(self, key: str) -> str:
        return self.channel.step(key).label

    def counts(self) -> dict[str, list[int]]:
        return {"steps": [len(self.steps), len(self.all_steps)],
                "branches": [len(self.branches), len(self.all_branches)]}


class Coverage:
    """Coverage of the given reglaments, built up from the traces of the runs."""

    def __init__(self, reglaments: Mapping[str, Reglament]) -> None:
        self.channels: dict[tuple[str, str], ChannelCoverage] = {
            (r.id, c.name): ChannelCoverage(r, c) for r in reglaments.values() for c in r.channels.values()
        }

    def of(self, reglament: str, channel: str) -> ChannelCoverage:
        return self.channels[(reglament, channel)]

    def add(self, trace: Iterable[Mapping[str, Any]], reglament: str | None = None, channel: str | None = None) -> None:
        """Count one application's trace: events as ``GET /trace/{id}`` gives them (``reglament``,
        ``channel``, ``step``, ``kind``, ``outcome``; ``reglament`` and ``channel`` stand for events
        that do not name theirs, as in a run's report). Events of definitions not loaded are left out."""
        events = [{"reglament": reglament, "channel": channel, **e} for e in trace]
        for index, event in enumerate(events):
            found = self.channels.get((event.get("reglament"), event.get("channel")))
            if found is None:
                continue
            try:
                step = found.channel.step(event["step"])
            except KeyError:
                continue
            found.steps.add(step.key)
            if not step.branches:
                continue
            side = None
            if step.kind is StepKind.condition and event.get("outcome") in ("true", "false"):
                side = THEN if event["outcome"] == "true" else ELSE
            else:
                for later in events[index + 1:]:
                    if later.get("channel") != event.get("channel"):
                        continue
                    if later.get("step") == step.then:
                        side = THEN
                        break
                    if later.get("step") == step.else_:
                        side = ELSE
                        break
            if side is not None:
                found.branches.add((step.key, side))

    def merge(self, other: Coverage) -> None:
        for key, theirs in other.channels.items():
            if key in self.channels:
                self.channels[key].steps |= theirs.steps
                self.channels[key].branches |= theirs.branches

    def as_json(self) -> dict[str, dict[str, dict[str, list[int]]]]:
        found: dict[str, dict[str, dict[str, list[int]]]] = {}
        for (reglament, channel), cov in self.channels.items():
            found.setdefault(reglament, {})[channel] = cov.counts()
        return found

    def totals(self) -> dict[str, list[int]]:
        steps = [sum(len(c.steps) for c in self.channels.values()),
                 sum(len(c.all_steps) for c in self.channels.values())]
        branches = [sum(len(c.branches) for c in self.channels.values()),
                    sum(len(c.all_branches) for c in self.channels.values())]
        return {"steps": steps, "branches": branches}

    def complete(self) -> bool:
        return all(not c.missing_steps and not c.missing_branches for c in self.channels.values())

    def table(self, *, missing: bool = True) -> str:
        """The coverage as a table to read: one row a channel, then, when ``missing``, what is
        missing (by the seed's labels) of each channel a run went through."""
        rows = [("reglament", "channel", "steps", "branches")]
        for (reglament, channel), cov in self.channels.items():
            counts = cov.counts()
            rows.append((reglament, channel, _ratio(*counts["steps"]), _ratio(*counts["branches"])))
        totals = self.totals()
        rows.append(("all", "", _ratio(*totals["steps"]), _ratio(*totals["branches"])))
        widths = [max(len(r[i]) for r in rows) for i in range(4)]
        lines = ["  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip() for row in rows]
        lines.insert(1, "  ".join("-" * w for w in widths))
        lines.insert(len(lines) - 1, "  ".join("-" * w for w in widths))
        if missing:  # what a run left out of the channels it went through (untouched ones are 0 % above)
            for (reglament, channel), cov in self.channels.items():
                if not cov.steps:
                    continue
                gaps = [f"{cov.label(k)} ({k})" for k in cov.missing_steps]
                gaps += [f"{cov.label(k)} → {side} ({k})" for k, side in cov.missing_branches]
                if gaps:
                    lines.append(f"missing in {reglament} / {channel}: " + ", ".join(gaps))
        return "\n".join(lines)


def _ratio(covered: int, total: int) -> str:
    percent = 100.0 if total == 0 else 100.0 * covered / total
    return f"{covered}/{total} ({percent:.0f} %)"
