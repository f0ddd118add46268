"""Fresh worlds made from a template: a copy of a world just started, instead of starting anew.

A fresh world's first start does the same work every time: the certification authority makes its
root and issuing CAs and the key storages of the seeded people (RSA keys: about 1.5 s of CPU), the
registries load their population, every system creates its tables and enrols its key. The test
suite starts hundreds of fresh worlds, and a scenario run one per scenario. With
``EGOV_SIM_WORLD_TEMPLATES=DIR`` set, the first fresh world of a kind is started once in
``DIR/<key>/world``, saved there as a snapshot (:mod:`egov_sim.snapshot`, taken while it runs, so
no shutdown is in it), and every later fresh world of that kind is that snapshot restored into its
own data directory (its own SQLite files, or its own PostgreSQL schemas) before its systems start:
about 1 s instead of 5-7 s on this project's two-core machine.

A world's *kind* is everything its settings fix except the data directory: the backend, the
clock's start, the population, the people, the addresses… (a hash of them, and of the registry
fixture files' contents). Only settings with a fixed ``clock_start`` qualify: a world whose clock
starts at the wall-clock "now" of its first start would otherwise start at the template's.

What a copy shares with its template and with every other copy: the key material (CA, systems,
people) and the run's tokens -- fine for tests and scenario runs on one machine, which is what
this is for; a world kept for real work is best made fresh (leave the variable unset, the default).
Several processes (pytest-xdist's workers) share ``DIR``: a file lock makes one build each template.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hashlib
import json
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from simulation.settings import Settings

ENV = "EGOV_SIM_WORLD_TEMPLATES"
SNAPSHOT = "template"
VERSION = 1
"""Bumped when what a template holds changes shape."""


def folder() -> Path | None:
    """Where templates are kept (``EGOV_SIM_WORLD_TEMPLATES``), or None: templates are off."""
    value = os.environ.get(ENV, "").strip()
    return Path(value).expanduser().resolve() if value else None


def kind(settings: Settings) -> str | None:
    """The template key of a world of ``settings``, or None when its settings do not fix it."""
    if settings.clock_start is None:
        return None
    fields = settings.model_dump(mode="json", exclude={"data_dir", "admin_token", "auditor_token"})
    fixtures = []
    for path in settings.registry_fixtures:
        try:
            fixtures.append(hashlib.sha256(Path(path).read_bytes()).hexdigest())
        except OSError:
            return None  # the world's start will say what is wrong with the file
    text = json.dumps([VERSION, _code(), fields, fixtures], sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:20]


@functools.cache
def _code() -> str:
    """A digest of the project's own code and package data (names, sizes, modification times):
    a template built by other code -- other tables, other fixtures, another CA -- is another kind,
    so a kept templates folder is never out of date after an upgrade or a pull."""
    from simulation.topology import SYSTEMS

    root = Path(__file__).resolve().parents[1]
    packages = {s.app.partition(":")[0].partition(".")[0] for s in SYSTEMS.values()}
    packages |= {"simulation", "runtime", "reglaments", "gateway_protocol", "egov_sim", "control"}
    digest = hashlib.sha256()
    for package in sorted(packages):
        for path in sorted((root / package).rglob("*")):
            if path.suffix in (".py", ".yaml") and path.is_file():
                stat = path.stat()
                digest.update(f"{path.relative_to(root)} {stat.st_size} {stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()


def is_fresh(settings: Settings) -> bool:
    """No world in the data directory yet (missing or empty)."""
    data_dir = settings.data_dir.expanduser()
    return not data_dir.exists() or not any(data_dir.iterdir())


def template_settings(settings: Settings, key: str, root: Path) -> Settings:
    return settings.model_copy(update={"data_dir": root / key / "world"})


async def prepare(settings: Settings) -> bool:
    """Make the fresh world of ``settings`` a copy of its kind's template (built first if need be);
    whether it did. Nothing happens when templates are off, the world is not fresh or its
    settings do not fix its kind."""
    root = folder()
    key = kind(settings) if root is not None else None
    if root is None or key is None or not is_fresh(settings):
        return False
    from egov_sim import snapshot

    template = template_settings(settings, key, root)
    snapshot_folder = snapshot.snapshots_dir(template) / SNAPSHOT
    if not (snapshot_folder / snapshot.MANIFEST).is_file():
        async with _building.setdefault(key, asyncio.Lock()), _file_lock(root / f"{key}.lock"):
            if not (snapshot_folder / snapshot.MANIFEST).is_file():  # another may have built it meanwhile
                await _build(template)
    await asyncio.to_thread(snapshot.restore_folder, settings, snapshot_folder)
    return True


_building: dict[str, asyncio.Lock] = {}
"""One builder per kind within a process (the file lock below serves between processes)."""


@contextlib.asynccontextmanager
async def _file_lock(path: Path, poll: float = 0.1) -> AsyncIterator[None]:
    """An exclusive lock on ``path`` between processes (flock), asked for without blocking and
    polled on the event loop: a cancelled waiter leaves no thread behind to take it later."""
    import fcntl

    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as handle:
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                await asyncio.sleep(poll)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


async def _build(template: Settings) -> None:
    """Start a world of the template's settings, save it while it runs, stop it."""
    import shutil

    from egov_sim import snapshot
    from egov_sim.inprocess import Simulation
    from simulation.database import drop_run
    from simulation.topology import SYSTEMS

    data_dir = template.data_dir
    if data_dir.exists():  # a build interrupted before its snapshot: start it again
        shutil.rmtree(data_dir)
    await drop_run(template, (*SYSTEMS, "simulation"))
    async with Simulation(template, from_template=False) as world:
        # the registries load their population in the background: saved only once it is in, so
        # that every copy starts with it rather than loading it again
        await world.apps["registries"].state.registries.loaded.wait()
        await asyncio.to_thread(snapshot.save, template, SNAPSHOT, replace=True)


async def drop_all(root: Path) -> None:
    """Remove the templates' PostgreSQL schemas (their files go with ``root``)."""
    from simulation.database import drop_run
    from simulation.settings import Settings
    from simulation.topology import SYSTEMS

    if not root.is_dir():
        return
    for world in sorted(root.glob("*/world")):
        await drop_run(Settings(data_dir=world), (*SYSTEMS, "simulation"))
