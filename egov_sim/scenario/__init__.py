"""Scenario files (given / when / then): played in virtual time, judged, with path coverage.

``egov-sim scenario run PATH…`` is the command; docs/testers.md the guide. From Python::

    from egov_sim.scenario import collect, run_scenarios
    results = await run_scenarios(collect([Path("scenarios")]))

The names below are imported on first use, so ``egov-sim --help`` (which looks this package up)
stays light.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_WHERE = {
    "Coverage": "egov_sim.scenario.coverage",
    "Scenario": "egov_sim.scenario.model", "ScenarioFileError": "egov_sim.scenario.model",
    "collect": "egov_sim.scenario.model", "load_file": "egov_sim.scenario.model",
    "RunOptions": "egov_sim.scenario.runner", "ScenarioResult": "egov_sim.scenario.runner",
    "run_scenario": "egov_sim.scenario.runner", "run_scenarios": "egov_sim.scenario.runner",
}
__all__ = sorted(_WHERE)


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(import_module(_WHERE[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
