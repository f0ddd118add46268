"""Every endpoint and dependency of every system is a coroutine function: FastAPI runs a plain
function on a worker thread, a thread hop and two wake-ups of the event loop at every request."""

from __future__ import annotations

import inspect

import pytest
from fastapi.routing import APIRoute

from egov_sim.inprocess import create
from simulation.settings import Settings
from simulation.topology import SYSTEMS


def _calls(dependant):
    if dependant.call is not None:
        yield dependant.call
    for sub in dependant.dependencies:
        yield from _calls(sub)


@pytest.mark.parametrize("system", sorted(SYSTEMS))
def test_no_endpoint_or_dependency_runs_on_a_thread(system, tmp_path):
    app = create(system, Settings(data_dir=tmp_path), transport=None)
    routes = [route for route in app.routes if isinstance(route, APIRoute)]
    for included in app.routes:  # FastAPI's included routers: their routes with their dependencies
        if hasattr(included, "effective_route_contexts"):
            routes += list(included.effective_route_contexts())
    assert len(routes) > 5
    plain = {
        f"{route.path}: {getattr(call, '__qualname__', call)}"
        for route in routes for call in _calls(route.dependant)
        if not inspect.iscoroutinefunction(call) and not inspect.iscoroutinefunction(getattr(call, "__call__", None))
    }
    assert not plain
