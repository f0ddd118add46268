"""The registries app: six state registries, each under its serviceIds, behind ЭҮШ (routes:
:mod:`registries.api`); it loads the population and the fixtures as it starts."""

from __future__ import annotations

import asyncio
import logging

import httpx
from fastapi import FastAPI

from registries.api import build_routers
from registries.loader import DEFAULT_FIXTURES, load_fixtures, load_population
from registries.models import RegistriesModel
from registries.service import Registries
from runtime import SystemRuntime, system_app
from simulation.tasks import stop_task
from simulation.settings import Settings

log = logging.getLogger(__name__)


async def fill(runtime: SystemRuntime, registries: Registries) -> None:
    """Load the population and the fixtures; requests that come meanwhile wait for it."""
    settings = runtime.settings
    try:
        await load_population(runtime.db, settings.population_seed, settings.population_size)
        await load_fixtures(runtime.db, [DEFAULT_FIXTURES, *settings.registry_fixtures])
    except Exception as exc:  # answered to every request, instead of hanging them
        log.exception("the registries could not be loaded")
        registries.load_error = f"{type(exc).__name__}: {exc}"
    finally:
        registries.loaded.set()


def create_app(
    settings: Settings | None = None, transport: httpx.AsyncBaseTransport | None = None
) -> FastAPI:
    holder: dict[str, Registries] = {}

    def routers(runtime):
        registries = holder["registries"] = Registries(runtime)
        return build_routers(runtime, registries)

    async def start_filling(runtime: SystemRuntime) -> None:
        # A large population takes a while: the registries answer /health at once and hold
        # look-ups until the data is in (tests and demos load a small one in a moment).
        registries = holder["registries"]
        registries.filling = asyncio.create_task(fill(runtime, registries), name="registries: loading")

    async def stop_filling(runtime: SystemRuntime) -> None:
        task = holder["registries"].filling
        if task is not None and not task.done():
            await stop_task(task)

    app = system_app(
        "registries",
        tables=[RegistriesModel.metadata],
        routers=routers,
        settings=settings,
        transport=transport,
        on_start=start_filling,
        on_stop=stop_filling,
    )
    app.state.registries = holder["registries"]  # its `loaded` event: a world's population is in
    return app
