"""The event loop egov-sim's commands run on: uvloop where it is installed, else asyncio's own.

``egov-sim up`` serves each system with uvicorn, which picks uvloop when it is installed
(``uvicorn[standard]``, a dependency, brings it). The commands that run every system in one
process -- ``demo``, ``run``, ``scenarios``, ``pki``, ``gateway``, ``trace`` -- do the same: in one
process the loop's own work (scheduling callbacks, running tasks) is a few per cent of a whole
application (docs/performance.md, "Whole applications"). ``EGOV_SIM_LOOP=asyncio`` keeps them on
asyncio's loop (to compare, or to debug with asyncio's tools); ``uvloop`` insists on uvloop.

A process that runs systems also collects its garbage less often (:func:`collect_less_often`).
"""

from __future__ import annotations

import asyncio
import gc
import os
from collections.abc import Coroutine
from importlib.util import find_spec
from typing import Any, TypeVar

T = TypeVar("T")

ENV = "EGOV_SIM_LOOP"
CHOICES = ("uvloop", "asyncio")


def chosen() -> str:
    """The loop :func:`run` runs on: ``uvloop`` or ``asyncio`` (ValueError for another name in
    ``EGOV_SIM_LOOP``, or for ``uvloop`` asked for and not installed)."""
    name = os.environ.get(ENV, "").strip().lower()
    if name and name not in CHOICES:
        raise ValueError(f"{ENV}={name}: the loops are {', '.join(CHOICES)}")
    if name == "asyncio":
        return "asyncio"
    if find_spec("uvloop") is None:
        if name == "uvloop":
            raise ValueError(f"{ENV}=uvloop, and uvloop is not installed (pip install uvloop)")
        return "asyncio"
    return "uvloop"


YOUNG_THRESHOLD = 7_000
"""Allocations (less deallocations) between two collections of the youngest generation."""


def collect_less_often() -> None:
    """Raise the garbage collector's first threshold from CPython's 700 to
    :data:`YOUNG_THRESHOLD` (the older generations' stay at theirs).

    Every message makes and drops thousands of short-lived objects (envelopes, headers, rows,
    ASN.1 values), so the youngest generation filled every few hundred microseconds and each pass
    walked what survived it; the passes of all generations took ~3.5 % of a process running every
    system (0.37 s of a 200-application bench run, 0.08 s at 7,000; docs/performance.md). Only egov-sim's own processes -- the
    commands and ``up``'s systems -- call this; a test run or an application embedding
    :class:`egov_sim.inprocess.Simulation` keeps its own settings."""
    _, older, oldest = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, older, oldest)


def run(main: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run(main)``, on the loop :func:`chosen` names, the collector set by
    :func:`collect_less_often`."""
    try:
        loop = chosen()
    except ValueError:
        main.close()  # never started: no "never awaited" warning besides the error
        raise
    collect_less_often()
    if loop == "uvloop":
        import uvloop

        return uvloop.run(main)
    return asyncio.run(main)
