"""One system alone under uvicorn (README's "one system alone"), its certification authority not
running: it says at once what it waits for, and gives up in one line naming the URL."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest

from egov_sim.ports import free_base_port
from simulation.database import drop_run
from simulation.settings import Settings
from simulation.topology import SYSTEMS

CEILING = 120  # seconds, only against a hang: the system gives up after EGOV_SIM_CA_WAIT


def _run_portal_alone(settings: Settings, **env: str) -> tuple[int, str, str]:
    environment = {k: v for k, v in os.environ.items() if k != "EGOV_SIM_URLS"}
    environment.update(
        EGOV_SIM_DATA_DIR=str(settings.data_dir), EGOV_SIM_BASE_PORT=str(settings.base_port),
        EGOV_SIM_CA_WAIT="2", **env,
    )
    done = subprocess.run(
        [sys.executable, "-m", "uvicorn", "--factory", "portal.app:create_app",
         "--port", str(settings.port_of("portal"))],
        env=environment, capture_output=True, text=True, timeout=CEILING,
    )
    return done.returncode, done.stdout, done.stderr


@pytest.fixture
async def lone_run(tmp_path):
    settings = Settings(data_dir=tmp_path / "run", base_port=free_base_port())  # nothing listens there
    yield settings
    await drop_run(settings, (*SYSTEMS, "simulation"))


async def test_without_its_ca_a_system_says_what_it_waits_for_and_fails_in_one_line(lone_run):
    code, _, stderr = _run_portal_alone(lone_run)  # stderr is a pipe: JSON lines
    url = f"{lone_run.url_of('signatures')}/v1/ca/root"
    assert code != 0
    assert "Traceback" not in stderr
    lines = [json.loads(line) for line in stderr.splitlines()]  # every line is JSON
    assert {line["system"] for line in lines} == {"portal"}
    waiting = [n for n, line in enumerate(lines) if line["message"].startswith("waiting up to 2 s for the certification authority at " + url)]
    failed = [n for n, line in enumerate(lines)
              if line["level"] == "ERROR" and url in line["message"] and "could not start" in line["message"]]
    assert len(waiting) == 1 and len(failed) == 1, stderr
    assert waiting[0] < failed[0]
    assert re.fullmatch(
        rf"portal could not start: the certification authority at {re.escape(url)} did not answer "
        r"within 2 s \([^()\n]+\)",  # and why: the connection error
        lines[failed[0]]["message"],
    )


async def test_readable_lines_on_request(lone_run):
    code, _, stderr = _run_portal_alone(lone_run, EGOV_SIM_LOG_FORMAT="text")
    url = f"{lone_run.url_of('signatures')}/v1/ca/root"
    assert code != 0
    assert "Traceback" not in stderr and not stderr.lstrip().startswith("{")
    naming = [line for line in stderr.splitlines() if url in line]
    assert len(naming) == 2, stderr  # the wait, then the failure
    assert " WARNING portal signatures.client: waiting up to 2 s for the certification authority at " in naming[0]
    assert " ERROR   portal uvicorn.error: portal could not start: the certification authority at " in naming[1]
