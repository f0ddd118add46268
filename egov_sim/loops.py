"""The event loop egov-sim's commands run on: uvloop where it is installed, else asyncio's own.

``egov-sim up`` serves each system with uvicorn, which picks uvloop when it is installed
(``uvicorn[standard]``, a dependency, brings it). The commands that run every system in one
process -- ``demo``, ``run``, ``scenarios``, ``pki``, ``gateway``, ``trace`` -- do the same: in one
process the loop's own work (scheduling callbacks, running tasks) is a few per cent of a whole
application (docs/performance.md, "Whole applications"). ``EGOV_SIM_LOOP=asyncio`` keeps them on
asyncio's loop (to compare, or to debug with asyncio's tools); ``uvloop`` insists on uvloop.
"""

from __future__ import annotations

import asyncio
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


def run(main: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run(main)``, on the loop :func:`chosen` names."""
    try:
        loop = chosen()
    except ValueError:
        main.close()  # never started: no "never awaited" warning besides the error
        raise
    if loop == "uvloop":
        import uvloop

        return uvloop.run(main)
    return asyncio.run(main)
