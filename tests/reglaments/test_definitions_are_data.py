"""A reglament is data: a definition read from a folder of ``EGOV_SIM_REGLAMENTS`` runs with no
code change -- almaty-queue renumbered under another id beside the original, and a definition
that does not hang together is refused with its file, step and rule."""

from __future__ import annotations

import re

import pytest
import yaml

from egov_sim.scenarios import run_case
from reglaments import DEFINITIONS, ReglamentError, all_reglaments, get_reglament

KEY = re.compile(r"^process-(\d+)$")


def _renumbered(key: str | None, shift: int) -> str | None:
    match = KEY.match(key or "")
    return f"process-{int(match.group(1)) + shift}" if match else key


def renumber_channel(definition: dict, channel: str, shift: int) -> dict:
    """Every process of ``channel`` renumbered N -> N + shift, in keys and in links."""
    for step in definition["channels"][channel]["steps"]:
        for field in ("key", "next", "then", "else"):
            if field in step:
                step[field] = _renumbered(step[field], shift)
    return definition


@pytest.fixture
def own_folder(tmp_path, monkeypatch):
    folder = tmp_path / "definitions"
    folder.mkdir()
    monkeypatch.setenv("EGOV_SIM_REGLAMENTS", str(folder))
    return folder


async def test_a_renumbered_copy_runs_beside_the_original(own_folder, settings):
    definition = yaml.safe_load((DEFINITIONS / "almaty-queue.yaml").read_text(encoding="utf-8"))
    cases = yaml.safe_load((DEFINITIONS / "almaty-queue.cases.yaml").read_text(encoding="utf-8"))
    definition["id"] = "almaty-queue-renumbered"
    renumber_channel(definition, "portal", 40)
    (own_folder / "almaty-queue-renumbered.yaml").write_text(yaml.safe_dump(definition, allow_unicode=True), encoding="utf-8")
    (own_folder / "almaty-queue-renumbered.cases.yaml").write_text(
        yaml.safe_dump({"cases": {"portal": {"approved": cases["cases"]["portal"]["approved"]}}}, allow_unicode=True),
        encoding="utf-8",
    )
    assert {"almaty-queue", "almaty-queue-renumbered"} <= set(all_reglaments())
    original = get_reglament("almaty-queue").cases["portal"]["approved"].expect["steps"]
    expected = [re.sub(r"^(\d+)-процесс$", lambda m: f"{int(m.group(1)) + 40}-процесс", label) for label in original]
    assert expected != original

    report = await run_case(settings, "almaty-queue-renumbered", "portal", "approved")

    assert [e["label"] for e in report["trace"]] == expected
    assert report["outcome"] == "approved" and report["reglament"] == "almaty-queue-renumbered"
    assert report["result"]["verdict"]["code"] == "VALID"


def test_a_definition_that_does_not_hang_together_is_refused_naming_file_step_and_rule(own_folder):
    definition = yaml.safe_load((DEFINITIONS / "almaty-queue.yaml").read_text(encoding="utf-8"))
    definition["id"] = "broken"
    definition["channels"]["portal"]["steps"][3]["next"] = "process-99"
    (own_folder / "broken.yaml").write_text(yaml.safe_dump(definition, allow_unicode=True), encoding="utf-8")
    with pytest.raises(ReglamentError) as refused:
        all_reglaments()
    message = str(refused.value)
    assert "broken.yaml" in message and "process-3" in message and "unknown step 'process-99'" in message


def test_the_same_id_twice_is_refused(own_folder):
    (own_folder / "almaty-queue.yaml").write_text((DEFINITIONS / "almaty-queue.yaml").read_text(encoding="utf-8"),
                                                  encoding="utf-8")
    with pytest.raises(ReglamentError, match="already defined"):
        all_reglaments()


def test_an_operation_a_system_does_not_offer_is_refused():
    from portal.operations import OPERATIONS
    from simulation.definition import check_operations

    reglament = get_reglament("almaty-queue").model_copy(deep=True)
    reglament.channel("portal").steps[0].operation = "fly-to-the-moon"
    with pytest.raises(ReglamentError, match="step process-1: portal has no operation 'fly-to-the-moon'"):
        check_operations(reglament, OPERATIONS)
