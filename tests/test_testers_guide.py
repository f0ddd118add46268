"""docs/testers.md runs as written: its scenario examples are taken out of the guide and played by
`egov-sim scenario run` as a subprocess -- those marked `<!-- scenario: passes -->` exit 0, the one
marked `fails` exits 1 with the steps' diff; the JUnit file parses with the right counts; the
coverage JSON has the shape the guide documents; every example (`reads` too) passes `scenario check`."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import yaml

from reglaments import all_reglaments

GUIDE = Path(__file__).resolve().parent.parent / "docs" / "testers.md"
MARKED = re.compile(r"<!-- scenario: (passes|fails|reads) -->\n```yaml\n(.*?)```", re.S)
CEILING = 900
"""Seconds after which a run is taken for hung (a world takes some seconds; a loaded box more)."""


def examples(kind: str | None = None) -> list[tuple[str, str]]:
    found = MARKED.findall(GUIDE.read_text(encoding="utf-8"))
    return [(k, text) for k, text in found if kind is None or k == kind]


def command(*args: str) -> list[str]:
    return [sys.executable, "-m", "egov_sim.cli", "scenario", *args]


def write_examples(folder: Path, kind: str) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for number, (_, text) in enumerate(examples(kind), 1):
        path = folder / f"{kind}-{number}.yaml"
        path.write_text(text, encoding="utf-8")
        paths.append(path)
    return paths


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Both runs at once (each starts worlds of its own): the `passes` examples with every output
    file, and the `fails` one."""
    folder = tmp_path_factory.mktemp("guide")
    env = {**os.environ, "EGOV_SIM_DATA_DIR": str(folder / "data"), "PYTHONUNBUFFERED": "1"}
    env.pop("EGOV_SIM_ADMIN_TOKEN", None)
    outputs = {"junit": folder / "out" / "junit.xml", "json": folder / "out" / "coverage.json",
               "html": folder / "out" / "coverage.html", "failing-junit": folder / "out" / "failing.xml"}
    passing = subprocess.Popen(
        command("run", *map(str, write_examples(folder / "passes", "passes")), "--junit", str(outputs["junit"]),
                "--coverage-json", str(outputs["json"]), "--coverage-html", str(outputs["html"])),
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    failing = subprocess.Popen(
        command("run", *map(str, write_examples(folder / "fails", "fails")), "--junit", str(outputs["failing-junit"])),
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    done = {}
    for name, process in (("passes", passing), ("fails", failing)):
        try:
            out, err = process.communicate(timeout=CEILING)
        except subprocess.TimeoutExpired:
            process.kill()
            out, err = process.communicate()
        done[name] = (process.returncode, out, err)
    return done, outputs


def test_the_guide_has_runnable_examples_and_the_first_is_a_complete_passing_one():
    found = examples()
    assert [k for k, _ in found].count("fails") == 1
    assert 1 <= [k for k, _ in found].count("passes") <= 3  # each is a whole world: keep them few
    first = GUIDE.read_text(encoding="utf-8").split("```yaml", 1)[0]
    assert first.rstrip().endswith("<!-- scenario: passes -->"), "the guide's first YAML is a scenario that passes"
    scenario = yaml.safe_load(found[0][1])
    assert {"given", "when", "then"} <= set(scenario)
    assert {"outcome", "steps", "result", "signature", "term_met", "messages"} <= set(scenario["then"])


def test_every_example_reads(tmp_path):
    paths = [p for kind in ("passes", "fails", "reads") for p in write_examples(tmp_path, kind)]
    done = subprocess.run(command("check", *map(str, paths)), capture_output=True, text=True, timeout=CEILING)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"{len(paths)} scenarios read, no problem found"


def test_every_documented_option_is_the_commands(tmp_path):
    done = subprocess.run(command("run", "--help"), capture_output=True, text=True, timeout=CEILING)
    text = GUIDE.read_text(encoding="utf-8")
    documented = set(re.findall(r"^\| `(--[a-z-]+)", text, re.M))
    assert documented >= {"--junit", "--coverage-json", "--coverage-html", "--target", "--data-dir"}
    for option in documented:
        assert option in done.stdout, option


def test_the_passing_examples_pass(runs):
    done, outputs = runs
    status, out, err = done["passes"]
    assert status == 0, out + err
    count = len(examples("passes"))
    assert f"{count} scenarios: {count} passed, 0 failed, 0 could not run" in out
    assert out.count("PASS  ") == count and "Traceback" not in out


def test_the_junit_file_parses_with_the_counts(runs):
    done, outputs = runs
    root = ET.parse(outputs["junit"]).getroot()
    count = len(examples("passes"))
    assert root.tag == "testsuites" and (root.get("tests"), root.get("failures"), root.get("errors")) == (str(count), "0", "0")
    assert len(root.findall("testsuite")) == count  # one a file
    cases = root.findall("testsuite/testcase")
    assert [c.get("name") for c in cases] == [yaml.safe_load(t)["name"] for _, t in examples("passes")]
    assert all(c.find("failure") is None and c.find("error") is None for c in cases)
    failing = ET.parse(outputs["failing-junit"]).getroot()
    assert (failing.get("tests"), failing.get("failures"), failing.get("errors")) == ("1", "1", "0")
    failure = failing.find("testsuite/testcase/failure")
    assert failure is not None and "-6-процесс" in failure.text and "+5-процесс" in failure.text


def test_the_coverage_json_has_the_documented_shape(runs):
    done, outputs = runs
    found = json.loads(outputs["json"].read_text(encoding="utf-8"))
    assert set(found) == set(all_reglaments())
    for reglament_id, reglament in all_reglaments().items():
        assert set(found[reglament_id]) == set(reglament.channels)
        for counts in found[reglament_id].values():
            assert set(counts) == {"steps", "branches"}
            for covered, total in counts.values():
                assert isinstance(covered, int) and isinstance(total, int) and 0 <= covered <= total
    certificate = found["almaty-certificate"]["corporation"]
    assert certificate["steps"][0] > 0 and certificate["branches"][0] > 0
    documented = json.loads(re.search(r"```json\n(.*?)```", GUIDE.read_text(encoding="utf-8"), re.S).group(1))
    for reglament_id, channels in documented.items():  # the guide's sample names what the run writes
        for channel, counts in channels.items():
            assert set(counts) == set(found[reglament_id][channel])
            assert [total for _, total in counts.values()] == [total for _, total in found[reglament_id][channel].values()]
    html = outputs["html"].read_text(encoding="utf-8")
    assert html.startswith("<!DOCTYPE html>") and html.count("<svg") == sum(len(r.channels) for r in all_reglaments().values())


def test_the_failing_example_fails_with_the_steps_diff(runs):
    done, _ = runs
    status, out, err = done["fails"]
    assert status == 1, out + err
    lines = out.splitlines()
    assert any(line.startswith("FAIL  almaty-certificate / corporation: a wrong expectation") for line in lines), out
    diff = [line.strip() for line in lines if line.startswith("      ")]
    assert "--- expected steps" in diff and "+++ actual steps" in diff
    assert "-6-процесс" in diff and "+5-процесс" in diff
    assert "1 scenarios: 0 passed, 1 failed, 0 could not run" in out
    assert "Traceback" not in out
