"""docs/snapshots.md runs as written: its ```bash block in one shell in a fresh folder, and its
```python example."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from simulation.database import drop_run
from simulation.settings import Settings
from simulation.topology import SYSTEMS

DOC = Path(__file__).resolve().parents[2] / "docs" / "snapshots.md"


def _blocks(kind: str) -> list[str]:
    return re.findall(rf"^```{kind}\n(.*?)^```$", DOC.read_text(encoding="utf-8"), flags=re.S | re.M)


@pytest.mark.skipif(sys.platform == "win32" or shutil.which("jq") is None, reason="bash and jq")
async def test_the_commands_of_the_page_run_as_written(tmp_path):
    (block,) = _blocks("bash")
    environment = {k: v for k, v in os.environ.items() if k not in ("EGOV_SIM_URLS", "EGOV_SIM_DATA_DIR")}
    environment["EGOV_SIM_POPULATION_SIZE"] = "300"  # a smaller synthetic population: the same commands, faster
    environment["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{environment['PATH']}"
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
