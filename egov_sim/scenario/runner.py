"""Running scenarios: each in a world of its own (in one process, by default) or against running
systems (``target``), and the verdict of each.

In one process every scenario gets a fresh world in a temporary directory (and its own
PostgreSQL schemas when ``EGOV_SIM_DATABASE_URL`` names a database), so scenarios cannot disturb
one another and run in any order. Against a target, the scenarios share the running world: their
faults are cleared after each, their applications stay.
"""

from __future__ import annotations

import logging
import math
import tempfile
import time
import traceback
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from egov_sim.scenario.model import Scenario, StaffAction
from egov_sim.scenario.verdict import compare
from egov_sim.scenarios import play
from reglaments import get_reglament
from simulation.settings import Settings

log = logging.getLogger(__name__)


class ScenarioRunError(RuntimeError):
    """The scenario could not be played as written (a staff step the case does not wait for, a
    given record refused): says which field."""


@dataclass
class ScenarioResult:
    scenario: Scenario
    report: dict[str, Any] | None = None
    failures: list[str] = field(default_factory=list)
    diff: list[str] = field(default_factory=list)
    error: str | None = None
    """The scenario could not run: why (``failures`` then says nothing)."""
    details: str = ""
    """For an error: the traceback, for whoever looks deeper (``--verbose``, the JUnit file)."""
    seconds: float = 0.0
    """Wall time the run took (reported in the JUnit file; nothing is decided by it)."""

    @property
    def passed(self) -> bool:
        return self.error is None and not self.failures


@dataclass
class RunOptions:
    target: str | None = None
    """The control system's URL of running systems; None: a world in this process."""
    token: str | None = None
    target_data_dir: Path | None = None
    """The running world's data directory (its admin token) when ``target`` is given."""
    snapshots_from: Path | None = None
    """The data directory whose snapshots ``given.snapshot`` names (default: ``EGOV_SIM_DATA_DIR``)."""
    settings: dict[str, Any] = field(default_factory=dict)
    """Settings for the in-process worlds besides the data directory (e.g. ``population_size``)."""


def _staff_hand(scenario: Scenario) -> Callable[[Any, str], Any] | None:
    """Performs ``when.staff`` in order, then whatever procedure the case still waits for with no
    inputs (the rules decide), letting each procedure's time pass first: ``after``, or the
    procedure's duration in its office's working hours."""
    if scenario.given.provider_staff != "manual":
        return None
    reglament = get_reglament(scenario.when.reglament)
    planned = list(enumerate(scenario.when.staff))

    async def perform(world: Any, application_id: str) -> None:
        from egov_sim.clients import ClientError, ControlClient, ProviderClient

        async with world.client("provider_ws") as ws_http, world.client("control") as control_http:
            provider, control = ProviderClient(ws_http), ControlClient(control_http)
            while True:
                try:
                    step = (await provider.next_step(application_id)).get("nextStep")
                except ClientError:
                    step = None  # no case waits there (yet, or any more)
                if not step:
                    return
                number = step["number"]
                index, action = planned.pop(0) if planned else (None, StaffAction(step=number))
                where = f"when.staff[{index}]" if index is not None else "the staff"
                if action.step != number:
                    raise ScenarioRunError(f"{where}.step: the case waits for procedure {number} "
                                           f"({step.get('actor', '')}), the scenario performs {action.step}")
                wait = action.after or await _until_done(reglament, number, control)
                try:
                    if wait:
                        await control.advance(wait)
                except ClientError as exc:
                    raise ScenarioRunError(f"{where}.after: the clock did not move by {wait!r}: {exc.message}") from None
                try:
                    await provider.perform(application_id, number, executor=action.executor,
                                           decision=action.decision, ground=action.ground)
                except ClientError as exc:
                    raise ScenarioRunError(f"{where}: procedure {number} refused: {exc.message}") from None
                await control.run()

    return perform


def _restarts(scenario: Scenario) -> Callable[[Any, str], Any] | None:
    """Restarts ``when.restart``'s systems once the application is filed (a world in this process)."""
    if not scenario.when.restart:
        return None

    async def restart_them(world: Any, application_id: str) -> None:
        if not hasattr(world, "restart"):
            raise ScenarioRunError("when.restart: systems are restarted only in a world of this process, not against "
                                   "--target (restart them there with egov-sim up's supervision)")
        for system in scenario.when.restart:
            await world.restart(system)

    return restart_them


async def _until_done(reglament: Any, number: int, control: Any) -> str | None:
    """How long procedure ``number`` takes from now, in its actor's working hours (as the engine
    times it in auto mode): the wait before a person performs it; None if it is due already."""
    procedure = reglament.staff_step(number)
    now = await control.now()
    hours = reglament.schedule_of(reglament.actor_of(procedure).system)
    minutes = math.ceil((hours.add(procedure.duration, now) - now).total_seconds() / 60)
    return f"{minutes} minutes" if minutes > 0 else None


async def _give(world: Any, scenario: Scenario) -> None:
    given = scenario.given
    if given.registries:
        from egov_sim.given import GivenRefused, give_records

        async with world.client("registries") as registries:
            try:
                await give_records(registries, given.registries)
            except GivenRefused as exc:
                raise ScenarioRunError(f"given.registries: {exc}") from None
    if given.faults:
        from egov_sim.faults import FaultRefused, apply_faults

        try:
            await apply_faults(world.client, given.faults)
        except FaultRefused as exc:
            raise ScenarioRunError(f"given.faults: {exc}") from None


async def _play(world: Any, scenario: Scenario) -> dict[str, Any]:
    """Give, play, and clear the scenario's faults whatever happened (a fault set before another
    was refused too): against running systems they would stay in force for whatever comes next."""
    try:
        await _give(world, scenario)
        report = await play(world, scenario.when.reglament, scenario.when.channel, scenario.case(),
                            scenario.when.case or scenario.name, staff=_staff_hand(scenario),
                            after_filing=_restarts(scenario))
    except BaseException:
        await _clear(world, scenario, quietly=True)
        raise
    await _clear(world, scenario)
    return report


async def _clear(world: Any, scenario: Scenario, quietly: bool = False) -> None:
    """Clear every fault; ``quietly``: the run already failed, its own error is the one to tell."""
    if not scenario.given.faults:
        return
    from egov_sim.faults import FaultRefused, clear_faults

    try:
        await clear_faults(world.client)
    except FaultRefused as exc:
        if not quietly:
            raise ScenarioRunError(f"given.faults: the run ended, but its faults could not all be cleared: {exc}") from None
        log.warning("given.faults: not all cleared after a failed run: %s", exc)


async def _in_process(scenario: Scenario, options: RunOptions) -> dict[str, Any]:
    from egov_sim.inprocess import Simulation
    from simulation.database import drop_run
    from simulation.topology import SYSTEMS

    with tempfile.TemporaryDirectory(prefix="egov-sim-scenario-") as folder:
        chosen = {"data_dir": Path(folder) / "world", "provider_mode": scenario.given.provider_staff}
        if scenario.given.clock is not None:
            chosen["clock_start"] = scenario.given.clock
        settings = Settings(**{**options.settings, **chosen})
        try:
            if scenario.given.snapshot:
                import asyncio

                from egov_sim.snapshot import SnapshotError, restore_into

                try:
                    await asyncio.to_thread(restore_into, settings, scenario.given.snapshot, options.snapshots_from)
                except SnapshotError as exc:
                    raise ScenarioRunError(f"given.snapshot: {exc}") from None
            async with Simulation(settings) as world:
                return await _play(world, scenario)
        finally:
            await drop_run(settings, (*SYSTEMS, "simulation"))


async def _against_target(scenario: Scenario, options: RunOptions) -> dict[str, Any]:
    from egov_sim.scenario.remote import RemoteWorld

    if scenario.given.snapshot:
        raise ScenarioRunError("given.snapshot: against running systems, restore it first "
                               "(egov-sim snapshot restore NAME) and leave it out of the scenario")
    if scenario.given.clock is not None:
        raise ScenarioRunError("given.clock: running systems keep their own clock; leave it out against --target")
    with tempfile.TemporaryDirectory(prefix="egov-sim-tester-") as folder:
        assert options.target is not None
        world = await RemoteWorld.connect(options.target, Path(folder), options.token, options.target_data_dir)
        return await _play(world, scenario)


async def run_scenario(scenario: Scenario, options: RunOptions | None = None) -> ScenarioResult:
    """Play one scenario and judge it. Never raises for the scenario's own failures: a scenario that
    cannot run is a result with ``error`` set."""
    options = options or RunOptions()
    started = time.monotonic()
    result = ScenarioResult(scenario)
    try:
        report = await (_against_target if options.target else _in_process)(scenario, options)
    except ScenarioRunError as exc:
        result.error = str(exc)
    except Exception as exc:  # the systems answered what the runner did not expect: say what, keep the details
        result.error = f"{type(exc).__name__}: {exc}"
        result.details = traceback.format_exc()
    else:
        result.report = report
        result.failures, result.diff = compare(scenario.expected(), report)
    result.seconds = time.monotonic() - started
    return result


async def run_scenarios(scenarios: Iterable[Scenario], options: RunOptions | None = None,
                        each: Callable[[ScenarioResult], None] | None = None) -> list[ScenarioResult]:
    """Every scenario in order; ``each`` sees each result as it comes."""
    results = []
    for scenario in scenarios:
        result = await run_scenario(scenario, options)
        if each is not None:
            each(result)
        results.append(result)
    return results
