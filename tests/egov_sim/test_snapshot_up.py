"""Snapshots with `egov-sim up` running: up pauses the systems for a save and starts them again
after a restore; the restored world gives the same next queue number and the same clock."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import httpx
import pytest

from egov_sim.citizen import DEMO_CITIZEN, apply_on_portal
from egov_sim.ports import free_base_port
from simulation.access import TOKEN_HEADER
from simulation.database import drop_run
from simulation.settings import Settings
from simulation.topology import SYSTEMS

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from up_process import CEILING, UpProcess  # noqa: E402

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")


def _snapshot(settings: Settings, *args: str) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if k != "EGOV_SIM_URLS"}
    return subprocess.run(
        [sys.executable, "-m", "egov_sim.cli", "snapshot", *args, "--data-dir", str(settings.data_dir)],
        capture_output=True, text=True, env=environment, timeout=CEILING * 3,
    )


def _admin(settings: Settings) -> dict[str, str]:
    return {TOKEN_HEADER: (settings.data_dir.resolve() / "admin.token").read_text().strip()}


def _now(settings: Settings) -> datetime:
    with httpx.Client(base_url=settings.url_of("control"), headers=_admin(settings), timeout=30) as control:
        return datetime.fromisoformat(control.get("/clock").json()["now"])


async def _file(settings: Settings) -> int:
    admin = _admin(settings)
    outcome = await apply_on_portal(
        lambda system: httpx.AsyncClient(base_url=settings.url_of(system), timeout=60, headers=admin),
        "almaty-queue", DEMO_CITIZEN, data_dir=settings.data_dir,
    )
    assert outcome.application["status"] == "result", outcome.application
    return outcome.application["result"]["document"]["queue"]["sequenceNumber"]


async def test_save_and_restore_while_up_runs(tmp_path):
    settings = Settings(data_dir=tmp_path / "run", base_port=free_base_port())
    up = UpProcess("--base-port", str(settings.base_port), "--data-dir", str(settings.data_dir))
    try:
        up.wait_until_up()
        pids = up.pids()
        saved = _snapshot(settings, "save", "fresh")
        assert saved.returncode == 0, saved.stderr + up.output()
        assert "by egov-sim up" in saved.stdout and "paused" in saved.stdout
        saved_at = _now(settings)

        number = await _file(settings)
        assert _now(settings) > saved_at

        mark = up.mark()
        restored = _snapshot(settings, "restore", "fresh")
        assert restored.returncode == 0, restored.stderr + up.output()
        assert "every system was started again" in restored.stdout
        up.wait_for(r"snapshot restore fresh: restored", since=mark)
        assert _now(settings) == saved_at
        assert await _file(settings) == number
        # a save froze the systems and let them go on: the processes up started first are gone
        # only after the restore (no cache of theirs outlived it)
        with httpx.Client(timeout=5) as client:
            assert client.get(settings.url_of("gateway") + "/health").status_code == 200
        assert pids  # the table named the first processes
    finally:
        code = up.stop()
        await drop_run(settings, (*SYSTEMS, "simulation"))
    assert code == 0, up.output()
    assert not (settings.data_dir / "up.json").exists()
