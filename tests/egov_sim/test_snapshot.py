"""Snapshots of the whole world in one process: the same next queue number and the same clock
after a restore; names, backends and refusals."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime

import pytest

from egov_sim import snapshot
from egov_sim.citizen import DEMO_CITIZEN, apply_on_portal
from egov_sim.cli import main
from egov_sim.inprocess import Simulation
from egov_sim.scenarios import OMAROV
from simulation.settings import Settings


async def _file(simulation: Simulation, citizen) -> int:
    """File an almaty-queue application on the portal and let time run; its queue number."""
    outcome = await apply_on_portal(simulation.client, "almaty-queue", citizen,
                                    data_dir=simulation.settings.data_dir)
    assert outcome.application["status"] == "result", outcome.application
    return outcome.application["result"]["document"]["queue"]["sequenceNumber"]


async def _now(simulation: Simulation) -> datetime:
    async with simulation.client("control") as control:
        return datetime.fromisoformat((await control.get("/clock")).json()["now"])


async def test_a_restored_world_gives_the_same_next_queue_number_and_clock(settings: Settings):
    async with Simulation(settings) as simulation:
        assert await _file(simulation, DEMO_CITIZEN) == 1
        saved_at = await _now(simulation)
        # taken while the (idle) systems run in this process: each database consistently
        manifest = await asyncio.to_thread(snapshot.save, settings, "after-first")
        number = await _file(simulation, OMAROV)
        assert await _now(simulation) > saved_at  # the filing moved the clock
        with pytest.raises(snapshot.SnapshotError, match="running in this process"):
            snapshot.restore(settings, "after-first")
    assert datetime.fromisoformat(manifest["virtual_time"]) == saved_at
    assert manifest["backend"] == ("postgresql" if settings.database_url else "sqlite")
    assert {"simulation", "provider_ws", "signatures", "gateway"} <= set(manifest["systems"])
    assert {"admin.token", "secrets/passwords.json", "keys/gateway.p12"} <= set(manifest["files"])

    restored = await asyncio.to_thread(snapshot.restore, settings, "after-first")
    assert restored["virtual_time"] == manifest["virtual_time"]
    async with Simulation(settings) as simulation:
        assert await _now(simulation) == saved_at
        assert await _file(simulation, OMAROV) == number


async def test_files_made_after_the_snapshot_are_gone_and_secrets_come_back(settings: Settings):
    async with Simulation(settings):
        pass
    data_dir = settings.data_dir.resolve()
    token = (data_dir / "admin.token").read_text()
    snapshot.save(settings, "empty")
    (data_dir / "admin.token").write_text("rotated\n")
    (data_dir / "keys" / "stray.p12").write_bytes(b"later")
    snapshot.restore(settings, "empty")
    assert (data_dir / "admin.token").read_text() == token
    assert (data_dir / "admin.token").stat().st_mode & 0o077 == 0
    assert not (data_dir / "keys" / "stray.p12").exists()


@pytest.mark.parametrize("name", ["../up", "a/b", ".hidden", "", "x" * 65, "name with space"])
def test_names_that_could_leave_the_snapshots_folder_are_refused(tmp_path, name, capsys):
    settings = Settings(data_dir=tmp_path / "run")
    with pytest.raises(snapshot.SnapshotError, match="not allowed"):
        snapshot.save(settings, name)
    assert main(["snapshot", "restore", name, "--data-dir", str(tmp_path / "run")]) == 2
    assert "is not allowed" in capsys.readouterr().err
    assert not (tmp_path / "up").exists()


def test_a_snapshot_of_another_backend_is_refused(tmp_path, capsys):
    sqlite = Settings(data_dir=tmp_path / "run", database_url=None)
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "admin.token").write_text("t\n")
    snapshot.save(sqlite, "on-sqlite")
    postgres = Settings(data_dir=tmp_path / "run", database_url="postgresql://nobody@127.0.0.1:1/none")
    with pytest.raises(snapshot.SnapshotError, match="taken on SQLite.*PostgreSQL"):
        snapshot.restore(postgres, "on-sqlite")
    assert (tmp_path / "run" / "admin.token").read_text() == "t\n"  # nothing touched


def test_the_command_lists_refuses_a_second_save_and_deletes(tmp_path, capsys):
    run = tmp_path / "run"
    run.mkdir()
    (run / "admin.token").write_text("t\n")
    env = ["--data-dir", str(run)]
    assert main(["snapshot", "save", "one", *env]) == 0
    assert main(["snapshot", "save", "one", *env]) == 2
    assert "exists already" in capsys.readouterr().err
    assert main(["snapshot", "save", "one", "--replace", *env]) == 0
    capsys.readouterr()
    assert main(["snapshot", "list", "--json", *env]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [m["name"] for m in listed] == ["one"] and listed[0]["format"] == snapshot.FORMAT
    assert main(["snapshot", "restore", "two", *env]) == 2
    assert "no snapshot named 'two'" in capsys.readouterr().err
    assert main(["snapshot", "delete", "one", *env]) == 0
    assert snapshot.list_snapshots(Settings(data_dir=run)) == []


def test_a_snapshot_of_a_newer_format_is_refused(tmp_path):
    settings = Settings(data_dir=tmp_path / "run")
    snapshot.save(settings, "s")
    path = settings.data_dir / "snapshots" / "s" / "manifest.json"
    manifest = json.loads(path.read_text())
    path.write_text(json.dumps({**manifest, "format": snapshot.FORMAT + 1}))
    with pytest.raises(snapshot.SnapshotError, match="format"):
        snapshot.restore(settings, "s")
