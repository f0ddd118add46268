"""docs/trainers.md runs as written: every shell block marked `<!-- trainer: runs -->` is run with
bash in a fresh folder, with the installed `egov-sim` on the PATH, and must end well and print
what the guide says it prints."""

from __future__ import annotations

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
    assert len(blocks()) == 3


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
