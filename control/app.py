"""Simulation control: the HTTP face of the run's virtual clock and trace.

Not a real system: testers and trainers use it to read and move virtual time, see what is
scheduled, and read the trace of an application (the routes: :mod:`control.api`).
"""

from __future__ import annotations

import httpx
from fastapi import FastAPI

from control.api import router
from runtime import system_app
from simulation.settings import Settings


def create_app(
    settings: Settings | None = None, transport: httpx.AsyncBaseTransport | None = None
) -> FastAPI:
    return system_app(
        "control", tables=[], routers=lambda runtime: [router], settings=settings,
        transport=transport, signs=False,
    )
