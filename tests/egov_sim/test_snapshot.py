"""Snapshots of the whole world in one process: the same next queue number and the same clock
after a restore; names, backends and refusals."""

from __future__ import annotations

import asyncio
import json
import os
import time
from datetime import datetime
from types import SimpleNamespace

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


# ---- a tampered or damaged snapshot is refused before anything is touched ----------------------


def _sql(settings: Settings, system: str, *statements: str) -> list:
    """Run statements in ``system``'s database (SQLite file or PostgreSQL schema); the last one's rows."""
    from simulation.database import schema_name

    if settings.database_url:
        import psycopg

        schema = schema_name(settings, system)
        with psycopg.connect(snapshot._postgres_url(settings), autocommit=True) as connection:
            connection.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
            connection.execute(f'SET search_path TO "{schema}"')
            rows = [connection.execute(statement) for statement in statements][-1]
            return rows.fetchall() if rows.description else []
    import sqlite3

    connection = sqlite3.connect(settings.data_dir.resolve() / f"{system}.sqlite")
    try:
        rows = [connection.execute(statement) for statement in statements][-1].fetchall()
        connection.commit()
        return rows
    finally:
        connection.close()


def _state(settings: Settings) -> dict:
    """Every file of the data directory but the snapshots, and the rows of each database."""
    data_dir = settings.data_dir.resolve()
    files = {p.relative_to(data_dir).as_posix(): p.read_bytes() for p in data_dir.rglob("*")
             if p.is_file() and p.relative_to(data_dir).parts[0] != "snapshots"}
    rows = {system: _sql(settings, system, "SELECT x FROM t ORDER BY x") for system in ("gateway", "portal")}
    return {"files": files, "rows": rows}


def _tamper_path(folder, manifest, tmp_path):
    (folder / "outside").write_text("not of the world")
    manifest["files"].append("../outside")
    return r"'\.\./outside'.*not a plain relative path"


def _tamper_absolute(folder, manifest, tmp_path):
    (tmp_path / "absolute").write_text("not of the world")
    manifest["files"].append(str(tmp_path / "absolute"))
    return "not a plain relative path"


def _tamper_snapshots_folder(folder, manifest, tmp_path):
    manifest["files"].append("snapshots/other/manifest.json")
    return "not a file a snapshot keeps"


def _tamper_system(folder, manifest, tmp_path):
    manifest["systems"].append("../../evil")
    return r"does not know: '\.\./\.\./evil'"


def _tamper_missing_database(folder, manifest, tmp_path):
    for path in (folder / "sqlite" / "gateway.sqlite", folder / "postgresql" / "gateway" / "schema.json"):
        path.unlink(missing_ok=True)
    return "lacks the (database|schema) of 'gateway'"


def _tamper_corrupt_database(folder, manifest, tmp_path):
    for path in (folder / "sqlite" / "gateway.sqlite", folder / "postgresql" / "gateway" / "schema.json"):
        if path.exists():
            path.write_bytes(b"\x00garbage" * 512)
    return "(database|schema) of 'gateway' (does not open|is damaged|is not readable)"


def _tamper_missing_file(folder, manifest, tmp_path):
    (folder / "files" / "keys" / "a.p12").unlink()
    return "lacks the file 'keys/a.p12'"


@pytest.mark.parametrize("tamper", [
    _tamper_path, _tamper_absolute, _tamper_snapshots_folder, _tamper_system, _tamper_missing_database,
    _tamper_corrupt_database, _tamper_missing_file,
], ids=lambda tamper: tamper.__name__.removeprefix("_tamper_"))
def test_a_tampered_or_damaged_snapshot_is_refused_and_nothing_is_touched(settings, tmp_path, tamper, capsys):
    data_dir = settings.data_dir.resolve()
    (data_dir / "keys").mkdir(parents=True)
    (data_dir / "admin.token").write_text("first\n")
    (data_dir / "keys" / "a.p12").write_bytes(b"key")
    for system in ("gateway", "simulation"):
        _sql(settings, system, "CREATE TABLE t (x integer)", "INSERT INTO t VALUES (1)")
    snapshot.save(settings, "s")
    # the world goes on: a rotated token, a new key storage, a changed row, a new database
    (data_dir / "admin.token").write_text("rotated\n")
    (data_dir / "keys" / "later.p12").write_bytes(b"later")
    _sql(settings, "gateway", "UPDATE t SET x = 2")
    _sql(settings, "portal", "CREATE TABLE t (x integer)", "INSERT INTO t VALUES (3)")
    before = _state(settings)
    assert before["rows"] == {"gateway": [(2,)], "portal": [(3,)]}

    folder = data_dir / "snapshots" / "s"
    manifest = json.loads((folder / "manifest.json").read_text())
    expected = tamper(folder, manifest, tmp_path)
    (folder / "manifest.json").write_text(json.dumps(manifest))

    with pytest.raises(snapshot.SnapshotError, match=expected):
        snapshot.restore(settings, "s")
    assert main(["snapshot", "restore", "s", "--data-dir", str(data_dir)]) == 2
    assert "snapshot 's'" in capsys.readouterr().err
    assert _state(settings) == before
    assert not (tmp_path / "outside").exists()


def test_an_untampered_snapshot_of_the_same_world_restores(settings):
    """The world of the test above, restored from its snapshot as saved: what the refusals kept back."""
    data_dir = settings.data_dir.resolve()
    (data_dir / "keys").mkdir(parents=True)
    (data_dir / "keys" / "a.p12").write_bytes(b"key")
    for system in ("gateway", "simulation"):
        _sql(settings, system, "CREATE TABLE t (x integer)", "INSERT INTO t VALUES (1)")
    snapshot.save(settings, "s")
    (data_dir / "keys" / "later.p12").write_bytes(b"later")
    _sql(settings, "gateway", "UPDATE t SET x = 2")
    _sql(settings, "portal", "CREATE TABLE t (x integer)", "INSERT INTO t VALUES (3)")
    snapshot.restore(settings, "s")
    assert _sql(settings, "gateway", "SELECT x FROM t") == [(1,)]
    assert sorted(p.name for p in (data_dir / "keys").iterdir()) == ["a.p12"]
    if not settings.database_url:
        assert not (data_dir / "portal.sqlite").exists()


# ---- the command and egov-sim up: a request nobody waits for is not carried out ----------------


def test_a_request_up_did_not_take_in_time_is_withdrawn(tmp_path):
    settings = Settings(data_dir=tmp_path / "run")
    requests = snapshot.snapshots_dir(settings) / snapshot.REQUESTS
    # this process stands for an up that is alive but never answers
    with pytest.raises(snapshot.SnapshotError, match="did not take the request.*withdrawn"):
        snapshot.ask_up(settings, os.getpid(), "restore", "s", ceiling=0.2)
    assert list(requests.iterdir()) == []


def test_up_skips_a_request_whose_command_gave_up_and_serves_a_fresh_one(tmp_path):
    settings = Settings(data_dir=tmp_path / "run")
    said: list[str] = []
    agent = snapshot.UpAgent(SimpleNamespace(settings=settings, processes={}), said.append)
    try:
        requests = snapshot.snapshots_dir(settings) / snapshot.REQUESTS
        requests.mkdir(parents=True)
        old = {"action": "restore", "name": "s", "expires": time.time() - 1}
        (requests / "old.request").write_text(json.dumps(old))
        # one written by an older command (no expiry): its file's age counts
        (requests / "older.request").write_text(json.dumps({"action": "restore", "name": "s"}))
        os.utime(requests / "older.request", (0, 0))
        (requests / "fresh.request").write_text(json.dumps({"action": "list", "name": "s",
                                                              "expires": time.time() + 600}))
        (requests / "stale.answer").write_text("{}")
        os.utime(requests / "stale.answer", (0, 0))
        assert agent.pending()
        assert agent.serve() is None  # no restore carried out: nothing stopped or started
        assert sorted(p.name for p in requests.iterdir()) == ["fresh.answer"]
        assert "unknown snapshot action" in json.loads((requests / "fresh.answer").read_text())["message"]
        assert sum("skipped" in line for line in said) == 2
    finally:
        agent.close()
