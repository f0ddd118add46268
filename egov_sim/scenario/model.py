"""The scenario file: what a tester writes (YAML), read into checked models.

A file holds one scenario, several under ``scenarios:``, or several YAML documents (``---``). Each says

- ``given``: the world it starts from -- a snapshot, records the registries hold (people,
  families, powers of attorney, dwellings, incomes), faults on the way, the staff working by hand;
- ``when``: an application through a reglament's channel -- who applies, with which key and
  certificate, which documents and form fields, what the staff do step by step, whether the
  citizen signs what the cabinet asks them to sign;
- ``then``: what must come of it -- the outcome, the steps in order as the seed labels them,
  fields of the result, the term met, the gateway messages.

docs/testers.md is the guide; every field below is in it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError, model_validator

from egov_sim.faults import FaultSpec
from egov_sim.given import GivenRecords
from reglaments import ReglamentError, get_reglament
from simulation.definition import Case
from simulation.topology import SYSTEMS

SUFFIXES = (".yaml", ".yml")


class ScenarioFileError(ValueError):
    """A scenario file that cannot be read: says which file, which scenario and which field."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class StaffAction(_Strict):
    """One staff procedure performed by hand (the provider's workstation in manual mode)."""

    step: int = Field(description="the procedure's number in the reglament's section 2 (5-тармақ, N))")
    executor: str | None = None
    decision: Literal["approve", "refuse"] | None = None
    ground: dict[str, str] | None = None
    after: str | None = Field(default=None, description='virtual time to let pass first, e.g. "2 hours" '
                                                          "(default: the procedure's own duration)")


class Given(_Strict):
    snapshot: str | None = Field(default=None, description="start from this snapshot (egov-sim snapshot save NAME)")
    clock: AwareDatetime | None = Field(
        default=None, description="the virtual time the world starts at, with its UTC offset, e.g. "
                                  "2026-03-16T09:00:00+05:00 (default: now); a fixed start makes the terms repeatable")
    registries: GivenRecords | None = Field(
        default=None, description="records the registries hold besides their own: persons, powers of attorney, "
                                  "address histories, dwellings, incomes, tenancies (the shape of registries/fixtures.yaml)")
    faults: list[FaultSpec] = Field(default=[], description="faults in force while the application runs "
                                                            "(egov_sim.faults.FaultSpec; cleared after it)")
    provider_staff: Literal["auto", "manual"] = Field(
        default="auto", description="manual: the provider's staff procedures wait for `when.staff`")


class When(_Strict):
    reglament: str
    channel: str
    case: str | None = Field(default=None, description="start from a named case of the definition; the fields "
                                                       "below override it")
    applicant: str | None = None
    signer: str | None = None
    certificate: Literal["valid", "revoked", "expired", "wrong-iin"] | None = None
    password: Literal["right", "wrong"] | None = None
    omit_documents: list[str] | None = None
    queue_list: str | None = None
    form: dict[str, Any] | None = None
    citizen_signs: bool | None = None
    staff: list[StaffAction] = Field(default=[], description="the staff procedures performed by hand, in order "
                                                              "(given.provider_staff: manual)")
    restart: list[str] = Field(default=[], description="systems restarted once the application is filed, before time "
                                                        "runs on (in one process only): the application must complete")


class MessageExpectation(_Strict):
    serviceId: str
    sender: str | None = None
    recipient: str | None = None
    status: str | None = None


class Then(_Strict):
    outcome: Literal["approved", "refused", "rejected"] | None = None
    steps: list[str] | None = Field(default=None, description="every step of the trace, in order, by the seed's labels")
    result: dict[str, Any] = Field(default={}, description="fields of the result document (dotted paths) and "
                                                            "their values")
    signature: str | None = Field(default=None, description="the result signature's verdict code, e.g. VALID")
    refusal_contains: str | None = Field(default=None, description="text the refusal contains (any language): the "
                                                                    "receipt of a stop, or the provider's refusal document")
    term_met: bool | None = None
    messages: list[MessageExpectation] = Field(default=[], description="gateway messages that must be among the "
                                                                          "application's, in this order")


class Scenario(_Strict):
    name: str = ""
    description: str = ""
    given: Given = Given()
    when: When
    then: Then = Then()
    source: str = Field(default="", exclude=True)
    """The file (and, for a file of several, the index) it was read from."""

    @model_validator(mode="after")
    def _check_against_definition(self) -> Scenario:
        try:
            reglament = get_reglament(self.when.reglament)
        except ReglamentError as exc:
            raise ValueError(f"when.reglament: {exc}") from None
        if self.when.channel not in reglament.channels:
            raise ValueError(f"when.channel: reglament {reglament.id} has no channel {self.when.channel!r} "
                             f"(it has: {', '.join(reglament.channels)})")
        if self.when.case is not None:
            cases = reglament.cases.get(self.when.channel, {})
            if self.when.case not in cases:
                raise ValueError(f"when.case: channel {self.when.channel} has no case {self.when.case!r} "
                                 f"(it has: {', '.join(cases) or 'none'})")
        channel = reglament.channel(self.when.channel)
        labels = {s.label for s in channel.steps}
        unknown = [label for label in self.then.steps or [] if label not in labels]
        if unknown:
            raise ValueError(f"then.steps: {', '.join(map(repr, unknown))} is no step of {reglament.id} / "
                             f"{self.when.channel} (its steps: {', '.join(dict.fromkeys(s.label for s in channel.steps))})")
        numbers = {p.number for p in reglament.staff_steps}
        for index, action in enumerate(self.when.staff):
            if action.step not in numbers:
                raise ValueError(f"when.staff[{index}].step: {action.step} is no staff procedure of {reglament.id} "
                                 f"(they are {', '.join(map(str, sorted(numbers)))})")
        for index, system in enumerate(self.when.restart):
            if system not in SYSTEMS:
                raise ValueError(f"when.restart[{index}]: {system!r} is no system of the run ({', '.join(SYSTEMS)})")
        if self.when.staff and self.given.provider_staff != "manual":
            raise ValueError("when.staff: staff procedures are performed by hand only with given.provider_staff: manual")
        return self

    def case(self) -> Case:
        """The definition's :class:`Case` the run plays: the named case, with ``when``'s fields over it."""
        reglament = get_reglament(self.when.reglament)
        base = reglament.cases[self.when.channel][self.when.case] if self.when.case else Case()
        changes = {k: v for k, v in self.when.model_dump(exclude={"reglament", "channel", "case", "staff", "restart"}).items()
                   if v is not None}
        if changes.get("certificate") == "wrong-iin":  # signed with another person's key: their ЖСН differs
            changes["certificate"] = "valid"
            changes.setdefault("signer", "other")
        return base.model_copy(update=changes)

    def expected(self) -> Then:
        """``then``, with the named case's own expectations where ``then`` says nothing."""
        if not self.when.case:
            return self.then
        expect = get_reglament(self.when.reglament).cases[self.when.channel][self.when.case].expect
        filled = self.then.model_copy()
        if filled.outcome is None and "outcome" in expect:
            filled.outcome = expect["outcome"]
        if filled.steps is None and "steps" in expect:
            filled.steps = list(expect["steps"])
        if not filled.result and "result" in expect:
            filled.result = dict(expect["result"])
        return filled


def _scenarios_in(document: Any, source: str) -> list[dict[str, Any]]:
    if isinstance(document, dict) and "scenarios" in document:
        items = document["scenarios"]
        if not isinstance(items, list):
            raise ScenarioFileError(f"{source}: `scenarios` must be a list of scenarios")
        return [dict(item, source=f"{source}#{i + 1}") if isinstance(item, dict) else item
                for i, item in enumerate(items)]
    if isinstance(document, dict):
        return [dict(document, source=source)]
    raise ScenarioFileError(f"{source}: a scenario file holds a mapping (given / when / then), not {type(document).__name__}")


def _where(error: dict[str, Any]) -> str:
    return ".".join(str(p) for p in error["loc"]) or "scenario"


def load_file(path: Path) -> list[Scenario]:
    """The scenarios of one file; a :class:`ScenarioFileError` naming the file, the scenario and the
    field when one is not right."""
    try:
        documents = [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d is not None]
    except OSError as exc:
        raise ScenarioFileError(f"{path}: cannot be read ({exc.strerror})") from None
    except UnicodeDecodeError as exc:
        raise ScenarioFileError(f"{path}: is not UTF-8 text (byte {exc.start})") from None
    except yaml.YAMLError as exc:
        raise ScenarioFileError(f"{path}: not YAML: {exc}") from None
    if not documents:
        raise ScenarioFileError(f"{path}: holds no scenario")
    items = [item for document in documents for item in _scenarios_in(document, str(path))]
    if len(documents) > 1:  # documents separated by `---`: numbered as a list's scenarios are
        items = [dict(item, source=f"{path}#{i + 1}") if isinstance(item, dict) else item
                 for i, item in enumerate(items)]
    if not items:
        raise ScenarioFileError(f"{path}: holds no scenario (`scenarios:` is empty)")
    found = []
    for item in items:
        if not isinstance(item, dict):
            raise ScenarioFileError(f"{path}: each scenario is a mapping (given / when / then)")
        source = item["source"]
        item.setdefault("name", Path(source.split("#")[0]).stem + (f" #{source.split('#')[1]}" if "#" in source else ""))
        try:
            found.append(Scenario.model_validate(item))
        except ValidationError as exc:
            problems = "; ".join(f"{_where(e)}: " * bool(e["loc"]) + e["msg"].removeprefix("Value error, ")
                                 for e in exc.errors())
            raise ScenarioFileError(f"{source} ({item.get('name')}): {problems}") from None
    return found


def collect(paths: list[Path]) -> list[Scenario]:
    """The scenarios of files and folders (searched for *.yaml, *.yml), in path order."""
    found: list[Scenario] = []
    for path in paths:
        if path.is_dir():
            files = sorted(p for p in path.rglob("*") if p.suffix in SUFFIXES and p.is_file())
            if not files:
                raise ScenarioFileError(f"{path}: a folder with no scenario files (*.yaml)")
            for file in files:
                found.extend(load_file(file))
        elif path.exists():
            found.extend(load_file(path))
        else:
            raise ScenarioFileError(f"{path}: no such file or folder")
    return found
