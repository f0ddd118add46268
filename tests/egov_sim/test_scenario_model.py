"""Reading scenario files (egov_sim.scenario.model): a broken file is refused before anything runs,
with a message naming the file, the scenario and the field; `egov-sim scenario check` reads files
without running them; `scenario run` exits 2 on a file it cannot read, without a traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from egov_sim.cli import main
from egov_sim.scenario.model import ScenarioFileError, collect, load_file
from reglaments import get_reglament

REGLAMENT, CHANNEL = "almaty-certificate", "corporation"
GOOD = f"""\
name: the certificate
when:
  reglament: {REGLAMENT}
  channel: {CHANNEL}
  case: approved
"""


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def refusal(path: Path) -> str:
    with pytest.raises(ScenarioFileError) as caught:
        collect([path])
    return str(caught.value)


def scenario(when: str = "", then: str = "", given: str = "", name: str = "broken one") -> str:
    text = f"name: {name}\nwhen:\n  reglament: {REGLAMENT}\n  channel: {CHANNEL}\n{when}"
    if given:
        text += f"given:\n{given}"
    if then:
        text += f"then:\n{then}"
    return text


@pytest.mark.parametrize(("text", "field", "says"), [
    (scenario(then="  outcom: approved\n"), "then.outcom", "Extra inputs are not permitted"),
    (scenario(when="  applicnt: demo\n"), "when.applicnt", "Extra inputs are not permitted"),
    (scenario(then="  outcome: granted\n"), "then.outcome", "'approved', 'refused' or 'rejected'"),
    ("name: broken one\nwhen:\n  reglament: nowhere-queue\n  channel: portal\n", "when.reglament",
     "unknown reglament 'nowhere-queue'"),
    ("name: broken one\nwhen:\n  reglament: almaty-certificate\n  channel: portal\n", "when.channel",
     "has no channel 'portal' (it has: corporation)"),
    (scenario(when="  case: approvd\n"), "when.case", "no case 'approvd' (it has: approved,"),
    (scenario(then="  steps: ['1-процесс', '11-процесс']\n"), "then.steps", "'11-процесс' is no step of"),
    (scenario(when="  staff:\n    - step: 1\n"), "when.staff", "only with given.provider_staff: manual"),
    (scenario(when="  staff:\n    - step: 99\n", given="  provider_staff: manual\n"), "when.staff[0].step",
     "99 is no staff procedure"),
    (scenario(given="  provider_staff: sometimes\n"), "given.provider_staff", "'auto' or 'manual'"),
    (scenario(when="  certificate: stolen\n"), "when.certificate", "'valid', 'revoked', 'expired' or 'wrong-iin'"),
    (scenario(given="  clock: 2026-03-16T09:00:00\n"), "given.clock", "timezone"),
    ("name: broken one\nwhen:\n  channel: corporation\n", "when.reglament", "Field required"),
])
def test_a_broken_scenario_names_file_scenario_and_field(tmp_path, text, field, says):
    path = write(tmp_path, "broken.yaml", text)
    message = refusal(path)
    assert message.startswith(f"{path} (broken one): "), message
    assert f"{field}: " in message and says in message, message


def test_the_second_scenario_of_a_file_is_named_by_its_place(tmp_path):
    path = write(tmp_path, "two.yaml", GOOD + "---\n" + scenario(then="  outcome: granted\n", name="second"))
    message = refusal(path)
    assert message.startswith(f"{path}#2 (second): then.outcome"), message
    listed = write(tmp_path, "listed.yaml", "scenarios:\n  - when: {reglament: almaty-certificate, channel: corporation}\n"
                                            "  - when: {reglament: almaty-certificate, channel: corporation, case: x}\n")
    message = refusal(listed)
    assert message.startswith(f"{listed}#2 (listed #2): ") and "when.case: " in message, message


@pytest.mark.parametrize(("text", "says"), [
    ("when: [unclosed\n", "not YAML"),
    ("", "holds no scenario"),
    ("- just\n- a list\n", "holds a mapping"),
    ("scenarios: {a: 1}\n", "`scenarios` must be a list"),
    ("scenarios:\n  - 7\n", "each scenario is a mapping"),
])
def test_a_file_that_is_no_scenario_file(tmp_path, text, says):
    path = write(tmp_path, "odd.yaml", text)
    message = refusal(path)
    assert message.startswith(str(path)) and says in message, message


def test_a_folder_with_no_scenario_files_and_a_missing_path(tmp_path):
    write(tmp_path, "notes.txt", "not a scenario")
    assert refusal(tmp_path) == f"{tmp_path}: a folder with no scenario files (*.yaml)"
    assert refusal(tmp_path / "nowhere.yaml") == f"{tmp_path / 'nowhere.yaml'}: no such file or folder"


def test_a_folder_is_read_in_path_order_yaml_and_yml(tmp_path):
    (tmp_path / "b").mkdir()
    write(tmp_path / "b", "z.yml", GOOD.replace("the certificate", "third"))
    write(tmp_path, "a.yaml", GOOD.replace("the certificate", "first"))
    write(tmp_path / "b", "c.yaml", GOOD.replace("the certificate", "second"))
    write(tmp_path, "readme.md", "ignored")
    assert [s.name for s in collect([tmp_path])] == ["first", "second", "third"]


def test_a_scenario_without_a_name_is_named_by_its_file(tmp_path):
    path = write(tmp_path, "certificate-approved.yaml", GOOD.replace("name: the certificate\n", ""))
    [found] = load_file(path)
    assert found.name == "certificate-approved" and found.source == str(path)


def test_when_case_inherits_the_cases_expectations_and_then_overrides_them(tmp_path):
    expect = get_reglament(REGLAMENT).cases[CHANNEL]["no-registry-data"].expect
    [plain] = load_file(write(tmp_path, "a.yaml", GOOD.replace("approved", "no-registry-data")))
    assert plain.expected().outcome == expect["outcome"] == "rejected"
    assert plain.expected().steps == expect["steps"]
    assert plain.case().applicant == "unknown"
    [over] = load_file(write(tmp_path, "b.yaml", GOOD.replace("approved", "no-registry-data")
                             + "  applicant: demo\nthen:\n  outcome: approved\n"))
    assert over.case().applicant == "demo"  # when's fields over the case's
    assert over.expected().outcome == "approved"  # then's over the case's expectations
    assert over.expected().steps == expect["steps"]  # what then leaves out still comes from the case


def test_wrong_iin_is_a_valid_certificate_of_another_person(tmp_path):
    [found] = load_file(write(tmp_path, "a.yaml", GOOD + "  certificate: wrong-iin\n"))
    case = found.case()
    assert case.certificate == "valid" and case.signer == "other"


def test_check_reads_without_running(tmp_path, capsys):
    write(tmp_path, "a.yaml", GOOD + "---\n" + GOOD.replace("the certificate", "again"))
    assert main(["scenario", "check", str(tmp_path)]) == 0
    assert capsys.readouterr().out.strip() == "2 scenarios read, no problem found"
    broken = write(tmp_path, "b.yaml", scenario(then="  outcom: approved\n"))
    assert main(["scenario", "check", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"egov-sim scenario: {broken} (broken one): then.outcom"), err


def test_run_exits_2_on_a_broken_file_without_a_traceback_and_runs_nothing(tmp_path):
    good = write(tmp_path, "a.yaml", GOOD)
    broken = write(tmp_path, "b.yaml", scenario(then="  steps: ['1-процесс', '11-процесс']\n"))
    junit = tmp_path / "junit.xml"
    env = {**os.environ, "EGOV_SIM_DATA_DIR": str(tmp_path / "world")}
    done = subprocess.run([sys.executable, "-m", "egov_sim.cli", "scenario", "run", str(good), str(broken),
                           "--junit", str(junit)], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 2, done
    assert "Traceback" not in done.stderr + done.stdout
    assert done.stderr.startswith(f"egov-sim scenario: {broken} (broken one): "), done.stderr
    assert f"then.steps: '11-процесс' is no step of {REGLAMENT} / {CHANNEL}" in done.stderr
    assert done.stdout == "" and not junit.exists()  # nothing ran, the good file's scenario neither
