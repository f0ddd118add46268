"""docs/http.md runs as written: every ```bash block of it, in order, in one shell, against an
`egov-sim up` this test starts on free ports.

The page's commands read the systems' URLs from the variables it defines at the top
(``PORTAL=${PORTAL:-http://127.0.0.1:8705}`` …), and ``egov-sim apply`` finds them as every
system does (``EGOV_SIM_BASE_PORT``): the test sets those to the free ports and runs the blocks
unchanged. The page's ```sh block (``egov-sim up`` itself, which runs until stopped) is the one
the test performs by starting the systems.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from egov_sim.ports import free_base_port
from simulation.database import drop_run
from simulation.settings import Settings
from simulation.topology import START_ORDER, SYSTEMS

DOC = Path(__file__).resolve().parents[1] / "docs" / "http.md"
UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"

pytestmark = [
    pytest.mark.skipif(sys.platform == "win32", reason="bash and POSIX signals"),
    pytest.mark.skipif(shutil.which("jq") is None, reason="the walkthrough reads answers with jq (.ci/run installs it)"),
]


def bash_blocks(text: str) -> list[str]:
    return re.findall(r"^```bash\n(.*?)^```$", text, flags=re.S | re.M)


def test_the_page_has_the_blocks_this_test_runs():
    text = DOC.read_text(encoding="utf-8")
    blocks = bash_blocks(text)
    assert len(blocks) >= 8
    assert re.findall(r"^```(\w*)$", text, flags=re.M).count("sh") == 1  # `egov-sim up`, started by the test
    assert any("egov-sim apply" in b for b in blocks)
    assert any("/ncalayer" in b for b in blocks)
    # the tester's calls send the run's admin token, read from the data directory
    assert 'X-Egov-Sim-Token: $(cat "${EGOV_SIM_DATA_DIR:-.egov-sim}/admin.token")' in blocks[0]
    for call in ("/clock/run", "/trace/", "/api/operator/sessions"):
        lines = [line for b in blocks for line in b.splitlines() if call in line]
        assert lines and all('-H "$ADMIN"' in line for line in lines), call


def _wait_healthy(settings: Settings, process: subprocess.Popen, ceiling: float = 180.0) -> None:
    """Every system's /health answers 200 (the ceiling only guards against a hang)."""
    pending = set(START_ORDER)
    deadline = time.monotonic() + ceiling
    with httpx.Client(timeout=5) as client:
        while pending:
            assert process.poll() is None, f"egov-sim up exited with {process.returncode}"
            for system in sorted(pending):
                try:
                    if client.get(settings.url_of(system) + "/health").status_code == 200:
                        pending.discard(system)
                except httpx.TransportError:
                    pass
            if pending:
                assert time.monotonic() < deadline, f"not healthy: {', '.join(sorted(pending))}"
                time.sleep(0.2)


async def test_the_walkthrough_runs_as_written(tmp_path):
    settings = Settings(data_dir=tmp_path / "run", base_port=free_base_port())
    env = {k: v for k, v in os.environ.items() if k != "EGOV_SIM_URLS"}
    env["EGOV_SIM_BASE_PORT"] = str(settings.base_port)
    env["EGOV_SIM_DATA_DIR"] = str(settings.data_dir)  # where the page's commands read admin.token
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"  # this egov-sim
    for variable, system in (("CONTROL", "control"), ("SIGNATURES", "signatures"),
                             ("PORTAL", "portal"), ("WORKSTATION", "corporation_ws")):
        env[variable] = settings.url_of(system)
    up = subprocess.Popen(
        [sys.executable, "-m", "egov_sim.cli", "up", "--base-port", str(settings.base_port),
         "--data-dir", str(settings.data_dir)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
    )
    try:
        _wait_healthy(settings, up)
        script = "set -euo pipefail\n" + "\n".join(bash_blocks(DOC.read_text(encoding="utf-8")))
        work = tmp_path / "shell"
        work.mkdir()
        done = subprocess.run(["bash", "-c", script], cwd=work, env=env, capture_output=True, text=True,
                              timeout=600)
    finally:
        up.send_signal(signal.SIGTERM)
        try:
            up.wait(60)
        except subprocess.TimeoutExpired:
            up.kill()
            up.wait()
        await drop_run(settings, (*SYSTEMS, "simulation"))
    output = done.stdout
    assert done.returncode == 0, f"stdout:\n{output}\nstderr:\n{done.stderr}"

    # The portal: the result in the cabinet, signed; the trace from the log-in to 8-процесс.
    portal_id = re.search(rf"^application ({UUID})$", output, flags=re.M).group(1)  # type: ignore[union-attr]
    assert '"status": "result"' in output
    assert '"signature": "VALID"' in output
    steps = re.findall(r"^\S+  (\S+(?:, \d\))?)  (\S+)  ", output, flags=re.M)
    labels = [label for label, _ in steps]
    assert labels[0] == "1-процесс" and "8-процесс" in labels and "10-процесс" in labels
    # The corporation: a second application, handed over at the front office.
    ids = re.findall(rf"^application ({UUID})$", output, flags=re.M)
    assert len(ids) == 3 and ids[0] == portal_id
    assert '"result-handed"' in output
    # egov-sim apply: the id alone on stdout, and the refusal --run waited for.
    assert '"outcome": "refused"' in output
    assert "owns a dwelling" in output
    # ... whose --run also brought Әлия's application at the front office to its end.
    assert output.rstrip().splitlines()[-1] == "10-процесс"
