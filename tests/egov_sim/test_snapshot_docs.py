"""docs/snapshots.md runs as written: each of its ```bash blocks in one shell in a fresh folder
(the first without systems, the second with `egov-sim up`), and its ```python example. The page
has no other runnable block (a test says so: a new one needs its test here)."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from egov_sim.ports import free_base_port
from simulation.database import drop_run
from simulation.settings import Settings
from simulation.topology import SYSTEMS

DOC = Path(__file__).resolve().parents[2] / "docs" / "snapshots.md"


RUNNABLE = ("bash", "sh", "shell", "console", "zsh", "python", "pycon")


def _all_blocks() -> list[tuple[str, str]]:
    return re.findall(r"^```(\w*)\n(.*?)^```$", DOC.read_text(encoding="utf-8"), flags=re.S | re.M)


def _blocks(kind: str) -> list[str]:
    return [body for language, body in _all_blocks() if language == kind]


def _environment() -> dict[str, str]:
    environment = {k: v for k, v in os.environ.items() if k not in ("EGOV_SIM_URLS", "EGOV_SIM_DATA_DIR")}
    environment["EGOV_SIM_POPULATION_SIZE"] = "300"  # a smaller synthetic population: the same commands, faster
    environment["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{environment['PATH']}"
    return environment


def test_every_runnable_block_of_the_page_is_run_here():
    """Two ```bash blocks (the tests below, by position) and one ```python; nothing else runnable."""
    assert [language for language, _ in _all_blocks() if language in RUNNABLE] == ["bash", "bash", "python"]


@pytest.mark.skipif(sys.platform == "win32" or shutil.which("jq") is None, reason="bash and jq")
async def test_the_commands_of_the_page_run_as_written(tmp_path):
    block = _blocks("bash")[0]
    environment = _environment()
    try:
        done = subprocess.run(["bash", "-euo", "pipefail", "-c", block], cwd=tmp_path, env=environment,
                              capture_output=True, text=True, timeout=900)
    finally:
        await drop_run(Settings(data_dir=tmp_path / "world"), (*SYSTEMS, "simulation"))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "ready  virtual time" in done.stdout
    filed, again = (json.loads((tmp_path / name).read_text()) for name in ("filed.json", "again.json"))
    assert filed["outcome"] == again["outcome"] == "approved"
    assert again["world"]["clock_at_start"] == filed["world"]["clock_at_start"]
    number = filed["result"]["document"]["queue"]["sequenceNumber"]
    assert again["result"]["document"]["queue"]["sequenceNumber"] == number
    printed = done.stdout.splitlines()
    clock = json.dumps(filed["world"]["clock_at_start"])
    assert printed[-5:-1] == [clock, str(number), clock, str(number)]  # what jq printed
    assert printed[-1] == "deleted snapshot ready"
    assert not (tmp_path / "world" / "snapshots" / "ready").exists()


@pytest.mark.skipif(sys.platform == "win32", reason="bash, POSIX signals")
async def test_the_commands_with_up_running_run_as_written(tmp_path):
    block = _blocks("bash")[1]
    environment = _environment()
    environment["EGOV_SIM_BASE_PORT"] = str(free_base_port())  # not the page's 8700: other runs may hold it
    shell = subprocess.Popen(["bash", "-euo", "pipefail", "-c", block], cwd=tmp_path, env=environment,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        stdout, stderr = shell.communicate(timeout=900)  # a ceiling against a hang only
    finally:
        if shell.poll() is None:  # hung: end the shell and the up it started (its own session)
            os.killpg(shell.pid, signal.SIGTERM)
            shell.communicate()
        await drop_run(Settings(data_dir=tmp_path / "world"), (*SYSTEMS, "simulation"))
    log = (tmp_path / "up.log").read_text() if (tmp_path / "up.log").exists() else ""
    assert shell.returncode == 0, stdout + stderr + log
    assert stdout.count("(by egov-sim up, pid") == 2, stdout + log  # neither ran without up
    assert "snapshot save before-visit: saved at virtual time" in stdout
    assert "snapshot restore before-visit: restored to virtual time" in stdout
    assert "every system was started again" in stdout
    assert "All systems stopped." in log
    assert not (tmp_path / "world" / "up.json").exists()
    assert (tmp_path / "world" / "snapshots" / "before-visit" / "manifest.json").is_file()


async def test_the_python_example_runs(tmp_path, monkeypatch):
    (example,) = _blocks("python")
    import tempfile

    real = tempfile.mkdtemp  # the example's own folder is tmp_path (its schemas dropped after)
    monkeypatch.setattr("tempfile.mkdtemp", lambda *a, **k: real(*a, **k) if a or k else str(tmp_path))
    code = compile(example.replace("asyncio.run(main())", ""), str(DOC), "exec")
    namespace: dict = {}
    exec(code, namespace)
    try:
        await namespace["main"]()
    finally:
        await drop_run(Settings(data_dir=tmp_path / "world"), (*SYSTEMS, "simulation"))
