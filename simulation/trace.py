"""The trace: every numbered reglament step any system performs, in one place.

Each record names the application, the reglament and channel, the step (kind, number, the Kazakh
label), the system that performed it, the virtual time, the outcome and a short detail. Records
live in the run's simulation store, so the whole trace of one application is read with one query
whichever systems and processes took part.

Steps taken before an application exists (the citizen's log-in on the portal) are recorded under
the session; :meth:`Tracer.bind_session` hands them to the application the session then creates.

The tracer holds systems to their reglament: a step is accepted only if the definition lets it
follow the application's previous step, so code cannot drift from the definition unnoticed.
"""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Column, Connection, Row, Select, Text, and_, bindparam, func, insert, or_, update
from sqlalchemy import select as core_select
from sqlmodel import Field, select

from simulation.calendar import to_local
from simulation.clock import SimulationModel, VirtualClock, from_us, to_us
from simulation.database import Database
from simulation.definition import Reglament, Step


class TraceRow(SimulationModel, table=True):
    __tablename__ = "trace"
    id: int | None = Field(default=None, primary_key=True)
    application_id: str | None = Field(default=None, index=True)
    session_id: str | None = Field(default=None, index=True)
    reglament: str
    channel: str
    kind: str
    number: int
    label: str
    step_key: str
    system: str
    sim_us: int = Field(sa_column=Column(BigInteger, nullable=False))
    outcome: str
    detail: str = Field(default="", sa_column=Column(Text, nullable=False))


@dataclass(frozen=True)
class TraceEvent:
    application_id: str | None
    reglament: str
    channel: str
    kind: str
    number: int
    label: str
    step_key: str
    system: str
    sim_time: datetime
    outcome: str
    detail: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "application_id": self.application_id,
            "reglament": self.reglament,
            "channel": self.channel,
            "kind": self.kind,
            "number": self.number,
            "label": self.label,
            "step": self.step_key,
            "system": self.system,
            "sim_time": to_local(self.sim_time).isoformat(),
            "outcome": self.outcome,
            "detail": self.detail,
        }


def _event(row: TraceRow | Row | _NewStep) -> TraceEvent:
    return TraceEvent(
        row.application_id, row.reglament, row.channel, row.kind, row.number, row.label,
        row.step_key, row.system, from_us(row.sim_us), row.outcome, row.detail,
    )


class ReglamentViolation(RuntimeError):
    """A system tried to perform a step its reglament does not allow at this point."""


class Tracer:
    def __init__(self, store: Database, clock: VirtualClock) -> None:
        self.store = store
        self.clock = clock

    async def record(
        self, reglament: Reglament, channel: str, step_key: str, *, at: datetime | None = None, **fields: Any
    ) -> TraceEvent:
        """Record that ``system`` performed ``step_key`` of the reglament's channel: the fields as
        :meth:`adding` takes them, ``at`` the clock's time if not given."""
        return await self.store.run(self.adding(reglament, channel, step_key, at=at or await self.clock.now(), **fields))

    def adding(
        self,
        reglament: Reglament,
        channel: str,
        step_key: str,
        *,
        system: str,
        at: datetime,
        outcome: str = "done",
        detail: str = "",
        application_id: str | None = None,
        session_id: str | None = None,
    ) -> Callable[[Connection], TraceEvent]:
        """:meth:`record` as a unit's work on the store (``Database.run``), for a caller that
        writes more in the same transaction (the engine: the step and where the walk stands
        after it, together); it raises :class:`ReglamentViolation` in the unit."""
        if application_id is None and session_id is None:
            raise ValueError("a trace record needs an application or a session")
        step: Step = reglament.channel(channel).step(step_key)
        if step.system != system:
            raise ReglamentViolation(
                f"{reglament.id}/{channel}: {step.label} is performed by {step.system}, "
                f"not by {system}"
            )
        newest_query = _steps(application_id is not None, session_id is not None, newest_first=True, limit=1)

        def add(connection: Connection) -> TraceEvent:  # the last step read and the new one added in one transaction
            newest = connection.execute(newest_query, {"of_application": application_id,
                                                       "of_session": session_id}).first()
            previous = _event(newest) if newest is not None else None
            row = self._checked_row(reglament, channel, step, system, previous, outcome, detail,
                                    application_id, session_id, at)
            connection.execute(_ADD, row._asdict())
            return _event(row)

        return add

    @staticmethod
    def _checked_row(
        reglament: Reglament, channel: str, step: Step, system: str, previous: TraceEvent | None, outcome: str,
        detail: str, application_id: str | None, session_id: str | None, moment: datetime,
    ) -> _NewStep:
        """The row of ``step`` after ``previous``; :class:`ReglamentViolation` if it may not follow it."""
        step_key = step.key
        if previous is None:
            steps = reglament.channel(channel).steps
            entered = any(step_key in s.successors and s.system != system for s in steps)
            if step_key != steps[0].key and not entered:  # a message from another system enters at `entered`
                raise ReglamentViolation(
                    f"{reglament.id}/{channel}: an application cannot start with {step.label}"
                )
        else:
            allowed = reglament.channel(channel).step(previous.step_key).successors
            if step_key not in allowed:
                raise ReglamentViolation(
                    f"{reglament.id}/{channel}: {step.label} cannot follow {previous.label}"
                )
        return _NewStep(
            application_id=application_id,
            session_id=session_id,
            reglament=reglament.id,
            channel=channel,
            kind=step.kind.value,
            number=step.number,
            label=step.label,
            step_key=step.key,
            system=system,
            sim_us=to_us(moment),
            outcome=outcome,
            detail=detail,
        )

    async def last(
        self, *, application_id: str | None = None, session_id: str | None = None
    ) -> TraceEvent | None:
        rows = await self._rows(application_id, session_id, newest_first=True, limit=1)
        return _event(rows[0]) if rows else None

    async def bind_session(self, session_id: str, application_id: str) -> int:
        """Give the steps recorded under a session to the application it created; how many.

        Only steps no application has taken yet move: the session's first application gets
        them (0 for any later one, which then records its own start)."""
        bound = await self.store.run(lambda connection: connection.execute(
            _BIND, {"of_session": session_id, "new_application": application_id}).rowcount)
        return bound or 0

    async def for_application(self, application_id: str) -> list[TraceEvent]:
        return [_event(r) for r in await self._rows(application_id, None)]

    async def for_session(self, session_id: str) -> list[TraceEvent]:
        """Steps taken in a session that created no application (a refused log-in)."""
        return [_event(r) for r in await self._rows(None, session_id)]

    async def applications(self, limit: int = 50) -> list[dict[str, Any]]:
        """The applications of the run, the one whose latest step is newest first: for each its
        ``application_id``, ``reglament``, ``channel``, ``started_at`` and ``last_at`` (virtual
        times of its first and latest step), ``last_label`` (the seed's label of the latest step)
        and ``steps`` (how many). Steps of a session that made no application are not listed."""
        last_us = func.max(TraceRow.sim_us).label("last_us")
        summary = (
            select(
                TraceRow.application_id, func.min(TraceRow.reglament).label("reglament"),
                func.min(TraceRow.channel).label("channel"), func.min(TraceRow.sim_us).label("first_us"),
                last_us, func.count(TraceRow.id).label("steps"), func.max(TraceRow.id).label("last_id"),
            )
            .where(TraceRow.application_id.is_not(None))
            .group_by(TraceRow.application_id)
            .order_by(last_us.desc(), func.max(TraceRow.id).desc())
            .limit(max(1, limit))
            .subquery()
        )
        # the latest step's label: the row at the application's latest virtual time, the last recorded
        latest = (
            select(summary, TraceRow.label, TraceRow.id)
            .join(TraceRow, and_(TraceRow.application_id == summary.c.application_id,
                                 TraceRow.sim_us == summary.c.last_us))
            .order_by(summary.c.last_us.desc(), summary.c.last_id.desc(), TraceRow.id)
        )
        async with self.store.session() as session:
            rows = (await session.exec(latest)).all()
        found: dict[str, dict[str, Any]] = {}
        for row in rows:  # several rows at the latest time: the last recorded (highest id) wins
            found[row.application_id] = {
                "application_id": row.application_id, "reglament": row.reglament, "channel": row.channel,
                "started_at": from_us(row.first_us), "last_at": from_us(row.last_us),
                "last_label": row.label, "steps": row.steps,
            }
        return list(found.values())

    async def _rows(
        self,
        application_id: str | None,
        session_id: str | None,
        *,
        newest_first: bool = False,
        limit: int | None = None,
    ) -> list[Row]:
        """The steps' rows (read as :class:`TraceRow`'s columns)."""
        query = _steps(application_id is not None, session_id is not None, newest_first=newest_first, limit=limit)
        return await self.store.run(
            lambda connection: list(connection.execute(query, {"of_application": application_id,
                                                               "of_session": session_id}).all()),
            write=False,
        )


_TRACE = TraceRow.__table__
_ADD = insert(_TRACE)
_BIND = (
    update(_TRACE)
    .where(_TRACE.c.session_id == bindparam("of_session"), _TRACE.c.application_id.is_(None))
    .values(application_id=bindparam("new_application"))
)
_COLUMNS = tuple(column.name for column in _TRACE.columns if column.name != "id")
_NewStep = namedtuple("_NewStep", _COLUMNS)  # type: ignore[misc]
"""A step's row before it is stored (a table model costs several times as much to make)."""


@lru_cache(maxsize=None)
def _steps(by_application: bool, by_session: bool, *, newest_first: bool = False,
           limit: int | None = None) -> Select:
    """The steps of an application or of a session (either, ``of_application`` and
    ``of_session`` given at execution), in the order they were taken or newest first: built once
    for each shape -- every step of every application reads the step before it (an ORM statement
    built at each call costs several times a prebuilt one)."""
    conditions = []
    if by_application:
        conditions.append(_TRACE.c.application_id == bindparam("of_application"))
    if by_session:
        conditions.append(_TRACE.c.session_id == bindparam("of_session"))
    query = core_select(_TRACE).where(or_(*conditions))
    if newest_first:
        query = query.order_by(_TRACE.c.sim_us.desc(), _TRACE.c.id.desc())
    else:
        query = query.order_by(_TRACE.c.sim_us, _TRACE.c.id)
    return query.limit(limit) if limit else query
