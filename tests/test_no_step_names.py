"""A reglament is data: no system package names a step key, a step number or a reglament id.

The systems offer operations; the definitions say which step calls which (docs/reglaments.md).
This test reads every module of the system packages -- code, docstrings and comments -- for a
step key (``process-3``, ``condition-2``, ``action-4``, ``item-1``), a step's label as the seeds
write it ("3-процесс", "2-шарт", "5-тармақ") and the id of any reglament definition.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from reglaments import all_reglaments

ROOT = Path(__file__).resolve().parent.parent
SYSTEM_PACKAGES = ("portal", "corporation_ws", "provider_ws", "registries", "signatures", "gateway",
                   "gateway_protocol", "e_akimdik", "e_sobes", "control", "runtime")
STEP = re.compile(r"\b(?:process|condition|action|item)-\d|\d+\s*-\s*(?:процесс|шарт)|\d+-тармақ,\s*\d+\)")
"""A step key, or a step's label ("3-процесс", "2-шарт", "5-тармақ, 3)"); an item of a law or of
the Standard cited in a refusal ("Стандарттың 9-тармағы") is not a step."""


def _modules() -> list[Path]:
    return sorted(p for package in SYSTEM_PACKAGES for p in (ROOT / package).rglob("*.py"))


def test_the_packages_are_there():
    assert len(_modules()) > 40


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_step_or_reglament_named(path):
    ids = sorted(all_reglaments(), key=len, reverse=True)
    named = re.compile("|".join(re.escape(i) for i in ids)) if ids else None
    problems = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if STEP.search(line) or (named and named.search(line)):
            problems.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert not problems, "\n".join(problems)


def test_the_check_finds_what_it_looks_for():
    assert STEP.search('await trace("process-3")') and STEP.search("before 3-процесс") and STEP.search("(2-шарт)")
    assert STEP.search("5-тармақ, 3)") and not STEP.search("Стандарттың 9-тармағында")
    assert not STEP.search("a multi-process run") and not STEP.search("pre-condition")
