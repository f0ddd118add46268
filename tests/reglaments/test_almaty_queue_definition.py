"""The almaty-queue definition against its seed: the same numbers, branches and durations."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from reglaments import ReglamentError, get_reglament
from reglaments import DEFINITIONS
from simulation.definition import Reglament
from simulation.trace import ReglamentViolation

SEED = "000_6e2fdb06047f15cf.txt"


@pytest.fixture
def appendix_1(seeds: Path) -> str:
    text = (seeds / SEED).read_text(encoding="utf-8")
    start = text.index("регламенті 1. Жалпы ережелер")
    end = text.index("№ 1/47 қаулысына 2 қосымша", start)
    return text[start:end]


def _numbered(block: str) -> list[str]:
    return [
        f"{kind}-{number}"
        for number, word in re.findall(r"^\s*(\d+) (процесс|шарт) –", block, re.M)
        for kind in ["process" if word == "процесс" else "condition"]
    ]


@pytest.mark.seeds
@pytest.mark.parametrize(("channel", "opening", "closing"), [
    ("corporation", "9. Мемлекеттік корпорация арқылы", "10. Портал арқылы"),
    ("portal", "10. Портал арқылы", "11. Мемлекеттік қызмет көрсету процесіндегі"),
])
def test_every_numbered_step_of_section_4_is_defined_in_order(appendix_1, channel, opening, closing):
    text = appendix_1
    block = text[text.index(opening):text.index(closing)]
    seed_steps = _numbered(block)
    defined = [s.key for s in get_reglament("almaty-queue").channel(channel).steps
               if not s.key.startswith("action-")]
    assert sorted(seed_steps) == sorted(defined)
    assert [k for k in seed_steps if k.startswith("process")] == [
        k for k in defined if k.startswith("process")
    ]


@pytest.mark.seeds
def test_staff_durations_are_the_seed_durations(appendix_1):
    text = re.sub(r"\s+", " ", appendix_1)
    section2 = text[text.index("5. Мемлекеттік қызмет көрсету процесінің құрамына"):text.index("6. Келесі рәсімді")]
    written = re.findall(r"– (\d+) \(\s*[^)]*\) ([а-яәіңғүұқөһ ]+?)[;.]", section2)
    reglament = get_reglament("almaty-queue")
    assert len(written) == len(reglament.staff_steps)
    for (amount, unit), staff in zip(written, reglament.staff_steps):
        assert f"{amount} {unit.strip()}" == staff.duration.kazakh(), staff.text_kk


def test_labels_and_branches():
    portal = get_reglament("almaty-queue").channel("portal")
    assert portal.first.label == "1-процесс"
    assert portal.step("condition-1").label == "1-шарт"
    assert portal.step("condition-1").successors == ("process-3", "process-2")
    assert portal.step("condition-2").successors == ("process-5", "process-4")
    assert portal.step("condition-3").successors == ("action-3", "process-7")
    assert portal.step("process-6").system == "provider_ws"
    assert portal.step("action-3").duration.kazakh() == "27 күнтізбелік күн"
    assert get_reglament("almaty-queue").term.kazakh() == "30 күнтізбелік күн"


def test_a_definition_that_does_not_hang_together_is_refused():
    data = yaml.safe_load((DEFINITIONS / "almaty-queue.yaml").read_text(encoding="utf-8"))
    Reglament.model_validate(data)  # as written, it holds
    data["channels"]["portal"]["steps"][0]["next"] = "process-99"
    with pytest.raises(ValueError, match="process-99"):
        Reglament.model_validate(data)


def test_unknown_reglament_and_channel_are_named():
    with pytest.raises(ReglamentError, match="no-such"):
        get_reglament("no-such")
    with pytest.raises(ReglamentError, match="fax"):
        get_reglament("almaty-queue").channel("fax")


async def test_the_tracer_refuses_a_step_the_reglament_does_not_allow(simulation):
    tracer = simulation.runtime("portal").tracer
    reglament = get_reglament("almaty-queue")
    with pytest.raises(ReglamentViolation, match="cannot start"):
        await tracer.record(reglament, "portal", "process-3", system="portal", application_id="a1")
    await tracer.record(reglament, "portal", "process-1", system="portal", application_id="a1")
    with pytest.raises(ReglamentViolation, match="cannot follow"):
        await tracer.record(reglament, "portal", "process-5", system="portal", application_id="a1")
    with pytest.raises(ReglamentViolation, match="performed by portal"):
        await tracer.record(reglament, "portal", "condition-1", system="provider_ws", application_id="a1")
