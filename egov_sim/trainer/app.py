"""The trainer's view, served by the control system at ``/trainer``.

:func:`create_control_app` is the control system's factory in a run (``simulation.topology``):
control's own app (:mod:`control.app`) with the trainer's routes added. The control package
itself knows nothing of the trainer (it imports nothing of ``egov_sim``), so a bare
``uvicorn control.app:create_app`` serves the clock and the trace without the view.

Routes (JSON; a refusal is ``{"error", "message", "message_kk", "message_ru", "fields"?}``):

- ``GET /trainer`` the page; ``GET /trainer/static/{name}`` its files (no token: no personal data);
- ``GET /trainer/api/catalogue`` the reglaments, their channels and cases, the systems (no token);
- ``GET /trainer/api/whoami`` the role the token proves (401 without a valid one);
- ``GET /trainer/api/applications`` the run's applications, newest first (auditor or admin);
- ``GET /trainer/api/flow/{application_id}`` one application's flow document
  (:mod:`egov_sim.trainer.flow`; auditor or admin);
- ``POST /trainer/api/plays`` play a case in this run, in the background (admin: it files an
  application and moves the clock); ``GET /trainer/api/plays/{play_id}`` how far it got.
"""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, Any

import httpx
from fastapi import APIRouter, Depends, FastAPI, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, StrictStr

from egov_sim.clients._base import ClientError
from egov_sim.trainer.flow import DefinitionMissing, FlowError, collect, title
from egov_sim.trainer.plays import ControlWorld, PlayBusy, Plays
from runtime import Runtime
from simulation.access import ADMIN, AUDIT, requires
from simulation.calendar import to_local
from simulation.settings import Settings
from simulation.topology import START_ORDER

log = logging.getLogger(__name__)

STATIC = Path(__file__).resolve().parent / "static"
"""The page's files: index.html, trainer.js, trainer.css and what they show."""

CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".json": "application/json",
    ".woff2": "font/woff2",
}
"""The kinds of file the page is made of; a file of any other kind is not served."""

PAGE_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)
"""The page loads nothing from outside the control system, and runs no inline script: the token
it keeps in sessionStorage is not for a script injected with some data to read."""

MAX_APPLICATIONS = 500

APPLICATION_ID = re.compile(r"[^/?#%\s\x00-\x1f\x7f]{1,200}")
"""What an application's (or a session's) id can be: the flow reads it into other systems' paths
and queries, so an id that would change their meaning (a ``?``, a ``/``) names no application."""


def _refusal(status: int, error: str, texts: dict[str, str], fields: list[dict[str, str]] | None = None,
             **extra: Any) -> JSONResponse:
    body: dict[str, Any] = {"error": error, "message": texts["en"], "message_kk": texts["kk"],
                            "message_ru": texts["ru"], **extra}
    if fields is not None:
        body["fields"] = fields
    return JSONResponse(body, status_code=status)


def _plays(request: Request) -> Plays:
    return request.app.state.trainer_plays


def _world(request: Request) -> ControlWorld:
    return request.app.state.trainer_world


# ---- the page ---------------------------------------------------------------------------------

page = APIRouter(tags=["trainer"], include_in_schema=False)


def _file(name: str) -> Response:
    folder = STATIC
    try:
        served = {p.name: p for p in folder.iterdir()
                  if p.is_file() and p.suffix in CONTENT_TYPES and not p.name.startswith(".")}
    except OSError:
        served = {}
    path = served.get(name)  # a name of the folder's listing, never a path built from the request
    if path is None:
        return _refusal(404, "not_found", {
            "kk": f"Тренажёр бетінде {name!r} файлы жоқ",
            "ru": f"У страницы тренажёра нет файла {name!r}",
            "en": f"the trainer's page has no file {name!r}",
        })
    headers = {"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"}
    if path.suffix == ".html":
        headers["Content-Security-Policy"] = PAGE_POLICY
        headers["Referrer-Policy"] = "no-referrer"
    return Response(path.read_bytes(), media_type=CONTENT_TYPES[path.suffix], headers=headers)


@page.get("/trainer", summary="The trainer's web view")
async def trainer_page() -> Response:
    return _file("index.html")


@page.get("/trainer/static/{name}", summary="A file of the trainer's page")
async def trainer_file(name: str) -> Response:
    return _file(name)


# ---- the API ----------------------------------------------------------------------------------

api = APIRouter(prefix="/trainer/api", tags=["trainer"])


@api.get("/catalogue", summary="The reglaments with their channels and cases, and the systems")
async def catalogue() -> dict[str, Any]:
    from reglaments import all_reglaments

    reglaments = []
    for reglament in all_reglaments().values():
        channels = []
        for channel_id, channel in reglament.channels.items():
            channels.append({
                "id": channel_id,
                "title": channel.title.model_dump() if channel.title else None,
                "first": channel.first.system,
                "cases": list(reglament.cases.get(channel_id, {})),
            })
        reglaments.append({"id": reglament.id, "title": reglament.title.model_dump(), "channels": channels})
    return {"reglaments": reglaments, "systems": [{"id": name, "title": title(name)} for name in START_ORDER]}


@api.get("/whoami", summary="The role the token proves")
async def whoami(role: Annotated[str, Depends(requires("admin", "auditor"))]) -> dict[str, str]:
    return {"role": role}


@api.get("/applications", dependencies=[AUDIT], summary="The applications of this run, newest first")
async def applications(runtime: Runtime,
                       limit: Annotated[int, Query(ge=1, le=MAX_APPLICATIONS)] = 50) -> dict[str, Any]:
    found = await runtime.tracer.applications(limit)
    return {"applications": [
        {"applicationId": a["application_id"], "reglament": a["reglament"], "channel": a["channel"],
         "startedAt": to_local(a["started_at"]).isoformat(), "lastAt": to_local(a["last_at"]).isoformat(),
         "lastLabel": a["last_label"], "steps": a["steps"]}
        for a in found
    ]}


@api.get("/flow/{application_id:path}", dependencies=[AUDIT],
         summary="One application's flow: steps, messages, signatures (egov_sim.trainer.flow)")
async def flow(application_id: str, request: Request):
    try:
        if not APPLICATION_ID.fullmatch(application_id):
            raise FlowError(application_id)
        return await collect(_world(request), application_id)
    except DefinitionMissing as exc:
        return _refusal(409, "definition_missing", exc.texts, applicationId=application_id, reglament=exc.reglament)
    except FlowError:
        return _refusal(404, "not_found", {
            "kk": f"Бұл симуляцияда {application_id} өтінішінің іздері жоқ",
            "ru": f"В этой симуляции нет трассы заявления {application_id}",
            "en": f"no trace of application {application_id!r} in this run",
        }, applicationId=application_id)
    except (ClientError, httpx.HTTPError) as exc:
        log.warning("trainer: the flow of %s could not be read: %s", application_id, exc)
        return _refusal(502, "upstream", {
            "kk": f"{application_id} өтінішінің барысын оқу мүмкін болмады: жүйе жауап бермеді ({exc})",
            "ru": f"Не удалось прочитать ход заявления {application_id}: система не ответила ({exc})",
            "en": f"the flow of application {application_id} could not be read: a system did not answer ({exc})",
        }, applicationId=application_id)


class PlayRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reglament: StrictStr
    channel: StrictStr
    case: StrictStr


def _unknown(field: str, value: str, known: list[str], where: str = "") -> JSONResponse:
    listing = ", ".join(known) or "—"
    return _refusal(422, "invalid_request", {
        "kk": f"{field} өрісі: {value!r} белгісіз{where} (бары: {listing})",
        "ru": f"Поле {field}: {value!r} неизвестно{where} (есть: {listing})",
        "en": f"{field}: unknown {value!r}{where} (known: {listing})",
    }, fields=[{"field": field, "problem": f"unknown {field} {value!r}{where}; known: {listing}"}])


@api.post("/plays", dependencies=[ADMIN], status_code=202,
          summary="Play one case of a reglament's channel in this run, in the background")
async def start_play(body: PlayRequest, request: Request):
    from egov_sim.scenarios import cases_of
    from reglaments import all_reglaments

    known = all_reglaments()
    if body.reglament not in known:
        return _unknown("reglament", body.reglament, list(known))
    cases = cases_of(body.reglament)
    if body.channel not in cases:
        return _unknown("channel", body.channel, list(cases), f" ({body.reglament})")
    if body.case not in cases[body.channel]:
        return _unknown("case", body.case, list(cases[body.channel]), f" ({body.reglament} / {body.channel})")
    try:
        play = _plays(request).start(body.reglament, body.channel, body.case)
    except PlayBusy as exc:
        running = exc.running
        return _refusal(409, "play_running", {
            "kk": f"Басқа ойнату әлі жүріп жатыр ({running.reglament} / {running.channel} / {running.case}): "
                  "ол аяқталғанша күтіңіз",
            "ru": f"Ещё идёт другое воспроизведение ({running.reglament} / {running.channel} / {running.case}): "
                  "дождитесь его окончания",
            "en": f"another play is still running ({running.reglament} / {running.channel} / {running.case}): "
                  "wait until it ends",
        }, playId=running.play_id)
    return JSONResponse({"playId": play.play_id, "status": play.status}, status_code=202)


@api.get("/plays/{play_id}", dependencies=[AUDIT], summary="How far a play got")
async def play_state(play_id: str, request: Request):
    play = _plays(request).get(play_id)
    if play is None:
        return _refusal(404, "not_found", {
            "kk": f"{play_id} ойнатуы жоқ (жүйе қайта іске қосылса, ойнатулар ұмытылады)",
            "ru": f"Воспроизведения {play_id} нет (после перезапуска системы они забываются)",
            "en": f"no play {play_id} (plays are forgotten when the control system restarts)",
        }, playId=play_id)
    return {k: v for k, v in play.as_dict().items() if k in ("playId", "status", "applicationId", "outcome", "error")}


# ---- the factory ------------------------------------------------------------------------------


def create_control_app(settings: Settings | None = None,
                       transport: httpx.AsyncBaseTransport | None = None) -> FastAPI:
    """The control system's app with the trainer's view (the run's factory for ``control``)."""
    from control.app import create_app

    app = create_app(settings=settings, transport=transport)
    world = ControlWorld(app.state.runtime.settings, transport)
    plays = Plays(world)
    app.state.trainer_world = world
    app.state.trainer_plays = plays
    app.include_router(page)
    app.include_router(api)
    system_lifespan = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(served: FastAPI) -> AsyncIterator[Any]:
        async with system_lifespan(served) as state:
            try:
                yield state
            finally:
                await plays.stop()  # before the system's runtime stops under it

    app.router.lifespan_context = lifespan
    return app
