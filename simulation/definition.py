"""The language of reglament definitions: the schema of a definition file, its loader and checks.

A definition (YAML) holds what a seed reglament's sections 2-4 say: each channel's numbered steps
with their Kazakh text, the branches, which system performs each step and with which of that
system's operations, the staff procedures with their actors and durations, and the working hours
of the offices that take part. :mod:`simulation.engine` walks it; the systems only offer
operations. This module reads and checks a file; which folders hold definitions is for the
caller to say (:mod:`reglaments` reads the package's own and those of ``EGOV_SIM_REGLAMENTS``).

Step keys are ``<kind>-<N>`` or ``<kind>-<N>-<variant>``: ``process`` ("N-процесс"),
``condition`` ("N-шарт"), ``item`` (a section-4 step numbered only as a sub-item "N)") and
``action`` (staff procedure N of section 2). A variant tells apart two steps a seed gives the same
number (``process-7-refusal`` and ``process-7-receipt``).
"""

from __future__ import annotations

import re
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal, Protocol

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from simulation import yamltext
from simulation.calendar import Duration
from simulation.topology import SYSTEMS
from simulation.workhours import Schedule

_KEY = re.compile(r"^(process|condition|action|item)-(\d+)(?:-([a-z0-9]+(?:-[a-z0-9]+)*))?$")
OUTCOMES = ("rejected", "refused", "decided")
"""How a channel may end: ``rejected`` before the provider takes the request, ``refused`` by the
provider at a numbered step, ``decided`` with the provider's result (approval or reasoned refusal)."""


class ReglamentError(ValueError):
    """A definition that does not load or does not hang together: the file, the step, the rule."""


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


def _duration(value: object) -> Duration | None:
    if value is None or isinstance(value, Duration):
        return value
    return Duration.parse(str(value))


class Actor(BaseModel):
    """Who performs staff procedures: a role of one system's office (the provider's chancellery,
    head or executor; the State Corporation employee; a courier...)."""

    model_config = ConfigDict(extra="forbid")
    key: str = ""
    system: str
    kk: str
    ru: str
    en: str

    @field_validator("system")
    @classmethod
    def _known(cls, value: str) -> str:
        if value not in SYSTEMS:
            raise ValueError(f"unknown system {value!r}")
        return value


class OperationCall(BaseModel):
    """One operation a step calls, with its parameters (for steps that do several things)."""

    model_config = ConfigDict(extra="forbid")
    operation: str
    params: dict[str, Any] = {}


class Procedure(BaseModel):
    """One numbered staff procedure of section 2 (or of the 2013 tables) with its duration."""

    model_config = ConfigDict(extra="forbid")
    number: int
    actor: str
    duration: Duration
    text_kk: str
    name: Text
    """A short name of the procedure in Kazakh, Russian and English, for narrations and screens."""
    operation: str | None = None
    """The work the procedure carries besides its time (signing the result, dispatching it,
    registering the case in another system...), an operation of the actor's system."""
    params: dict[str, Any] = {}
    operations: list[OperationCall] = []
    """Several operations, in order, when the procedure does several things."""
    stage: int | None = None
    """The stage (кезең) the procedure belongs to, where the seed splits the service into stages."""
    label: str | None = None
    """The trace's name of the procedure when the staff's label pattern does not give it."""

    @field_validator("duration", mode="before")
    @classmethod
    def _parse_duration(cls, value: object) -> Duration | None:
        return _duration(value)


class Stage(BaseModel):
    """One stage (кезең) of a service the seed splits into stages, each with its own result and
    term (pavlodar-privatization: the commission's decision, the transfer, the contract)."""

    model_config = ConfigDict(extra="forbid")
    number: int
    name: Text
    term: Duration
    """The stage's own term (the seed's "Орындау мерзімдері" total of the stage's table)."""
    result: Text | None = None

    @field_validator("term", mode="before")
    @classmethod
    def _parse_term(cls, value: object) -> Duration | None:
        return _duration(value)


class Staff(BaseModel):
    model_config = ConfigDict(extra="forbid")
    item: int
    """The item of section 2 that numbers the procedures (5 in most seeds)."""
    label: str = "{item}-тармақ, {number})"
    """How the trace names procedure N (``{item}`` and ``{number}`` are filled in)."""
    stage_label: str = "{item}-тармақ, {stage}-кезең, {ordinal})"
    """How the trace names a procedure of a stage: ``{stage}`` and ``{ordinal}`` (its place
    within the stage, counted from 1) are filled in besides ``{item}`` and ``{number}``."""
    stages: list[Stage] = []
    procedures: list[Procedure]

    def stage(self, number: int) -> Stage:
        for stage in self.stages:
            if stage.number == number:
                return stage
        raise KeyError(f"no stage {number}")

    def label_of(self, procedure: Procedure) -> str:
        """The trace's name of ``procedure``."""
        if procedure.label:
            return procedure.label
        if procedure.stage is None:
            return self.label.format(item=self.item, number=procedure.number)
        ordinal = [p.number for p in self.procedures if p.stage == procedure.stage].index(procedure.number) + 1
        return self.stage_label.format(item=self.item, number=procedure.number, stage=procedure.stage, ordinal=ordinal)


class Step(BaseModel):
    """One step of a channel: a numbered step of section 4, or a staff procedure placed in it."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    key: str
    system: str | None = None
    operation: str | None = None
    """The operation of ``system`` that performs the step (for a condition: returns its verdict)."""
    params: dict[str, Any] = {}
    operations: list[OperationCall] = []
    """Several operations, in order, when the step does several things (instead of ``operation``)."""
    text_kk: str | None = None
    name: Text | None = None
    """A short name of the step in Kazakh, Russian and English (the seed's own text is ``text_kk``)."""
    label: str | None = None
    """The trace's name of the step when the default ("N-процесс", "N-шарт", "N)") is not it."""
    next: str | None = None
    then: str | None = None
    """A condition's step when it holds. Any other step whose operation answers a verdict may
    branch too (``then``/``else`` instead of ``next``): a result sent that ends the walk when it
    is a refusal and goes on to the next stage when it is an approval."""
    else_: str | None = Field(default=None, alias="else")
    outcome: Literal["rejected", "refused", "decided"] | None = None
    duration: Duration | None = None
    """How long the step takes (the seed's "2 минут ішінде"); staff procedures bring their own."""
    during: str | None = None
    """An ``action-N`` step whose time this step is done within (the executor's check happens
    inside the executor's procedure): the step waits for that procedure's time to run out."""
    office_hours: bool = False
    """The step is done only while its system's office is open (a result handed to the citizen
    when they come for it)."""
    hours: str | None = None
    """Whose working hours time the step, an entry of the definition's ``offices`` (the State
    Corporation's courier runs on working days while its front office works on Saturdays too);
    the step's system's office when not given."""
    actor: str | None = None
    """For ``action-N`` steps: the actor of the procedure (filled in on load)."""
    procedure: int | None = None
    stage: int | None = None
    """The stage (кезең) the step belongs to: its procedure's for ``action-N`` steps (filled in on
    load); given for other steps of a staged service (the result of stage 2 sent to the cabinet)."""

    @field_validator("duration", mode="before")
    @classmethod
    def _parse_duration(cls, value: object) -> Duration | None:
        return _duration(value)

    @property
    def kind(self) -> StepKind:
        return StepKind(_KEY.match(self.key).group(1))  # type: ignore[union-attr]

    @property
    def number(self) -> int:
        return int(_KEY.match(self.key).group(2))  # type: ignore[union-attr]

    @property
    def calls(self) -> list[tuple[str, dict[str, Any]]]:
        """The operations the step calls, in order, with their parameters."""
        if self.operation is not None:
            return [(self.operation, self.params)]
        return [(c.operation, c.params) for c in self.operations]

    @property
    def branches(self) -> bool:
        """The step picks ``then`` or ``else`` by its verdict (every condition, and other steps
        that say so)."""
        return self.then is not None

    @property
    def successors(self) -> tuple[str, ...]:
        return tuple(k for k in (self.next, self.then, self.else_) if k)

    @model_validator(mode="after")
    def _check_shape(self) -> Step:
        if not _KEY.match(self.key):
            raise ValueError(f"step key {self.key!r} is not <process|condition|action|item>-<N>[-<variant>]")
        if self.kind is StepKind.condition:
            if not (self.then and self.else_) or self.next or self.outcome:
                raise ValueError(f"{self.key}: a condition needs `then` and `else` and nothing else")
        elif self.then or self.else_:
            if not (self.then and self.else_) or self.next or self.outcome:
                raise ValueError(f"{self.key}: a step that branches needs `then` and `else` and no `next` or `outcome`")
        elif sum(x is not None for x in (self.next, self.outcome)) != 1:
            raise ValueError(f"{self.key}: needs exactly one of `next`, `outcome` or `then` and `else`")
        if self.system is not None and self.system not in SYSTEMS:
            raise ValueError(f"{self.key}: unknown system {self.system!r}")
        return self


class Channel(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = ""
    item: int
    """The item of section 4 that describes the channel."""
    title: Text | None = None
    result_service: str | None = None
    """The serviceId that brings the provider's result back to the channel's system (the
    cabinet's, the front office's)."""
    notice_service: str | None = None
    """The serviceId that brings the provider's signed notices outside the numbered steps (the
    decision to provide housing) to the same system."""
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
    regional_name: Text | None = None
    """What the seed calls the regional gateway (ЭҮӨШ; ЭҮАШ in West Kazakhstan)."""


class Person(BaseModel):
    model_config = ConfigDict(extra="forbid")
    iin: str
    surname: str
    name: str
    patronymic: str = ""


class Organisation(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    bin: str


class Provider(BaseModel):
    """The service provider: which system stands for it and how it is set up for this reglament."""

    model_config = ConfigDict(extra="forbid")
    system: str
    name: Text
    organisation: Organisation
    head: Person
    """The official who signs the results (a SIGN key with the first-head role in the PKI)."""
    registration_prefix: str = Field(pattern=r"^[A-Z]{2,6}$")


class Document(BaseModel):
    model_config = ConfigDict(extra="forbid")
    code: str
    kk: str
    ru: str
    en: str


class QueueList(Document):
    income_test: bool = False


class Case(BaseModel):
    """A named case of a channel: what the tester's scenario does, and what it should give."""

    model_config = ConfigDict(extra="forbid")
    applicant: str = "demo"
    """A citizen of the run (``demo``, ``owner``, ``stranger``, ``unknown``) or a ЖСН."""
    signer: str | None = None
    """Whose key signs the portal request (``demo``, ``other``) when not the applicant's own."""
    certificate: Literal["valid", "revoked", "expired"] = "valid"
    password: Literal["right", "wrong"] = "right"
    omit_documents: list[str] = []
    queue_list: str | None = None
    form: dict[str, Any] = {}
    citizen_signs: bool = True
    """Whether the citizen signs in the cabinet what the provider asks them to sign (a contract)."""
    expect: dict[str, Any] = {}
    """``outcome`` and ``steps`` (labels) the case gives, and ``result``: fields the approved
    result holds; the tests check them."""
    description: str = ""


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
    income_documents: list[str] = []
    """Codes of documents asked only on income-tested queue lists."""
    queue_lists: list[QueueList] = []
    decision: dict[str, Any] | None = None
    """The provider's check: ``rules`` names a rule set of the provider, the rest are its parameters."""
    actors: dict[str, Actor]
    staff: Staff
    offices: dict[str, dict[str, Any]] = {}
    """Working hours per system's office (:class:`simulation.workhours.Schedule` data); a system
    not named works round the clock."""
    channels: dict[str, Channel]
    cases: dict[str, dict[str, Case]] = {}
    path: str = ""
    """Where the definition was read from."""

    @field_validator("term", mode="before")
    @classmethod
    def _parse_term(cls, value: object) -> Duration | None:
        return _duration(value)

    @model_validator(mode="after")
    def _link(self) -> Reglament:
        for key, actor in self.actors.items():
            actor.key = key
        procedures = {p.number: p for p in self.staff.procedures}
        if sorted(procedures) != list(range(1, len(procedures) + 1)):
            raise ValueError("staff.procedures must be numbered 1, 2, 3, … without gaps")
        stages = {s.number for s in self.staff.stages}
        for procedure in self.staff.procedures:
            if procedure.actor not in self.actors:
                raise ValueError(f"staff procedure {procedure.number}: unknown actor {procedure.actor!r} "
                                 f"(actors: {', '.join(self.actors)})")
            if (procedure.stage is None) != (not stages) or (procedure.stage is not None and procedure.stage not in stages):
                raise ValueError(f"staff procedure {procedure.number}: "
                                 + (f"stage {procedure.stage} is none of staff.stages" if stages and procedure.stage
                                    else "every procedure names its stage when staff.stages are given, and none "
                                         "does otherwise"))
        for office, data in self.offices.items():
            if office not in SYSTEMS and office not in self.actors:
                raise ValueError(f"offices: {office!r} is neither a system nor an actor of the definition")
            try:
                Schedule.parse(data)
            except ValueError as exc:
                raise ValueError(f"offices.{office}: {exc}") from None
        for name, channel in self.channels.items():
            channel.name = name
            keys = [s.key for s in channel.steps]
            if len(set(keys)) != len(keys):
                raise ValueError(f"channel {name}: a step key appears twice")
            for step in channel.steps:
                where = f"channel {name}, step {step.key}"
                if step.kind is StepKind.action:
                    procedure = procedures.get(step.number)
                    if procedure is None:
                        raise ValueError(f"{where}: no staff procedure {step.number}")
                    actor = self.actors[procedure.actor]
                    step.procedure = procedure.number
                    step.stage = procedure.stage
                    step.actor = actor.key
                    step.system = step.system or actor.system
                    step.text_kk = step.text_kk or procedure.text_kk
                    step.name = step.name or procedure.name
                    step.duration = step.duration or procedure.duration
                    if step.operation is None and not step.operations:
                        step.operation, step.params = procedure.operation, procedure.params
                        step.operations = procedure.operations
                    step.label = step.label or self.staff.label_of(procedure)
                elif step.system is None or not step.text_kk or step.name is None:
                    raise ValueError(f"{where}: needs `system`, `text_kk` and `name`")
                if step.operation is not None and step.operations:
                    raise ValueError(f"{where}: give `operation` or `operations`, not both")
                if step.kind is not StepKind.action and not step.calls:
                    raise ValueError(f"{where}: needs `operation` (what {step.system} does)")
                if step.label is None:
                    step.label = {
                        StepKind.process: f"{step.number}-процесс",
                        StepKind.condition: f"{step.number}-шарт",
                        StepKind.item: f"{channel.item}-тармақ, {step.number})",
                    }[step.kind]
                for target in step.successors:
                    if target not in keys:
                        raise ValueError(f"{where}: leads to unknown step {target!r}")
                if step.during is not None:
                    if step.during not in keys or not step.during.startswith("action-"):
                        raise ValueError(f"{where}: `during` names {step.during!r}, not an action step of the channel")
                if step.stage is not None and step.stage not in stages:
                    raise ValueError(f"{where}: stage {step.stage} is none of staff.stages")
                if step.hours is not None and step.hours not in self.offices:
                    raise ValueError(f"{where}: `hours` names {step.hours!r}, none of `offices` "
                                     f"({', '.join(self.offices) or 'none'})")
            self._check_reachable(channel)
        for channel_name, cases in self.cases.items():
            if channel_name not in self.channels:
                raise ValueError(f"cases: no channel {channel_name!r}")
            for case_name, case in cases.items():
                for code in case.omit_documents:
                    if code not in {d.code for d in self.required_documents}:
                        raise ValueError(f"cases.{channel_name}.{case_name}: omit_documents names unknown {code!r}")
        return self

    @staticmethod
    def _check_reachable(channel: Channel) -> None:
        seen, todo = set(), [channel.first.key]
        while todo:
            key = todo.pop()
            if key not in seen:
                seen.add(key)
                todo.extend(channel.step(key).successors)
        unreachable = [s.key for s in channel.steps if s.key not in seen]
        if unreachable:
            raise ValueError(f"channel {channel.name}: no path from {channel.first.key} reaches "
                             + ", ".join(unreachable))
        if not any(s.outcome for s in channel.steps):
            raise ValueError(f"channel {channel.name}: no step ends the application (`outcome`)")

    # ---- look-ups --------------------------------------------------------------------------

    def channel(self, name: str) -> Channel:
        try:
            return self.channels[name]
        except KeyError:
            raise ReglamentError(
                f"reglament {self.id!r} has no channel {name!r} (it has: {', '.join(self.channels)})"
            ) from None

    @property
    def staff_steps(self) -> list[Procedure]:
        return self.staff.procedures

    def staff_step(self, number: int) -> Procedure:
        return self.staff.procedures[number - 1]

    def actor_of(self, procedure: Procedure) -> Actor:
        return self.actors[procedure.actor]

    def schedule_of(self, system: str) -> Schedule:
        """The working hours of ``system``'s office in this reglament (round the clock if unnamed),
        or of another entry of ``offices`` (an actor's own, such as a courier's runs)."""
        data = self.offices.get(system)
        return Schedule.parse(data) if data is not None else Schedule.ALWAYS

    def queue_list(self, code: str) -> QueueList | None:
        return next((q for q in self.queue_lists if q.code == code), None)

    def documents_for(self, queue_list: str | None) -> list[Document]:
        """The documents the Standard asks for on ``queue_list``: income papers only where the
        list has the income test."""
        listed = self.queue_list(queue_list) if queue_list else None
        skip = set() if listed is None or listed.income_test else set(self.income_documents)
        return [d for d in self.required_documents if d.code not in skip]

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

    def channel_starting_at(self, system: str) -> str | None:
        """The name of the channel whose first step is ``system``'s (where it takes applicants in)."""
        return next((c.name for c in self.channels.values() if c.first.system == system), None)

    def steps_of(self, system: str) -> list[tuple[Channel, Step]]:
        return [(c, s) for c in self.channels.values() for s in c.steps if s.system == system]


class OperationCatalogue(Protocol):
    """What :func:`check_operations` needs to know of a system's operations."""

    system: str

    def problem(self, name: str, params: dict[str, Any]) -> str | None: ...


def check_operations(reglament: Reglament, catalogue: OperationCatalogue) -> None:
    """Refuse a definition that asks ``catalogue.system`` for an operation it does not offer or
    with parameters it does not take: the file, the channel and step, the rule."""
    for channel, step in reglament.steps_of(catalogue.system):
        for name, params in step.calls:
            problem = catalogue.problem(name, params)
            if problem:
                raise ReglamentError(f"{reglament.path or reglament.id}: channel {channel.name}, step {step.key}: {problem}")


# ---- loading -------------------------------------------------------------------------------------

CASES_SUFFIX = ".cases.yaml"


def load_file(path: Path) -> Reglament:
    """Read one definition and the cases file beside it (``<stem>.cases.yaml``), if there is one."""
    try:
        data = yamltext.safe_load(path.read_text(encoding="utf-8"))
        if not isinstance(data, dict):
            raise ReglamentError(f"{path}: not a mapping of definition fields")
        cases_path = path.with_name(path.name.removesuffix(".yaml") + CASES_SUFFIX)
        if cases_path.is_file() and "cases" not in data:
            data["cases"] = (yamltext.safe_load(cases_path.read_text(encoding="utf-8")) or {}).get("cases", {})
        data["path"] = str(path)
        reglament = Reglament.model_validate(data)
    except ReglamentError:
        raise
    except ValidationError as exc:
        raise ReglamentError(f"{path}: {_validation_message(exc)}") from None
    except (yaml.YAMLError, ValueError, OSError) as exc:
        raise ReglamentError(f"{path}: {exc}") from None
    if reglament.id != path.name.removesuffix(".yaml"):
        raise ReglamentError(f"{path}: id {reglament.id!r} differs from the file name")
    return reglament


def _validation_message(exc: ValidationError) -> str:
    parts = []
    for error in exc.errors():
        where = ".".join(str(p) for p in error["loc"])
        message = error["msg"].removeprefix("Value error, ")
        parts.append(f"{where}: {message}" if where else message)
    return "; ".join(parts)


def definition_files(folder: Path) -> list[Path]:
    """The definitions in ``folder``: ``*.yaml`` except the cases files beside them."""
    return sorted(p for p in folder.iterdir() if p.name.endswith(".yaml") and not p.name.endswith(CASES_SUFFIX))


def load_folders(folders: list[Path]) -> dict[str, Reglament]:
    """Every definition of ``folders``, in order; an id defined twice is refused, naming both files."""
    found: dict[str, Reglament] = {}
    for folder in folders:
        if not folder.is_dir():
            raise ReglamentError(f"{folder}: not a folder of reglament definitions")
        for path in definition_files(folder):
            reglament = load_file(path)
            if reglament.id in found:
                raise ReglamentError(f"{path}: reglament {reglament.id!r} is already defined in {found[reglament.id].path}")
            found[reglament.id] = reglament
    return found
