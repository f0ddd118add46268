"""The control app's routes: read and move the virtual clock, see the timers, read a trace.

Moving the clock changes the run for every system: the administrator's (:data:`ADMIN`). The
timers, a trace and a position name applications and their applicants' steps: the auditor's or
the administrator's (:data:`AUDIT`). The time now and the systems' addresses are anyone's."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from control.schemas import Advance
from control.texts import no_trace
from reglaments import ReglamentError, get_reglament
from runtime import Runtime
from simulation.access import ADMIN, AUDIT
from simulation.calendar import Duration, to_local
from simulation.clock import ClockError, ClockStalled, from_us
from simulation.engine import describe, read_position
from simulation.topology import SYSTEMS

router = APIRouter(tags=["simulation"])


def _clock_error(exc: Exception) -> JSONResponse:
    return JSONResponse({"error": "clock", "message": str(exc)}, status_code=409)


@router.get("/clock", summary="Virtual time now")
async def now(runtime: Runtime) -> dict[str, Any]:
    moment = await runtime.clock.now()
    next_due = await runtime.clock.next_due()
    return {
        "now": to_local(moment).isoformat(),
        "next": to_local(next_due).isoformat() if next_due else None,
    }


@router.post("/clock/advance", dependencies=[ADMIN], summary="Move virtual time forward by a duration")
async def advance(body: Advance, runtime: Runtime):
    try:
        duration = Duration.parse(body.by)
    except ValueError as exc:
        return JSONResponse(
            {"error": "invalid_request", "fields": [{"field": "by", "problem": str(exc)}]}, 422
        )
    try:
        moment = await runtime.clock.advance(duration)
    except (ValueError, OverflowError):  # each move within a century, but many of them add up
        return JSONResponse(
            {"error": "invalid_request",
             "fields": [{"field": "by", "problem": f"{body.by} from now is beyond the calendar (year 9999)"}]}, 422
        )
    return {"now": to_local(moment).isoformat()}


@router.post("/clock/next", dependencies=[ADMIN], summary="Move virtual time to the next scheduled timer")
async def next_event(runtime: Runtime):
    try:
        await runtime.clock.settle()
        moment = await runtime.clock.advance_to_next()
        await runtime.clock.settle()
    except (ClockError, ClockStalled) as exc:
        return _clock_error(exc)
    return {"now": to_local(moment or await runtime.clock.now()).isoformat(), "moved": moment is not None}


@router.post("/clock/run", dependencies=[ADMIN], summary="Run timer after timer until nothing is pending")
async def run_until_idle(runtime: Runtime):
    try:
        moment = await runtime.clock.run_until_idle()
    except (ClockError, ClockStalled) as exc:
        return _clock_error(exc)
    return {"now": to_local(moment).isoformat()}


@router.get("/timers", dependencies=[AUDIT], summary="Timers of the run")
async def timers(runtime: Runtime, state: str | None = None) -> list[dict[str, Any]]:
    return [
        {"id": t.id, "owner": t.owner, "kind": t.kind, "due": to_local(from_us(t.due_us)).isoformat(),
         "state": t.state, "applicationId": t.application_id, "error": t.error}
        for t in await runtime.clock.timers(state)
    ]


@router.get(
    "/trace/{application_id}",
    dependencies=[AUDIT],
    summary="Every step of one application (or of a portal session that made none), in order",
    responses={404: {"description": "no step was recorded for this application id"}},
)
async def trace(application_id: str, runtime: Runtime):
    # Every application's trace starts when it is created (its first step, or the log-in it takes
    # over), so an id without a single step is no application of this run.
    # a log-in refused before any application existed: its steps are the session's
    events = await runtime.tracer.for_application(application_id) or await runtime.tracer.for_session(application_id)
    if not events:
        text = no_trace(application_id)
        return JSONResponse(
            {"error": "not_found", "applicationId": application_id, "message": text["en"],
             "message_kk": text["kk"], "message_ru": text["ru"]},
            status_code=404,
        )
    return [e.as_dict() for e in events]


@router.get(
    "/positions/{application_id}",
    dependencies=[AUDIT],
    summary="Where one application stands in its reglament: the step next, whose it is, what it waits for",
    responses={404: {"description": "no walk is known for this application id"}},
)
async def position(application_id: str, runtime: Runtime):
    found = await read_position(runtime.store, application_id)
    if found is None:
        text = no_trace(application_id)
        return JSONResponse(
            {"error": "not_found", "applicationId": application_id, "message": text["en"],
             "message_kk": text["kk"], "message_ru": text["ru"]},
            status_code=404,
        )
    view = {"applicationId": application_id, "reglament": found.reglament, "channel": found.channel,
            **(describe(found) or {})}
    try:
        step = get_reglament(found.reglament).channel(found.channel).step(found.step_key)
    except (ReglamentError, KeyError):
        return view  # a definition no longer loaded: the stored position as it is
    view["label"] = step.label
    view["name"] = step.name.model_dump() if step.name else None
    return view


@router.get("/systems", summary="The systems of this run and where they listen")
async def systems(runtime: Runtime) -> list[dict[str, Any]]:
    return [
        {"name": s.name, "title": {"kk": s.title_kk, "ru": s.title_ru, "en": s.title_en},
         "url": runtime.url_of(s.name)}
        for s in SYSTEMS.values()
    ]
