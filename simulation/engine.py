"""The reglament engine: one interpreter walks every definition, whichever system runs it.

Each system that takes part in reglaments has an :class:`Engine`, built around the system's
:class:`Operations` (its package's ``operations.py``) and the object they work on (its service).
The engine walks a channel of a definition (:mod:`simulation.definition`) from step to step:

- a step of this system: the engine calls its operation(s) with a :class:`StepCall`, records the
  step in the trace (:mod:`simulation.trace`) at the virtual time it happened, and follows
  ``next`` -- or ``then``/``else`` on a condition's :class:`Verdict`;
- a step of another system: the walk stops here. The operation before it has sent that system
  its message through the gateway (a request, a result); the other system's engine takes the walk
  up from the same position, which lives in the run's store (:class:`CursorRow`);
- a step with a duration (a staff procedure, a seed step "within 2 minutes"): the engine sets a
  timer on the virtual clock for when the step is done, counted in the working hours of the
  system's office (:mod:`simulation.workhours`), and goes on when it fires -- or, where the
  system's people work by hand, when they say they did it (:meth:`Engine.resume` with
  ``event="staff"``);
- a step done ``during`` a staff procedure (the executor's check) happens when that procedure's
  time runs out, just before the procedure's own record;
- an operation that needs what has not happened yet (the citizen's signed request, the citizen
  coming for the result) answers :class:`Wait`; :meth:`Engine.resume` goes on when it happens.

System code names no step: it offers operations and starts or resumes walks.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import BigInteger, Column, Connection, Text, bindparam, delete, insert, select, update
from sqlmodel import Field

from simulation.clock import NOW_SUBQUERY, SimulationModel, Timer, TimerWorker, VirtualClock, from_us, to_us
from simulation.calendar import DurationUnit, to_local
from simulation.database import Database
from simulation.definition import Channel, Reglament, Step, StepKind

log = logging.getLogger(__name__)
TIMER_KIND = "reglament-step"
T = TypeVar("T")


# ---- operations ----------------------------------------------------------------------------------

TEXT_LANGS = ("kk", "ru", "en")
"""The languages of a text parameter: Kazakh as the seeds write it, Russian and English beside it."""


@dataclass
class StepCall:
    """What an operation is told when the engine calls it."""

    reglament: Reglament
    channel: Channel
    step: Step
    params: dict[str, Any]
    at: datetime
    """The virtual time the step happens."""
    application_id: str | None
    session_id: str | None
    inputs: dict[str, Any]
    """What the event that started or resumed the walk brought (a form, a signed document...);
    operations of one walk may leave things here for the steps after them."""
    memory: dict[str, Any]
    """Notes kept with the application's position across steps, walks and systems (JSON)."""
    verdict: bool | None
    """The verdict of the last condition."""

    def text_param(self, name: str) -> dict[str, str]:
        """The parameter ``name`` as a text in the three languages ``{kk, ru, en}``; anything
        else is a definition error naming the reglament, the channel, the step and the value."""
        value = self.params.get(name)
        if not (isinstance(value, dict) and all(isinstance(value.get(lang), str) for lang in TEXT_LANGS)):
            raise ValueError(f"{self.reglament.id}/{self.channel.name}: {self.step.label}: parameter {name!r} is "
                             f"{{kk, ru, en}}, not {value!r}")
        return {lang: value[lang] for lang in TEXT_LANGS}


@dataclass
class Done:
    """The step is done. ``detail`` goes to the trace; ``after`` runs once the step is recorded
    and the position moved on (typically the message that hands the walk to another system)."""

    detail: str = ""
    at: datetime | None = None
    remember: dict[str, Any] = field(default_factory=dict)
    after: Callable[[], Awaitable[None]] | None = None


@dataclass
class Verdict(Done):
    """A condition's answer: ``holds`` picks ``then``, else ``else``."""

    holds: bool = True


@dataclass
class Wait:
    """The step cannot be done yet: it waits for ``event`` (:meth:`Engine.resume`)."""

    event: str
    detail: str = ""


Result = Done | Verdict | Wait
OperationFunction = Callable[[Any, StepCall], Awaitable[Result]]


@dataclass(frozen=True)
class Operation:
    name: str
    function: OperationFunction
    summary: str
    params: dict[str, str]
    """Parameter name -> what it means."""
    required: tuple[str, ...]
    verdict: bool
    """Answers a condition's verdict."""


class Operations:
    """The catalogue of one system's operations; a package's ``operations.py`` fills it in."""

    def __init__(self, system: str, summary: str = "") -> None:
        self.system = system
        self.summary = summary
        self._operations: dict[str, Operation] = {}

    def operation(
        self, name: str, *, summary: str, params: dict[str, str] | None = None,
        required: tuple[str, ...] = (), verdict: bool = False,
    ) -> Callable[[OperationFunction], OperationFunction]:
        def register(function: OperationFunction) -> OperationFunction:
            if name in self._operations:
                raise ValueError(f"{self.system}: operation {name!r} registered twice")
            self._operations[name] = Operation(name, function, summary, dict(params or {}), required, verdict)
            return function

        return register

    def __iter__(self):
        return iter(self._operations.values())

    def __contains__(self, name: str) -> bool:
        return name in self._operations

    def get(self, name: str) -> Operation:
        return self._operations[name]

    def problem(self, name: str, params: dict[str, Any]) -> str | None:
        """Why ``name`` with ``params`` is not an operation this system offers, or None."""
        operation = self._operations.get(name)
        if operation is None:
            return (f"{self.system} has no operation {name!r} "
                    f"(it has: {', '.join(sorted(self._operations)) or 'none'})")
        unknown = sorted(set(params) - set(operation.params))
        if unknown:
            return (f"operation {name!r} of {self.system} takes no parameter {unknown[0]!r} "
                    f"(it takes: {', '.join(operation.params) or 'none'})")
        missing = [p for p in operation.required if p not in params]
        if missing:
            return f"operation {name!r} of {self.system} needs parameter {missing[0]!r}"
        return None


# ---- the position of each application ------------------------------------------------------------


class CursorRow(SimulationModel, table=True):
    """Where one application (or a portal session before it has one) stands in its reglament."""

    __tablename__ = "reglament_position"
    subject: str = Field(primary_key=True)
    application_id: str | None = Field(default=None, index=True)
    session_id: str | None = Field(default=None, index=True)
    reglament: str
    channel: str
    step_key: str
    system: str
    state: str
    """``walking``, ``waiting`` (for ``event``), ``timed`` (a timer runs), ``handed-over`` (the
    step is another system's), ``done``, or ``failed`` (an operation failed when its time came:
    ``event`` says why)."""
    event: str | None = None
    elapsed_key: str | None = None
    """A timed step whose time has run out (its work is next)."""
    verdict: bool | None = None
    outcome: str | None = None
    memory: str = Field(default="{}", sa_column=Column(Text, nullable=False))
    updated_us: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))


_CURSOR_COLUMNS = tuple(column.name for column in CursorRow.__table__.columns if column.name != "subject")


@dataclass(slots=True)
class _Cursor:
    """A walk's position as the engine holds it between reads and writes: :class:`CursorRow`'s
    columns in a plain object (a table model costs several times as much to make and to change,
    at every step of every application)."""

    subject: str
    reglament: str
    channel: str
    step_key: str
    system: str
    state: str
    application_id: str | None = None
    session_id: str | None = None
    event: str | None = None
    elapsed_key: str | None = None
    verdict: bool | None = None
    outcome: str | None = None
    memory: str = "{}"
    updated_us: int = 0

# The position's statements, built once: every step of every application reads or writes its
# position, and an ORM statement built at each call costs three to four times a prebuilt one
# (docs/performance.md, "Whole applications").
_POSITIONS = CursorRow.__table__
_READ = select(_POSITIONS).where(_POSITIONS.c.subject == bindparam("at_subject"))
_ADD = insert(_POSITIONS)
# a position is stamped with the run's virtual time by the statement that writes it (the clock's row
# is in the same store): no read of the clock of its own before every step's write
_SAVE = update(_POSITIONS).where(_POSITIONS.c.subject == bindparam("at_subject")).values(
    {**{column: bindparam(column) for column in _CURSOR_COLUMNS if column != "updated_us"}, "updated_us": NOW_SUBQUERY}
).returning(_POSITIONS.c.updated_us)
_SAVE_NEW = insert(_POSITIONS).values(updated_us=NOW_SUBQUERY).returning(_POSITIONS.c.updated_us)
_REMOVE = delete(_POSITIONS).where(_POSITIONS.c.subject == bindparam("at_subject"))


@dataclass(frozen=True)
class Position:
    application_id: str | None
    session_id: str | None
    reglament: str
    channel: str
    step_key: str
    system: str
    state: str
    event: str | None
    outcome: str | None
    memory: dict[str, Any]

    @property
    def done(self) -> bool:
        return self.state == "done"


def _position(row: _Cursor) -> Position:
    return Position(row.application_id, row.session_id, row.reglament, row.channel, row.step_key, row.system,
                    row.state, row.event, row.outcome, json.loads(row.memory))


def _subject(application_id: str | None, session_id: str | None) -> str:
    if application_id:
        return application_id
    if session_id:
        return f"session:{session_id}"
    raise ValueError("a walk needs an application or a session")


class EngineError(RuntimeError):
    """A walk asked for something its position does not allow (the wrong system, a step not due)."""


class Engine:
    def __init__(
        self,
        system: str,
        operations: Operations,
        target: Any,
        *,
        tracer: Any,
        clock: VirtualClock,
        timers: TimerWorker,
        store: Database,
        reglaments: Callable[[str], Reglament],
        works_by_hand: Callable[[Step], bool] = lambda step: False,
    ) -> None:
        if operations.system != system:
            raise ValueError(f"operations of {operations.system} given to the engine of {system}")
        self.system = system
        self.operations = operations
        self.target = target
        self.tracer = tracer
        self.clock = clock
        self.store = store
        self.reglaments = reglaments
        self.works_by_hand = works_by_hand
        timers.on(TIMER_KIND, self._on_timer)

    # ---- public -------------------------------------------------------------------------------

    async def start(
        self, reglament: Reglament, channel: str, *, application_id: str | None = None,
        session_id: str | None = None, inputs: dict[str, Any] | None = None,
        memory: dict[str, Any] | None = None, at: datetime | None = None,
    ) -> Position:
        """Begin a walk of ``channel`` at its first step (which must be this system's)."""
        chosen = reglament.channel(channel)
        row = _Cursor(
            subject=_subject(application_id, session_id), application_id=application_id, session_id=session_id,
            reglament=reglament.id, channel=chosen.name, step_key=chosen.first.key, system=chosen.first.system or "",
            state="walking", memory=json.dumps(memory or {}, ensure_ascii=False),
        )
        if row.system != self.system:
            raise EngineError(f"{reglament.id}/{channel} starts at {chosen.first.label}, a step of {row.system}")
        await self._add(row)
        return await self._walk(row.subject, at=at, inputs=inputs or {}, event=None, row=row)

    async def resume(
        self, *, application_id: str | None = None, session_id: str | None = None, event: str | None = None,
        inputs: dict[str, Any] | None = None, at: datetime | None = None,
    ) -> Position:
        """Go on with a walk that waits here: for ``event``, or handed over to this system."""
        subject = _subject(application_id, session_id)
        row = await self._row(subject)
        if row is None:
            raise EngineError(f"no walk for {subject}")
        return await self._resume(row, event=event, inputs=inputs, at=at)

    async def _resume(self, row: _Cursor, *, event: str | None, inputs: dict[str, Any] | None,
                      at: datetime | None) -> Position:
        subject = row.subject
        if row.state == "done":
            return _position(row)
        if row.system != self.system:
            raise EngineError(f"{subject} stands at {row.step_key}, a step of {row.system}, not of {self.system}")
        if row.state == "waiting" and event != row.event:
            raise EngineError(f"{subject} waits for {row.event!r} at {row.step_key}, not for {event!r}")
        if row.state == "timed" and event != "staff":
            raise EngineError(f"{subject} waits for the time of {row.step_key} to run out")
        return await self._walk(subject, at=at, inputs=inputs or {}, event=event, row=row)

    async def take_up(
        self, reglament: Reglament, channel: str, *, application_id: str, event: str | None = None,
        inputs: dict[str, Any] | None = None, at: datetime | None = None,
    ) -> Position:
        """Take up an application that reached this system by a message (a request, a result):
        go on from where its walk was handed over to this system. When no walk is known (the
        sender is a tester's own system, or a mock), start one at the first step of this system
        that follows another system's step in the channel -- where a message enters it."""
        row = await self._row(_subject(application_id, None))
        if row is not None:
            return await self._resume(row, event=event, inputs=inputs, at=at)
        chosen = reglament.channel(channel)
        entry = entry_step(chosen, self.system)
        if entry is None:
            raise EngineError(f"{reglament.id}/{channel}: no step of {self.system} takes a message")
        row = _Cursor(
            subject=application_id, application_id=application_id, reglament=reglament.id, channel=chosen.name,
            step_key=entry.key, system=self.system, state="walking",
        )
        await self._add(row)
        return await self._walk(application_id, at=at, inputs=inputs or {}, event=event, row=row)

    async def bind(self, session_id: str, application_id: str) -> bool:
        """Give a session's walk (and its trace) to the application it created; False when the
        session's walk already went to an earlier application, or there is none."""
        def move(connection: Connection) -> bool:
            found = connection.execute(_READ, {"at_subject": _subject(None, session_id)}).mappings().first()
            if found is None or found["application_id"] is not None:
                return False
            connection.execute(_REMOVE, {"at_subject": found["subject"]})
            connection.execute(_ADD, {**found, "subject": application_id, "application_id": application_id})
            return True

        if not await self.store.run(move):
            return False
        await self.tracer.bind_session(session_id, application_id)
        return True

    async def position(self, *, application_id: str | None = None, session_id: str | None = None) -> Position | None:
        row = await self._row(_subject(application_id, session_id))
        return _position(row) if row else None

    # ---- the walk -------------------------------------------------------------------------------

    async def _row(self, subject: str) -> _Cursor | None:
        return await _read_row(self.store, subject)

    async def _save(self, row: _Cursor, first: Callable[[Connection], T] | None = None) -> T | None:
        """Write ``row`` over its stored self, stamped with the virtual time of the write: one
        UPDATE (a merge would read the row first, a SELECT at every step of every application),
        an INSERT only where none is stored. ``first``: a unit's work on the store to do before,
        in the same transaction (the step's trace record, the walk's timer); what it gives is
        returned."""
        values = {column: getattr(row, column) for column in _CURSOR_COLUMNS if column != "updated_us"}

        def write(connection: Connection) -> tuple[T | None, int]:
            given = first(connection) if first is not None else None
            stamped = connection.execute(_SAVE, {"at_subject": row.subject, **values}).scalar()
            if stamped is None:
                stamped = connection.execute(_SAVE_NEW, {"subject": row.subject, **values}).scalar_one()
            return given, stamped

        given, row.updated_us = await self.store.run(write)
        return given

    async def _add(self, row: _Cursor) -> None:
        """Store a new walk's position."""
        values = {column: getattr(row, column) for column in _POSITIONS.columns.keys()}
        await self.store.run(lambda connection: connection.execute(_ADD, values))

    async def _walk(self, subject: str, *, at: datetime | None, inputs: dict[str, Any], event: str | None,
                    taken: datetime | None = None, since: datetime | None = None,
                    row: _Cursor | None = None) -> Position:
        """Walk on from where ``subject`` stands: ``row``, its position as the caller just read or
        wrote it (read here when not given)."""
        row = row or await self._row(subject)
        assert row is not None
        reglament = self.reglaments(row.reglament)
        channel = reglament.channel(row.channel)
        memory = json.loads(row.memory)
        moment = at or await self.clock.now()
        while True:
            step = channel.step(row.step_key)
            row.system = step.system or ""
            if step.system != self.system:
                row.state, row.event = "handed-over", None
                await self._save(row)
                return _position(row)
            timed_key = step.during or (step.key if step.duration else None)
            if timed_key and row.elapsed_key != timed_key:
                timed = channel.step(timed_key)
                if self.works_by_hand(timed):
                    if event != "staff":
                        row.state, row.event = "waiting", "staff"
                        await self._save(row)
                        return _position(row)
                    row.elapsed_key, event = timed_key, None  # a person did it now
                else:
                    hours = reglament.schedule_of(timed.hours or timed.system or self.system)
                    due = hours.add(timed.duration, moment)
                    if timed.duration.unit is DurationUnit.times_per_working_day:  # waits for the next run
                        await self._schedule(row, timed_key, due, since=moment)
                        return _position(row)
                    taken = hours.next_opening(moment)
                    await self._schedule(row, timed_key, due, taken if taken > moment else None)
                    return _position(row)
            elif step.office_hours and row.elapsed_key != step.key:
                opening = reglament.schedule_of(step.hours or self.system).next_opening(moment)
                if opening > moment:
                    await self._schedule(row, step.key, opening)
                    return _position(row)
            calls = step.calls
            call = StepCall(reglament, channel, step, {}, moment, row.application_id, row.session_id,
                            inputs, memory, row.verdict)
            details: list[str] = []
            done: Done = Done()
            afters = []
            for name, params in calls:
                call.params = params
                result = await self.operations.get(name).function(self.target, call)
                if isinstance(result, Wait):
                    row.state, row.event = "waiting", result.event
                    row.memory = json.dumps(memory, ensure_ascii=False)
                    await self._save(row)
                    return _position(row)
                done = result if isinstance(result, Verdict) or not isinstance(done, Verdict) else done
                memory.update(result.remember)
                if result.detail:
                    details.append(result.detail)
                if result.after is not None:
                    afters.append(result.after)
            holds = done.holds if isinstance(done, Verdict) else None
            if step.branches and holds is None:
                raise EngineError(f"{reglament.id}/{channel.name}: {step.label}: operation gave no verdict")
            recorded_at = done.at or moment
            outcome = "done" if step.kind is not StepKind.condition else ("true" if holds else "false")
            detail = "; ".join([d.rstrip(".") for d in details[:-1]] + details[-1:])  # "… шешім қабылдады; алынғаны …"
            if step.actor is not None and step.duration is not None:  # a staff procedure: who, how long
                who = f"{reglament.actors[step.actor].kk}, {step.duration.kazakh()}"
                detail = f"{who}: {detail}" if detail else who
            if taken is not None and step.key == row.elapsed_key:  # it came while the office was closed
                opened = f"жұмыс уақыты басталғанда қабылданды: {to_local(taken):%Y-%m-%d %H:%M}"
                detail = f"{detail} ({opened})" if detail else opened
                taken = None
            if since is not None and row.elapsed_key in (step.key, step.during):  # waited for the next run
                waited = f"{to_local(since):%Y-%m-%d %H:%M} бастап кезекті жөнелтуді күтті"
                detail = f"{detail} ({waited})" if detail else waited
                since = None
            record = self.tracer.adding(  # written with the walk's next position, in one transaction
                reglament, channel.name, step.key, system=self.system, outcome=outcome, detail=detail,
                application_id=row.application_id, session_id=None if row.application_id else row.session_id,
                at=recorded_at,
            )
            if row.elapsed_key == step.key:
                row.elapsed_key = None
            if step.branches:
                row.verdict = holds
            row.memory = json.dumps(memory, ensure_ascii=False)
            if step.outcome:
                row.state, row.outcome, row.event = "done", step.outcome, None
                await self._save(row, first=record)
                for after in afters:
                    await after()
                return _position(row)
            row.step_key = (step.then if holds else step.else_) if step.branches else step.next  # type: ignore[assignment]
            following = channel.step(row.step_key)
            row.system = following.system or ""
            row.state = "walking" if following.system == self.system else "handed-over"
            row.event = None
            await self._save(row, first=record)
            for after in afters:
                await after()
            if afters:  # the message may have moved the walk on elsewhere
                fresh = await self._row(subject)
                assert fresh is not None
                if (fresh.step_key, fresh.state) != (row.step_key, row.state):
                    return _position(fresh)
            if following.system != self.system:
                return _position(row)
            moment, event = max(moment, recorded_at), None  # a step stamped earlier (a log-in) does not turn the walk back

    async def _schedule(self, row: _Cursor, key: str, due: datetime, taken: datetime | None = None,
                        since: datetime | None = None) -> None:
        """Wake the walk at ``due``; ``taken``: the office was closed when the step came to it and
        took it up then; ``since``: the step waited from then for the next run of an "N times a
        working day" rhythm (a courier, a collecting department). The trace says so."""
        row.state, row.event = "timed", None
        payload: dict[str, Any] = {"subject": row.subject, "key": key}
        if taken is not None:
            payload["taken_us"] = to_us(taken)
        if since is not None:
            payload["since_us"] = to_us(since)
        timer = self.clock.adding_timer(self.system, TIMER_KIND, due, payload, application_id=row.application_id)
        _, due_now = await self._save(row, first=timer)  # type: ignore[misc]  # the position and its timer together
        if due_now:
            self.clock.wake(self.system)

    async def _on_timer(self, timer: Timer) -> None:
        subject, key = str(timer.payload["subject"]), str(timer.payload["key"])
        row = await self._row(subject)
        if row is None or row.state != "timed":
            log.info("reglament timer for %s (%s) finds nothing waiting", subject, key)
            return
        row.elapsed_key = key
        row.state = "walking"
        await self._save(row)
        taken = from_us(int(timer.payload["taken_us"])) if "taken_us" in timer.payload else None
        since = from_us(int(timer.payload["since_us"])) if "since_us" in timer.payload else None
        try:
            await self._walk(subject, at=timer.due, inputs={}, event=None, taken=taken, since=since, row=row)
        except Exception as exc:
            # the timer is reported failed by the worker; the position says where and why
            stuck = await self._row(subject)
            if stuck is not None and stuck.state != "done":
                stuck.state, stuck.event = "failed", f"{type(exc).__name__}: {exc}"[:500]
                await self._save(stuck)
            raise


def entry_step(channel: Channel, system: str) -> Step | None:
    """The first step of ``system`` that follows a step of another system (where a message from
    that system enters it)."""
    for step in channel.steps:
        for following in step.successors:
            target = channel.step(following)
            if step.system != system and target.system == system:
                return target
    return None


def describe(position: Position | None) -> dict[str, Any] | None:
    """A position as the APIs show it."""
    if position is None:
        return None
    return {"step": position.step_key, "system": position.system, "state": position.state,
            "waitingFor": position.event, "outcome": position.outcome}


async def read_position(store: Database, application_id: str) -> Position | None:
    """Where an application stands, read from the run's store by anyone (the control app)."""
    row = await _read_row(store, _subject(application_id, None))
    return _position(row) if row else None


async def _read_row(store: Database, subject: str) -> _Cursor | None:
    found = await store.run(lambda connection: connection.execute(_READ, {"at_subject": subject}).mappings().first(),
                            write=False)
    return None if found is None else _Cursor(**found)


__all__ = [
    "Done", "Engine", "EngineError", "Operation", "Operations", "Position", "StepCall", "Verdict", "Wait",
    "describe", "entry_step", "read_position",
]
