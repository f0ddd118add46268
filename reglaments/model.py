"""The schema of a reglament definition, its loader and its consistency checks."""

from __future__ import annotations

import re
from enum import StrEnum
from functools import cache
from importlib.resources import files
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from simulation.calendar import Duration
from simulation.topology import SYSTEMS

DEFINITIONS = files(__package__) / "definitions"
_KEY = re.compile(r"^(process|condition|action|item)-(\d+)$")


ACTORS_KK = {
    "chancellery": "кеңсе маманы",
    "head": "басшы",
    "executor": "жауапты орындаушы",
    "commission": "комиссия",
}


class ReglamentError(ValueError):
    """A definition that does not load or does not hang together."""


class StepKind(StrEnum):
    process = "process"
    condition = "condition"
    action = "action"
    item = "item"


class Text(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kk: str
    ru: str
    en: str


class StaffStep(BaseModel):
    """One provider staff procedure of section 2 with its duration."""

    model_config = ConfigDict(extra="forbid")
    number: int
    actor: Literal["chancellery", "head", "executor", "commission"]
    duration: Duration
    text_kk: str
    name: Text
    """A short name of the procedure in Kazakh, Russian and English, for narrations and screens."""

    @property
    def actor_kk(self) -> str:
        return ACTORS_KK[self.actor]

    @field_validator("duration", mode="before")
    @classmethod
    def _parse_duration(cls, value: object) -> Duration:
        return value if isinstance(value, Duration) else Duration.parse(str(value))


class Step(BaseModel):
    """One numbered step of a channel in section 4 (or a staff procedure placed in it)."""

    model_config = ConfigDict(extra="forbid")
    key: str
    system: str | None = None
    text_kk: str | None = None
    name: Text | None = None
    """A short name of the step in Kazakh, Russian and English (the seed's own text is ``text_kk``)."""
    next: str | None = None
    then: str | None = None
    else_: str | None = Field(default=None, alias="else")
    outcome: Literal["rejected", "decided"] | None = None
    duration: Duration | None = None
    """Filled in for ``action-N`` steps from the staff procedure N."""

    @property
    def kind(self) -> StepKind:
        return StepKind(_KEY.match(self.key).group(1))  # type: ignore[union-attr]

    @property
    def number(self) -> int:
        return int(_KEY.match(self.key).group(2))  # type: ignore[union-attr]

    @property
    def label(self) -> str:
        """The step's name as the reglament text calls it, e.g. "3-процесс", "2-шарт"."""
        return {
            StepKind.process: f"{self.number}-процесс",
            StepKind.condition: f"{self.number}-шарт",
            StepKind.item: f"{self.number}-тармақ",
            StepKind.action: f"5-тармақ, {self.number})",
        }[self.kind]

    @property
    def successors(self) -> tuple[str, ...]:
        return tuple(k for k in (self.next, self.then, self.else_) if k)

    @model_validator(mode="after")
    def _check_shape(self) -> Step:
        if not _KEY.match(self.key):
            raise ValueError(f"step key {self.key!r} is not <process|condition|action|item>-<N>")
        if self.kind is StepKind.condition:
            if not (self.then and self.else_) or self.next or self.outcome:
                raise ValueError(f"{self.key}: a condition needs `then` and `else` and nothing else")
        elif sum(x is not None for x in (self.next, self.outcome)) != 1 or self.then or self.else_:
            raise ValueError(f"{self.key}: needs exactly one of `next` or `outcome`")
        if self.system is not None and self.system not in SYSTEMS:
            raise ValueError(f"{self.key}: unknown system {self.system!r}")
        return self


class Channel(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = ""
    item: int
    steps: list[Step]

    def step(self, key: str) -> Step:
        for step in self.steps:
            if step.key == key:
                return step
        raise KeyError(f"channel {self.name!r} has no step {key!r}")

    @property
    def first(self) -> Step:
        return self.steps[0]


class Gateway(BaseModel):
    model_config = ConfigDict(extra="forbid")
    service_id: str
    route_id: str


class Provider(BaseModel):
    model_config = ConfigDict(extra="forbid")
    system: str
    name: Text


class Document(BaseModel):
    model_config = ConfigDict(extra="forbid")
    code: str
    kk: str
    ru: str
    en: str


class QueueList(Document):
    income_test: bool = False


class Decision(BaseModel):
    """Parameters of the provider's check (3-шарт); the rules that use them are code."""

    model_config = ConfigDict(extra="forbid")
    income_multiplier: float
    subsistence_minimum: dict[int, int]
    worsening_lookback_years: int

    def threshold(self, year: int) -> float:
        """The per-member monthly income below which a family qualifies, for a year."""
        known = sorted(self.subsistence_minimum)
        chosen = max((y for y in known if y <= year), default=known[0])
        return self.income_multiplier * self.subsistence_minimum[chosen]


class Reglament(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str
    source: dict[str, object]
    region: str
    title: Text
    provider: Provider
    gateway: Gateway
    result: Text
    term: Duration
    required_documents: list[Document]
    queue_lists: list[QueueList] = []
    decision: Decision | None = None
    staff_steps: list[StaffStep]
    channels: dict[str, Channel]

    @field_validator("term", mode="before")
    @classmethod
    def _parse_term(cls, value: object) -> Duration:
        return value if isinstance(value, Duration) else Duration.parse(str(value))

    @model_validator(mode="after")
    def _link(self) -> Reglament:
        staff = {s.number: s for s in self.staff_steps}
        if sorted(staff) != list(range(1, len(staff) + 1)):
            raise ValueError("staff_steps must be numbered 1, 2, 3, … without gaps")
        for name, channel in self.channels.items():
            channel.name = name
            keys = [s.key for s in channel.steps]
            if len(set(keys)) != len(keys):
                raise ValueError(f"channel {name}: a step key appears twice")
            for step in channel.steps:
                if step.kind is StepKind.action:
                    if step.number not in staff:
                        raise ValueError(f"channel {name}: {step.key} has no staff step")
                    step.system = self.provider.system
                    step.text_kk = staff[step.number].text_kk
                    step.name = staff[step.number].name
                    step.duration = staff[step.number].duration
                elif step.system is None or not step.text_kk or step.name is None:
                    raise ValueError(f"channel {name}: {step.key} needs `system`, `text_kk` and `name`")
                for target in step.successors:
                    if target not in keys:
                        raise ValueError(f"channel {name}: {step.key} leads to unknown {target}")
        return self

    def channel(self, name: str) -> Channel:
        try:
            return self.channels[name]
        except KeyError:
            raise ReglamentError(
                f"reglament {self.id!r} has no channel {name!r} "
                f"(it has: {', '.join(self.channels)})"
            ) from None

    def queue_list(self, code: str) -> QueueList | None:
        return next((q for q in self.queue_lists if q.code == code), None)

    def unknown_queue_list(self, code: str) -> dict[str, str] | None:
        """Why ``code`` is none of this reglament's queue lists (kk, ru, en), or None if it is one:
        what a front office or the portal answers about the form's field."""
        if self.queue_list(code) is not None:
            return None
        codes = ", ".join(q.code for q in self.queue_lists)
        return {"kk": f"Мұндай кезек тізімі жоқ: {code}", "ru": f"Такого списка очереди нет: {code}",
                "en": f"No queue list {code!r} (there are: {codes})"}

    def unknown_document(self, code: str) -> dict[str, str] | None:
        """Why ``code`` is none of the documents this reglament asks for (kk, ru, en), or None."""
        codes = [d.code for d in self.required_documents]
        if code in codes:
            return None
        return {"kk": f"Мұндай құжат түрі жоқ: {code}", "ru": f"Такого вида документа нет: {code}",
                "en": f"No document {code!r} in the form (there are: {', '.join(codes)})"}

    def staff_step(self, number: int) -> StaffStep:
        return self.staff_steps[number - 1]


def load_file(path: Path | Traversable) -> Reglament:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        reglament = Reglament.model_validate(data)
    except (yaml.YAMLError, ValidationError, ValueError) as exc:
        raise ReglamentError(f"{path.name}: {exc}") from exc
    if reglament.id != path.name.removesuffix(".yaml"):
        raise ReglamentError(f"{path.name}: id {reglament.id!r} differs from the file name")
    return reglament


@cache
def all_reglaments() -> dict[str, Reglament]:
    return {r.id: r for r in map(load_file, sorted((p for p in DEFINITIONS.iterdir() if p.name.endswith(".yaml")), key=lambda p: p.name))}


def get_reglament(reglament_id: str) -> Reglament:
    try:
        return all_reglaments()[reglament_id]
    except KeyError:
        raise ReglamentError(
            f"unknown reglament {reglament_id!r} (known: {', '.join(all_reglaments())})"
        ) from None
