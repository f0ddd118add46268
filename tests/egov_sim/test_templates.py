"""Fresh worlds from a template (EGOV_SIM_WORLD_TEMPLATES): the first of a kind is built and saved,
the next is a copy restored before its systems start, and each copy is a world of its own."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Callable

import pytest

from egov_sim import templates
from egov_sim.clients._base import ClientError
from egov_sim.clients.control import ControlClient
from egov_sim.inprocess import Simulation
from egov_sim.scenarios import play
from reglaments import get_reglament
from simulation.database import drop_run
from simulation.settings import Settings
from simulation.topology import SYSTEMS

RUN = (*SYSTEMS, "simulation")


@pytest.fixture
async def world(tmp_path, settings, monkeypatch) -> AsyncIterator[Callable[..., Settings]]:
    """Worlds of the test's kind (its settings) in a template folder of the test's own; their
    schemas (PostgreSQL) and the templates' dropped after."""
    root = tmp_path / "templates"
    monkeypatch.setenv(templates.ENV, str(root))
    made: list[Settings] = []

    def make(name: str, **changes) -> Settings:
        made.append(settings.model_copy(update={"data_dir": tmp_path / name, **changes}))
        return made[-1]

    yield make
    for each in made:
        await drop_run(each, RUN)
    await templates.drop_all(root)


async def _approved(simulation: Simulation) -> str:
    spec = get_reglament("almaty-queue").cases["portal"]["approved"]
    report = await play(simulation, "almaty-queue", "portal", spec, "approved")
    assert report["outcome"] == "approved" and report["result"]["verdict"]["code"] == "VALID"
    return report["application_id"]


async def test_the_second_fresh_world_is_the_template_restored_and_a_world_of_its_own(world):
    first, second = world("first"), world("second")
    async with Simulation(first) as simulation:
        filed_first = await _approved(simulation)
    key = templates.kind(first)
    assert key == templates.kind(second)
    assert (templates.folder() / key / "world" / "snapshots" / templates.SNAPSHOT / "manifest.json").is_file()

    assert await templates.prepare(second) is True  # restored before its systems start
    async with Simulation(second) as simulation:
        filed_second = await _approved(simulation)
        async with simulation.client("control", role="auditor") as control:
            with pytest.raises(ClientError) as unknown:  # the first world's application is not here
                await ControlClient(control).trace(filed_first)
        assert unknown.value.status == 404
    assert filed_first != filed_second
    # a copy does not carry the template's snapshot among its own
    assert not (second.data_dir / "snapshots").exists()


async def test_only_fresh_worlds_whose_settings_fix_their_clock_are_copied(world):
    assert await templates.prepare(world("clockless", clock_start=None)) is False
    used = world("used")
    used.data_dir.mkdir(parents=True)
    (used.data_dir / "admin.token").write_text("kept\n")
    assert await templates.prepare(used) is False
    assert (used.data_dir / "admin.token").read_text() == "kept\n"  # nothing of it touched


async def test_each_kind_has_its_own_template(world):
    one, other = world("one"), world("other", population_size=50)
    assert templates.kind(one) != templates.kind(other)
    assert templates.kind(one) == templates.kind(world("again"))


async def test_templates_are_off_without_the_variable(world, monkeypatch):
    monkeypatch.delenv(templates.ENV)
    assert templates.folder() is None
    assert await templates.prepare(world("plain")) is False


async def test_two_worlds_of_a_new_kind_at_once_build_one_template(world, monkeypatch):
    built = []
    build = templates._build

    async def counted(template):
        built.append(template.data_dir)
        await build(template)

    monkeypatch.setattr(templates, "_build", counted)
    worlds = [world(f"at-once-{n}") for n in range(3)]
    assert await asyncio.gather(*(templates.prepare(w) for w in worlds)) == [True, True, True]
    assert len(built) == 1
    async with Simulation(worlds[1], from_template=False) as simulation:
        await _approved(simulation)


def test_another_process_waits_for_the_template_a_process_builds(tmp_path):
    """Two processes (pytest-xdist's workers, say) ask for the same new kind at once: one builds,
    the other waits on the file lock and copies what the first built."""
    import subprocess
    import sys
    import textwrap

    root = tmp_path / "templates"
    script = textwrap.dedent(f"""
        import asyncio, sys
        from datetime import datetime
        from pathlib import Path
        from egov_sim import templates
        from simulation.settings import Settings
        built = []
        real = templates._build
        async def counted(template):
            built.append(1)
            await real(template)
        templates._build = counted
        settings = Settings(data_dir=Path(sys.argv[1]), population_size=30,
                            clock_start=datetime.fromisoformat("2026-11-02T10:00:00+05:00"))
        assert asyncio.run(templates.prepare(settings))
        print("built" if built else "copied")
    """)
    env = {**os.environ, templates.ENV: str(root)}
    runs = [subprocess.Popen([sys.executable, "-c", script, str(tmp_path / f"w{n}")], env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for n in range(2)]
    try:
        said = sorted(run.communicate(timeout=600)[0].strip() for run in runs)
    finally:
        asyncio.run(templates.drop_all(root))
        for n in range(2):
            asyncio.run(drop_run(Settings(data_dir=tmp_path / f"w{n}"), RUN))
    assert said == ["built", "copied"], said
