"""docs/reglaments.md as written: its made-up reglament loads from a folder of
``EGOV_SIM_REGLAMENTS`` and every case of it runs as its cases file says, its command runs, and its
list of operations is every system's list."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from egov_sim.scenarios import run_case
from reglaments import all_reglaments, get_reglament

DOC = Path(__file__).resolve().parents[2] / "docs" / "reglaments.md"
FILES = re.compile(r"<!-- file: (?P<name>[\w.-]+) -->\n```yaml\n(?P<body>.*?)\n```", re.S)
EXAMPLE_CASES = ("approved", "refused", "incomplete-package", "no-registry-data")


def write_example(folder: Path) -> list[str]:
    folder.mkdir(parents=True, exist_ok=True)
    names = []
    for match in FILES.finditer(DOC.read_text(encoding="utf-8")):
        (folder / match["name"]).write_text(match["body"] + "\n", encoding="utf-8")
        names.append(match["name"])
    return names


@pytest.fixture
def example(tmp_path, monkeypatch):
    folder = tmp_path / "my-reglaments"
    assert write_example(folder) == ["example-queue.yaml", "example-queue.cases.yaml"]
    monkeypatch.setenv("EGOV_SIM_REGLAMENTS", str(folder))
    return folder


@pytest.mark.parametrize("case", EXAMPLE_CASES)
async def test_every_case_of_the_example_runs_as_its_cases_file_says(example, settings, case):
    reglament = get_reglament("example-queue")
    assert set(reglament.cases["front-office"]) == set(EXAMPLE_CASES)
    expect = reglament.cases["front-office"][case].expect
    report = await run_case(settings, "example-queue", "front-office", case)
    assert [e["label"] for e in report["trace"]] == expect["steps"]
    assert report["outcome"] == expect["outcome"]
    if report["outcome"] != "rejected":
        assert report["result"]["verdict"]["code"] == "VALID"
        registration = next(e["detail"] for e in report["trace"] if e["label"] == "6-процесс")
        assert "EXQ-" in registration  # the definition's own registration prefix


def test_the_example_sits_beside_the_packages_own(example):
    assert {"almaty-queue", "wko-queue", "example-queue"} <= set(all_reglaments())


def test_the_command_runs_as_written(tmp_path):
    write_example(tmp_path / "my-reglaments")
    command = re.search(r"```bash\n(EGOV_SIM_REGLAMENTS=.*?)\n```", DOC.read_text(encoding="utf-8"), re.S)[1]
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
           "EGOV_SIM_POPULATION_SIZE": "200"}
    env.pop("EGOV_SIM_REGLAMENTS", None)
    result = subprocess.run(["bash", "-c", command], cwd=tmp_path, env=env, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr
    assert "example-queue / front-office / approved: approved" in result.stdout
    assert "Result signature: VALID" in result.stdout


def test_the_export_command_runs_as_written(tmp_path):
    write_example(tmp_path / "my-reglaments")
    command = re.search(r"```sh\n(EGOV_SIM_REGLAMENTS=.*? reglaments export .*?)\n```", DOC.read_text(encoding="utf-8"), re.S)[1]
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    env.pop("EGOV_SIM_REGLAMENTS", None)
    result = subprocess.run(["bash", "-c", command], cwd=tmp_path, env=env, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr
    text = (tmp_path / "example-queue.bpmn").read_text(encoding="utf-8")
    assert "BPMNDiagram" in text and 'id="front-office_process-1"' in text, text[:500]


def test_the_doc_lists_every_operation_with_its_parameters():
    from corporation_ws.operations import OPERATIONS as front_office
    from portal.operations import OPERATIONS as portal
    from provider_ws.operations import OPERATIONS as provider
    from e_sobes.operations import OPERATIONS as e_sobes

    text = DOC.read_text(encoding="utf-8")
    for operations in (portal, front_office, provider, e_sobes):
        section = text[text.index(f"### `{operations.system}`"):]
        section = section[:section.find("\n### ", 1) if "\n### " in section[1:] else len(section)]
        listed = re.findall(r"^\| `([a-z-]+)` \|", section, re.M)
        assert listed == [o.name for o in operations], operations.system
        for operation in operations:
            row = next(line for line in section.splitlines() if line.startswith(f"| `{operation.name}` |"))
            for parameter in operation.params:
                assert f"`{parameter}`" in row, (operation.name, parameter)
