"""The definition language on its own: what a small made-up definition becomes when it loads, and
how each broken one is refused -- naming the file, the step and the rule."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from simulation.definition import (
    Reglament, ReglamentError, StepKind, check_operations, definition_files, load_file, load_folders,
)
from simulation.engine import Done, Operations, StepCall
from tests.simulation.made_up import header, step, text


def definition(reglament_id: str = "unit-def") -> dict[str, Any]:
    return {
        **header(reglament_id, "UND", "made up for the definition's unit tests"),
        "offices": {"provider_ws": {"days": "mon-fri", "hours": "09:00-18:00", "breaks": ["13:00-14:00"]}},
        "staff": {"item": 2, "procedures": [
            {"number": 1, "actor": "clerk", "duration": "2 hours", "name": text("prepare"),
             "text_kk": "маман дайындайды", "operation": "prepare", "params": {"form": "notification"}},
            {"number": 2, "actor": "head", "duration": "30 minutes", "name": text("sign"),
             "text_kk": "басшы қол қояды", "operations": [{"operation": "sign"}, {"operation": "send"}]},
        ]},
        "channels": {
            "main": {"item": 3, "steps": [
                step("process-1", "portal", "take", next="condition-1"),
                step("condition-1", "portal", "judge", then="process-2", **{"else": "process-3"}),
                step("process-3", "portal", "refuse", outcome="rejected"),
                step("process-2", "provider_ws", "register", next="process-4"),
                step("process-4", "provider_ws", "check", during="action-1", next="action-1"),
                step("action-1", next="action-2", label="ішкі 1)"),
                step("action-2", next="item-1"),
                step("item-1", "portal", "deliver", office_hours=True, outcome="decided"),
            ]},
        },
    }


def write(folder: Path, data: dict[str, Any], name: str | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name or data['id']}.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def steps(data: dict[str, Any]) -> list[dict[str, Any]]:
    return data["channels"]["main"]["steps"]


def refusal(tmp_path: Path, data: dict[str, Any]) -> str:
    """The message load_file refuses ``data`` with; it names the file."""
    path = write(tmp_path, data)
    with pytest.raises(ReglamentError) as refused:
        load_file(path)
    message = str(refused.value)
    assert message.startswith(f"{path}: "), message
    return message


# ---- what loads -------------------------------------------------------------------------------------


def test_a_definition_loads_with_its_procedures_linked_into_the_channel(tmp_path):
    reglament = load_file(write(tmp_path, definition()))
    assert reglament.path == str(tmp_path / "unit-def.yaml")
    channel = reglament.channel("main")
    assert channel.name == "main" and channel.first.key == "process-1"
    labels = {s.key: s.label for s in channel.steps}
    assert labels == {
        "process-1": "1-процесс", "condition-1": "1-шарт", "process-3": "3-процесс", "process-2": "2-процесс",
        "process-4": "4-процесс", "action-1": "ішкі 1)", "action-2": "2-тармақ, 2)", "item-1": "3-тармақ, 1)",
    }
    action = channel.step("action-2")
    assert (action.kind, action.number, action.system, action.actor, action.procedure) == (
        StepKind.action, 2, "provider_ws", "head", 2)
    assert action.duration.kazakh() == "30 минут" and action.text_kk == "басшы қол қояды"
    assert action.calls == [("sign", {}), ("send", {})]
    assert channel.step("action-1").calls == [("prepare", {"form": "notification"})]
    assert channel.step("condition-1").successors == ("process-2", "process-3")
    assert reglament.schedule_of("provider_ws").hours == (9 * 60, 18 * 60)
    assert reglament.schedule_of("portal").is_always
    assert [s.key for _, s in reglament.steps_of("portal")] == ["process-1", "condition-1", "process-3", "item-1"]
    with pytest.raises(ReglamentError, match="'unit-def' has no channel 'fax' \\(it has: main\\)"):
        reglament.channel("fax")


# ---- refusals: the step and the rule -------------------------------------------------------------------


def test_an_unknown_successor_is_refused(tmp_path):
    data = definition()
    steps(data)[0]["next"] = "process-9"
    assert "channel main, step process-1: leads to unknown step 'process-9'" in refusal(tmp_path, data)


def test_a_condition_without_else_is_refused(tmp_path):
    data = definition()
    del steps(data)[1]["else"]
    message = refusal(tmp_path, data)
    assert "channels.main.steps.1" in message
    assert "condition-1: a condition needs `then` and `else`" in message


def test_a_step_with_both_next_and_outcome_is_refused(tmp_path):
    data = definition()
    steps(data)[2]["next"] = "process-2"
    assert "process-3: needs exactly one of `next`, `outcome` or `then` and `else`" in refusal(tmp_path, data)


def test_a_step_without_an_operation_is_refused(tmp_path):
    data = definition()
    del steps(data)[3]["operation"]
    assert "channel main, step process-2: needs `operation` (what provider_ws does)" in refusal(tmp_path, data)


def test_a_step_without_a_name_is_refused(tmp_path):
    data = definition()
    del steps(data)[0]["name"]
    assert "channel main, step process-1: needs `system`, `text_kk` and `name`" in refusal(tmp_path, data)


def test_operation_and_operations_together_are_refused(tmp_path):
    data = definition()
    steps(data)[0]["operations"] = [{"operation": "take"}]
    assert "channel main, step process-1: give `operation` or `operations`, not both" in refusal(tmp_path, data)


def test_during_must_name_an_action_of_the_channel(tmp_path):
    data = definition()
    steps(data)[4]["during"] = "process-1"
    assert ("channel main, step process-4: `during` names 'process-1', not an action step of the channel"
            in refusal(tmp_path, data))
    steps(data)[4]["during"] = "action-7"
    assert "`during` names 'action-7'" in refusal(tmp_path, data)


def test_a_procedure_with_an_unknown_actor_is_refused(tmp_path):
    data = definition()
    data["staff"]["procedures"][1]["actor"] = "nobody"
    assert "staff procedure 2: unknown actor 'nobody' (actors: clerk, head)" in refusal(tmp_path, data)


def test_procedures_numbered_with_a_gap_are_refused(tmp_path):
    data = definition()
    data["staff"]["procedures"][1]["number"] = 3
    assert "staff.procedures must be numbered 1, 2, 3, … without gaps" in refusal(tmp_path, data)


def test_an_action_without_its_procedure_is_refused(tmp_path):
    data = definition()
    steps(data)[6]["key"] = "action-5"
    steps(data)[5]["next"] = "action-5"
    assert "channel main, step action-5: no staff procedure 5" in refusal(tmp_path, data)


def test_an_unreachable_step_is_refused(tmp_path):
    data = definition()
    steps(data).append(step("process-9", "portal", "refuse", outcome="rejected"))
    assert "channel main: no path from process-1 reaches process-9" in refusal(tmp_path, data)


def test_a_channel_with_no_outcome_is_refused(tmp_path):
    data = definition()
    data["channels"]["loop"] = {"item": 4, "steps": [
        step("process-1", "portal", "take", next="process-2"),
        step("process-2", "portal", "take", next="process-1"),
    ]}
    assert "channel loop: no step ends the application (`outcome`)" in refusal(tmp_path, data)


def test_a_step_key_twice_is_refused(tmp_path):
    data = definition()
    steps(data).append(copy.deepcopy(steps(data)[2]))
    assert "channel main: a step key appears twice" in refusal(tmp_path, data)


def test_a_bad_step_key_is_refused(tmp_path):
    data = definition()
    steps(data)[0]["key"] = "step-1"
    assert "step key 'step-1' is not <process|condition|action|item>-<N>[-<variant>]" in refusal(tmp_path, data)


def test_unknown_systems_are_refused_where_they_are_named(tmp_path):
    data = definition()
    steps(data)[3]["system"] = "fax_office"
    message = refusal(tmp_path, data)
    assert "channels.main.steps.3" in message and "process-2: unknown system 'fax_office'" in message

    data = definition()
    data["actors"]["clerk"]["system"] = "fax_office"
    message = refusal(tmp_path, data)
    assert "actors.clerk.system" in message and "unknown system 'fax_office'" in message

    data = definition()
    data["offices"]["fax_office"] = {"always": True}
    assert "offices: 'fax_office' is neither a system nor an actor of the definition" in refusal(tmp_path, data)


def test_bad_office_hours_are_refused_naming_the_field(tmp_path):
    data = definition()
    data["offices"]["provider_ws"]["hours"] = "18:00-09:00"
    assert "offices.provider_ws: hours: '18:00-09:00' ends before it starts" in refusal(tmp_path, data)

    data = definition()
    data["offices"]["provider_ws"]["breaks"] = ["19:00-20:00"]
    assert "offices.provider_ws: breaks: '19:00-20:00' is not inside hours '09:00-18:00'" in refusal(tmp_path, data)

    data = definition()
    data["offices"]["provider_ws"]["days"] = "mon-funday"
    assert "offices.provider_ws: days: 'mon-funday' is not a day name or range" in refusal(tmp_path, data)

    data = definition()
    data["offices"]["provider_ws"]["open"] = "always"
    assert "offices.provider_ws: schedule: unknown field 'open'" in refusal(tmp_path, data)


def test_a_bad_duration_is_refused(tmp_path):
    data = definition()
    data["staff"]["procedures"][0]["duration"] = "a while"
    message = refusal(tmp_path, data)
    assert "staff.procedures.0.duration" in message and "cannot parse duration 'a while'" in message


def test_cases_must_name_a_channel_and_known_documents(tmp_path):
    data = definition()
    data["cases"] = {"fax": {"one": {}}}
    assert "cases: no channel 'fax'" in refusal(tmp_path, data)
    data["cases"] = {"main": {"short": {"omit_documents": ["passport"]}}}
    assert "cases.main.short: omit_documents names unknown 'passport'" in refusal(tmp_path, data)


def test_a_file_whose_id_is_not_its_name_or_not_a_mapping_is_refused(tmp_path):
    path = write(tmp_path, definition("unit-def"), name="other-name")
    with pytest.raises(ReglamentError, match="id 'unit-def' differs from the file name"):
        load_file(path)
    path.write_text("- just\n- a list\n", encoding="utf-8")
    with pytest.raises(ReglamentError, match="not a mapping of definition fields"):
        load_file(path)
    path.write_text("id: [unclosed\n", encoding="utf-8")
    with pytest.raises(ReglamentError, match=str(path)):
        load_file(path)


def test_the_model_alone_refuses_as_well(tmp_path):
    data = definition()
    steps(data)[0]["next"] = "process-9"
    with pytest.raises(ValueError, match="leads to unknown step 'process-9'"):
        Reglament.model_validate(data)


# ---- folders ----------------------------------------------------------------------------------------------


def test_the_cases_file_beside_a_definition_is_read_with_it(tmp_path):
    folder = tmp_path / "defs"
    write(folder, definition())
    (folder / "unit-def.cases.yaml").write_text(yaml.safe_dump({"cases": {"main": {"approved": {
        "applicant": "owner", "expect": {"outcome": "approved", "steps": ["1-процесс"]},
    }}}}, allow_unicode=True), encoding="utf-8")
    assert [p.name for p in definition_files(folder)] == ["unit-def.yaml"]
    found = load_folders([folder])
    assert list(found) == ["unit-def"]
    case = found["unit-def"].cases["main"]["approved"]
    assert case.applicant == "owner" and case.expect == {"outcome": "approved", "steps": ["1-процесс"]}


def test_a_broken_cases_file_is_refused_like_its_definition(tmp_path):
    folder = tmp_path / "defs"
    path = write(folder, definition())
    (folder / "unit-def.cases.yaml").write_text(yaml.safe_dump({"cases": {"main": {"x": {"colour": "red"}}}}))
    with pytest.raises(ReglamentError, match=r"cases\.main\.x\.colour"):
        load_file(path)


def test_the_same_id_in_two_folders_is_refused_naming_both_files(tmp_path):
    first = write(tmp_path / "one", definition())
    second = write(tmp_path / "two", definition())
    other = write(tmp_path / "two", definition("unit-other"))
    with pytest.raises(ReglamentError) as refused:
        load_folders([tmp_path / "one", tmp_path / "two"])
    assert str(refused.value) == f"{second}: reglament 'unit-def' is already defined in {first}"
    assert set(load_folders([tmp_path / "two"])) == {"unit-def", "unit-other"}
    assert load_folders([tmp_path / "two"])["unit-other"].path == str(other)


def test_a_missing_folder_is_refused(tmp_path):
    with pytest.raises(ReglamentError, match="not a folder of reglament definitions"):
        load_folders([tmp_path / "absent"])


# ---- operations ---------------------------------------------------------------------------------------------


def catalogue(system: str, *names: str) -> Operations:
    operations = Operations(system)
    for name in names:
        @operations.operation(name, summary=f"does {name}")
        async def function(target: Any, call: StepCall) -> Done:
            return Done()
    return operations


def test_operations_name_what_is_wrong_with_a_call():
    operations = catalogue("provider_ws", "register")

    @operations.operation("send", summary="sends", params={"service_id": "where", "note": "why"},
                          required=("service_id",))
    async def send(target: Any, call: StepCall) -> Done:
        return Done()

    assert "send" in operations and operations.get("send").required == ("service_id",)
    assert operations.problem("send", {"service_id": "X"}) is None
    assert operations.problem("fly", {}) == "provider_ws has no operation 'fly' (it has: register, send)"
    assert operations.problem("send", {"service_id": "X", "colour": "red"}) == (
        "operation 'send' of provider_ws takes no parameter 'colour' (it takes: service_id, note)")
    assert operations.problem("register", {"x": 1}) == (
        "operation 'register' of provider_ws takes no parameter 'x' (it takes: none)")
    assert operations.problem("send", {"note": "n"}) == "operation 'send' of provider_ws needs parameter 'service_id'"
    assert Operations("portal").problem("take", {}) == "portal has no operation 'take' (it has: none)"
    with pytest.raises(ValueError, match="provider_ws: operation 'send' registered twice"):
        operations.operation("send", summary="again")(send)


def test_check_operations_names_the_file_the_channel_and_the_step(tmp_path):
    reglament = load_file(write(tmp_path, definition()))
    portal = catalogue("portal", "take", "judge", "refuse", "deliver")
    provider = catalogue("provider_ws", "register", "check", "prepare", "sign", "send")
    check_operations(reglament, portal)
    with pytest.raises(ReglamentError) as refused:
        check_operations(reglament, provider)
    assert str(refused.value) == (
        f"{reglament.path}: channel main, step action-1: operation 'prepare' of provider_ws takes no "
        "parameter 'form' (it takes: none)")

    with pytest.raises(ReglamentError) as refused:
        check_operations(reglament, catalogue("portal", "take", "judge", "deliver"))
    assert str(refused.value) == (
        f"{reglament.path}: channel main, step process-3: portal has no operation 'refuse' "
        "(it has: deliver, judge, take)")

    # a definition made in memory has no file: its id stands for it
    data = definition()
    del data["staff"]["procedures"][0]["params"]
    in_memory = Reglament.model_validate(data)
    with pytest.raises(ReglamentError, match=r"^unit-def: channel main, step action-2: provider_ws has no operation 'send'"):
        check_operations(in_memory, catalogue("provider_ws", "register", "check", "prepare", "sign"))


def test_staged_procedures_are_labelled_by_stage_and_place_within_it(tmp_path):
    data = definition()
    data["staff"]["stages"] = [
        {"number": 1, "name": text("decision"), "term": "30 calendar days"},
        {"number": 2, "name": text("contract"), "term": "5 working days"},
    ]
    for procedure, stage in zip(data["staff"]["procedures"], (1, 2, 2, 2, 2, 2)):
        procedure["stage"] = stage
    path = tmp_path / f"{data['id']}.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    reglament = load_file(path)
    labels = [reglament.staff.label_of(p) for p in reglament.staff.procedures]
    assert labels[:2] == [f"{data['staff']['item']}-тармақ, 1-кезең, 1)", f"{data['staff']['item']}-тармақ, 2-кезең, 1)"]
    assert reglament.staff.stage(2).term.english() == "5 working days"
    actions = [s for c in reglament.channels.values() for s in c.steps if s.key == "action-2"]
    assert actions and all(s.stage == 2 for s in actions)


def test_a_procedure_outside_the_stages_is_refused(tmp_path):
    data = definition()
    data["staff"]["stages"] = [{"number": 1, "name": text("decision"), "term": "30 calendar days"}]
    for procedure in data["staff"]["procedures"]:
        procedure["stage"] = 1
    data["staff"]["procedures"][0]["stage"] = 3
    assert "staff procedure 1: stage 3 is none of staff.stages" in refusal(tmp_path, data)
    data["staff"]["procedures"][0].pop("stage")
    assert "every procedure names its stage" in refusal(tmp_path, data)


def test_a_step_timed_in_unknown_hours_is_refused(tmp_path):
    data = definition()
    steps(data)[2]["hours"] = "courier"
    assert "process-3: `hours` names 'courier', none of `offices`" in refusal(tmp_path, data)


def test_a_step_that_branches_needs_both_ways(tmp_path):
    data = definition()
    step_ = steps(data)[2]
    step_.pop("next", None), step_.pop("outcome", None)
    step_["then"] = "process-2"
    assert "process-3: a step that branches needs `then` and `else`" in refusal(tmp_path, data)
