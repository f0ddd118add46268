"""The reglament definitions: each state service's reglament as data (:mod:`simulation.definition`).

A definition (``reglaments/definitions/<id>.yaml``, its cases in ``<id>.cases.yaml`` beside it)
holds what the seed's sections 2-4 say: the numbered processes and conditions of each channel
with their Kazakh text, the branches, which system performs each step with which operation, the
staff procedures with their actors and durations, the offices' working hours. The engine
(:mod:`simulation.engine`) walks it; docs/reglaments.md teaches how to write one.

The package's own definitions are read, then those of every folder named in the setting
``EGOV_SIM_REGLAMENTS`` (``os.pathsep``-separated): a user adds a reglament without code.
"""

from __future__ import annotations

import os
from functools import cache
from importlib.resources import as_file, files
from pathlib import Path

from simulation.definition import (
    Channel,
    Procedure,
    Reglament,
    ReglamentError,
    Step,
    StepKind,
    check_operations,
    load_file,
    load_folders,
)

DEFINITIONS = files(__package__) / "definitions"
SETTING = "EGOV_SIM_REGLAMENTS"


def folders() -> list[Path]:
    """Where definitions are read from: the package's folder, then the setting's folders."""
    return list(_folders(os.environ.get(SETTING, "")))


@cache
def _folders(extra: str) -> tuple[Path, ...]:
    """The folders for one value of the setting (every step of every application asks, through
    :func:`get_reglament`: the package's resources and the paths are looked up once)."""
    with as_file(DEFINITIONS) as own:
        found = [Path(own)]
    found += [Path(p).expanduser() for p in extra.split(os.pathsep) if p.strip()]
    return tuple(found)


@cache
def _load(key: tuple[Path, ...]) -> dict[str, Reglament]:
    return load_folders(list(key))


def all_reglaments() -> dict[str, Reglament]:
    """Every definition, by id (read once per set of folders)."""
    return _load(tuple(folders()))


def get_reglament(reglament_id: str) -> Reglament:
    try:
        return all_reglaments()[reglament_id]
    except KeyError:
        raise ReglamentError(
            f"unknown reglament {reglament_id!r} (known: {', '.join(all_reglaments())})"
        ) from None


__all__ = [
    "Channel",
    "Procedure",
    "Reglament",
    "ReglamentError",
    "Step",
    "StepKind",
    "all_reglaments",
    "check_operations",
    "folders",
    "get_reglament",
    "load_file",
]
