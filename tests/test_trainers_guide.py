"""docs/trainers.md runs as written: every shell block marked `<!-- trainer: runs -->` is run with
bash in a fresh folder, with the installed `egov-sim` on the PATH, and must end well and print
what the guide says it prints."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
GUIDE = ROOT / "docs" / "trainers.md"
BLOCK = re.compile(r"<!-- trainer: runs -->\n```sh\n(.*?)```", re.S)


def blocks() -> list[str]:
    return BLOCK.findall(GUIDE.read_text(encoding="utf-8"))


def test_the_guide_has_its_runnable_blocks():
    assert len(blocks()) == 6


@pytest.fixture
def shell(tmp_path):
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
           "EGOV_SIM_POPULATION_SIZE": "200"}
    env.pop("EGOV_SIM_DATA_DIR", None)

    def run(script: str) -> subprocess.CompletedProcess:
        done = subprocess.run(["bash", "-euo", "pipefail", "-c", script], cwd=tmp_path, env=env,
                              capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stdout + done.stderr
        assert "Traceback" not in done.stderr, done.stderr
        return done

    return run


def test_one_application_is_narrated_in_russian(shell):
    out = shell(blocks()[0]).stdout
    for label in ("1-процесс", "2-шарт", "5-тармақ, 3)", "10-процесс"):
        assert label in out, out
    assert "almaty-queue / corporation / approved: одобрено" in out, out
    assert "Авторизация в АРМ ИИС Госкорпорации" in out, out


def test_the_staff_work_by_hand_as_the_file_says(shell):
    out = shell(blocks()[1]).stdout
    assert out.startswith("PASS  almaty-queue / portal: the executor refuses, the head signs the refusal"), out
    assert "Ж. Сапарова" in out and "отбасы құрамы туралы мәліметтер расталмады" in out, out
    assert "1 scenarios: 1 passed" in out, out


def test_a_class_world_is_saved_and_restored(shell, tmp_path):
    out = shell(blocks()[2]).stdout
    assert "before-class" in out.splitlines()[-1], out  # `snapshot list` names it
    assert (tmp_path / "class-world" / "snapshots" / "before-class" / "manifest.json").is_file()


def test_one_application_is_exported_in_every_format(shell, tmp_path):
    out = shell(blocks()[3]).stdout
    for label in ("1-процесс", "5-процесс", "8-процесс"):
        assert label in out, out
    assert (tmp_path / "flow.mmd").read_text(encoding="utf-8").startswith("sequenceDiagram")
    spans = json.loads((tmp_path / "spans.json").read_text(encoding="utf-8"))
    assert spans["resourceSpans"][0]["scopeSpans"][0]["spans"]
    page = (tmp_path / "flow.html").read_text(encoding="utf-8")
    assert page.lower().startswith("<!doctype html>") and 'id="egov-flow"' in page


def test_the_demo_stops_where_the_trainer_says(shell):
    done = shell(blocks()[4])
    assert "1-процесс" in done.stdout and "3-процесс" in done.stdout, done.stdout
    assert "8-процесс" not in done.stdout, done.stdout  # stopped after the third step
    assert done.stderr.count("q — остановить") == 3, done.stderr  # a prompt after each step shown


def test_the_reglament_is_written_as_bpmn(shell, tmp_path):
    shell(blocks()[5])
    for name in ("almaty-queue.bpmn", "wko-queue-portal.bpmn"):
        text = (tmp_path / name).read_text(encoding="utf-8")
        assert "http://www.omg.org/spec/BPMN/20100524/MODEL" in text and "BPMNDiagram" in text, name
