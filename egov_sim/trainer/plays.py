"""Plays for the trainer's view: one case of a reglament played in the run the control system
belongs to, in the background, while the page asks how far it got.

A play files an application and moves the run's clock (``egov_sim.scenarios.play``), so only the
administrator starts one, and only one at a time per run: a second play while one runs would
move the same clock under the first one's feet.

The world a play runs in (:class:`ControlWorld`) reaches the other systems the way the control
system itself does: through the in-process transport when every system shares one process
(``egov-sim trainer``, tests), over HTTP at the run's URLs under ``egov-sim up``, with the run's
tokens (:class:`simulation.credentials.RunCredentials`).
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

import httpx

from simulation.access import TOKEN_HEADER
from simulation.credentials import RunCredentials
from simulation.settings import Settings

log = logging.getLogger(__name__)

KEPT = 100
"""Finished plays remembered for the page to ask about (the oldest forgotten first)."""

SESSIONS_PATH = "/api/sessions"
"""The portal's log-in: a refused one makes no application, and its steps are the session's."""


class ControlWorld:
    """The run as the control system reaches it: ``client(system, role=...)`` and ``settings``,
    what :func:`egov_sim.scenarios.play` and :func:`egov_sim.trainer.flow.collect` need."""

    def __init__(self, settings: Settings, transport: httpx.AsyncBaseTransport | None) -> None:
        self.settings = settings
        self.transport = transport
        self.credentials = RunCredentials.of(settings)

    def client(self, system: str, *, role: str | None = "admin", **kwargs: Any) -> httpx.AsyncClient:
        headers = dict(kwargs.pop("headers", None) or {})
        if role is not None:
            headers.setdefault(TOKEN_HEADER, self.credentials.token(role))
        kwargs.setdefault("timeout", 120)
        return httpx.AsyncClient(transport=self.transport, base_url=self.settings.url_of(system),
                                 headers=headers, **kwargs)


class _Watched:
    """A world that notes the session of a refused portal log-in: such a play files no
    application, and its steps are found under the session's id instead."""

    def __init__(self, world: ControlWorld) -> None:
        self.world = world
        self.settings = world.settings
        self.refused_session: str | None = None

    def client(self, system: str, *, role: str | None = "admin", **kwargs: Any) -> httpx.AsyncClient:
        if system != "portal":
            return self.world.client(system, role=role, **kwargs)

        async def note(response: httpx.Response) -> None:
            request = response.request
            if request.method == "POST" and request.url.path == SESSIONS_PATH and response.status_code >= 400:
                await response.aread()
                try:
                    session = response.json().get("session")
                except (ValueError, AttributeError):
                    return
                if isinstance(session, str):
                    self.refused_session = session

        hooks = kwargs.pop("event_hooks", None) or {}
        hooks = {**hooks, "response": [*hooks.get("response", []), note]}
        return self.world.client(system, role=role, event_hooks=hooks, **kwargs)


class PlayBusy(RuntimeError):
    """A play is already running in this run."""

    def __init__(self, running: Play) -> None:
        super().__init__(f"play {running.play_id} ({running.reglament} / {running.channel} / {running.case}) "
                         "is still running")
        self.running = running


@dataclass
class Play:
    play_id: str
    reglament: str
    channel: str
    case: str
    status: str = "running"
    application_id: str | None = None
    outcome: str | None = None
    error: str | None = None
    task: asyncio.Task | None = field(default=None, repr=False)

    def as_dict(self) -> dict[str, Any]:
        return {"playId": self.play_id, "reglament": self.reglament, "channel": self.channel, "case": self.case,
                "status": self.status, "applicationId": self.application_id, "outcome": self.outcome,
                "error": self.error}


class Plays:
    """The plays of one run (kept by its control system, in memory)."""

    def __init__(self, world: ControlWorld) -> None:
        self.world = world
        self._plays: OrderedDict[str, Play] = OrderedDict()
        self._running: Play | None = None

    def get(self, play_id: str) -> Play | None:
        return self._plays.get(play_id)

    def start(self, reglament: str, channel: str, case: str) -> Play:
        """Start playing ``case`` (already checked to exist); :class:`PlayBusy` while one runs."""
        if self._running is not None:
            raise PlayBusy(self._running)
        play = Play(uuid.uuid4().hex, reglament, channel, case)
        self._plays[play.play_id] = play
        while len(self._plays) > KEPT:
            oldest = next(iter(self._plays))
            if self._plays[oldest] is play:
                break
            del self._plays[oldest]
        self._running = play
        play.task = asyncio.get_running_loop().create_task(self._run(play), name=f"trainer play {play.play_id}")
        return play

    async def _run(self, play: Play) -> None:
        from egov_sim.scenarios import play as play_case
        from reglaments import get_reglament

        world = _Watched(self.world)
        try:
            spec = get_reglament(play.reglament).cases[play.channel][play.case]
            async def filed(_world: Any, application_id: str) -> None:
                play.application_id = application_id  # the page follows it live from now on

            report = await play_case(world, play.reglament, play.channel, spec, play.case, after_filing=filed)
            play.application_id = report.get("application_id") or world.refused_session
            play.outcome = report.get("outcome")
            play.status = "done"
        except asyncio.CancelledError:
            play.status, play.error = "failed", "stopped: the control system shut down during the play"
            raise
        except Exception as exc:  # noqa: BLE001 -- whatever went wrong is the play's answer, not a crash
            log.warning("trainer play %s (%s / %s / %s) failed: %s", play.play_id, play.reglament, play.channel,
                        play.case, exc, exc_info=True)
            play.status = "failed"
            play.error = f"{type(exc).__name__}: {exc}".splitlines()[0]
            play.application_id = play.application_id or world.refused_session
        finally:
            if self._running is play:
                self._running = None

    async def stop(self) -> None:
        """Cancel a play still running (the control system is stopping) and wait for it."""
        running = self._running
        if running is not None and running.task is not None and not running.task.done():
            running.task.cancel()
            try:
                await running.task
            except (asyncio.CancelledError, Exception):  # noqa: BLE001 -- stopping: its state says how it ended
                pass
