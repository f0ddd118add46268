"""Snapshots of a whole world: ``egov-sim snapshot save|restore|list|delete``, and the same in Python.

A snapshot holds everything a run keeps -- each system's database, the run's simulation store
(with the virtual clock and the timers), and every other file of the data directory (the systems'
and people's key storages, the CA's files, ``admin.token``, ``auditor.token``,
``secrets/passwords.json``, the gateway's participant file) -- in
``<data_dir>/snapshots/<NAME>/`` with a ``manifest.json`` (format version, when, the virtual
time, the backend, the systems, the files). Restoring one makes the world what it was: the same
databases, the same files, the same clock; what came later is gone.

How each backend is copied:

- SQLite: each ``<system>.sqlite`` through SQLite's online backup API (a consistent copy of the
  committed state, WAL included), into the snapshot and back.
- PostgreSQL: each system's schema (``simulation.database.schema_name``) in one REPEATABLE READ
  transaction, so every schema is taken at the same instant: its tables' definitions (columns,
  defaults, constraints, indexes) and sequences (with their positions) from the catalog, its rows
  with ``COPY … TO STDOUT (FORMAT binary)`` through psycopg. A restore drops the run's schemas
  and builds them anew in one transaction. No ``pg_dump`` is needed, and a snapshot restores into
  another run's schemas (another data directory) as well.

A snapshot is restored on the backend it was taken on; one of SQLite restored in a run on
PostgreSQL (or the other way) is refused with a message saying so.

With ``egov-sim up`` running (it leaves ``<data_dir>/up.json`` while it runs), the command does
not touch the data itself: it asks ``up``, which

- for a save, freezes every system's process (SIGSTOP) while it copies, so none writes during
  the copy, and lets them go on (SIGCONT) after: nothing restarts, no cache is lost;
- for a restore, stops every system, restores, and starts them all again (the certification
  authority first) and answers once every one answers its ``/health``: no in-memory state (the
  gateways' fault switches and configuration, timers, replay guards, OCSP caches, tokens) outlives
  a restore, because no process does.

Without ``up``, the systems must not be running for a restore: an in-process
:class:`~egov_sim.inprocess.Simulation` is restored before it starts (a restore refuses while
one of the run's systems runs in this process, or -- where it can tell -- in another).

The Python API is synchronous (call it with ``asyncio.to_thread`` from a running event loop)::

    from egov_sim import snapshot

    snapshot.save(settings, "before-visit")
    snapshot.restore(settings, "before-visit")
    async with Simulation(settings) as sim:  # starts from the restored world
        ...
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import sqlite3
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:
    from egov_sim.up import Cluster
    from simulation.settings import Settings

FORMAT = 1
"""The manifest's format version; a snapshot of a newer format is refused."""
SNAPSHOTS = "snapshots"
"""The folder of the data directory that holds the snapshots (never itself part of one)."""
MANIFEST = "manifest.json"
UP_MARKER = "up.json"
"""Left in the data directory by a running ``egov-sim up``: its process id."""
TRAINER_MARKER = "trainer.json"
"""Left there by a running ``egov-sim trainer`` (egov_sim.trainer.cli.MARKER): never part of a world."""
REQUESTS = ".requests"
"""Where the command leaves its requests for ``up``, and ``up`` its answers."""
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
"""A snapshot's name: letters, digits, ``_ . -``, starting with a letter or digit (no path)."""
_TRANSIENT = ("-wal", "-shm", "-journal")
UP_CEILING = 600.0
"""Seconds the command waits for ``up``'s answer before it takes ``up`` for hung."""
RESTART_CEILING = 300.0
"""Seconds ``up`` waits for the systems to answer again after a restore."""


class SnapshotError(Exception):
    """A refused request (a bad name, an unknown snapshot, another backend, systems running…)."""


# ---- names and places -------------------------------------------------------------------------


def _data_dir(settings: Settings) -> Path:
    return settings.data_dir.expanduser().resolve()


def snapshots_dir(settings: Settings) -> Path:
    return _data_dir(settings) / SNAPSHOTS


def check_name(name: str) -> str:
    """``name`` when it is a valid snapshot name, else :class:`SnapshotError` saying the rule."""
    if not isinstance(name, str) or not NAME.fullmatch(name):
        raise SnapshotError(
            f"snapshot name {name!r} is not allowed: 1 to 64 letters, digits, '_', '.' or '-', "
            "starting with a letter or digit (no '/' and no leading '.')"
        )
    return name


def _backend(settings: Settings) -> str:
    return "postgresql" if settings.database_url else "sqlite"


def _world_files(data_dir: Path) -> list[str]:
    """The data directory's files that are the world's, other than its SQLite databases."""
    found = []
    for path in sorted(data_dir.rglob("*")):
        relative = path.relative_to(data_dir)
        if relative.parts[0] in (SNAPSHOTS, UP_MARKER, TRAINER_MARKER) or not path.is_file() or path.is_symlink():
            continue
        if len(relative.parts) == 1 and (path.suffix == ".sqlite" or path.name.endswith(
                tuple(".sqlite" + t for t in _TRANSIENT))):
            continue
        found.append(relative.as_posix())
    return found


def _sqlite_systems(data_dir: Path) -> list[str]:
    return sorted(path.stem for path in data_dir.glob("*.sqlite") if path.is_file())


def _virtual_time(now_us: int | None) -> str | None:
    if now_us is None:
        return None
    from simulation.calendar import KZ_TZ
    from simulation.clock import from_us

    return from_us(now_us).astimezone(KZ_TZ).isoformat()


@contextmanager
def _locked(settings: Settings) -> Iterator[None]:
    """One snapshot operation at a time on a data directory."""
    folder = snapshots_dir(settings)
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    with open(folder / ".lock", "a") as lock:
        try:
            import fcntl
        except ImportError:  # pragma: no cover - not POSIX
            yield
            return
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


# ---- the Python API ---------------------------------------------------------------------------


def save(settings: Settings, name: str, *, replace: bool = False) -> dict[str, Any]:
    """Take the world of ``settings`` as snapshot ``name``; its manifest.

    The systems should take no writes meanwhile (``egov-sim snapshot save`` has ``up`` freeze
    them); each database is copied consistently on its own, and on PostgreSQL all at one instant.
    ``replace``: overwrite a snapshot of that name (else refused)."""
    check_name(name)
    data_dir = _data_dir(settings)
    with _locked(settings):
        target = snapshots_dir(settings) / name
        if target.exists() and not replace:
            raise SnapshotError(f"a snapshot named {name!r} exists already ({target}); delete it or replace it")
        work = Path(tempfile.mkdtemp(prefix=f".{name}.", dir=snapshots_dir(settings)))
        try:
            if settings.database_url:
                systems, now_us = _save_postgres(settings, work / "postgresql")
            else:
                systems, now_us = _save_sqlite(data_dir, work / "sqlite")
            files = _world_files(data_dir)
            for relative in files:
                destination = work / "files" / relative
                destination.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(data_dir / relative, destination)
            manifest = {
                "format": FORMAT,
                "name": name,
                "created": datetime.now(UTC).isoformat(timespec="seconds"),
                "virtual_time": _virtual_time(now_us),
                "backend": _backend(settings),
                "systems": systems,
                "files": files,
                "source": {"data_dir": str(data_dir), "run_id": settings.run_id},
            }
            (work / MANIFEST).write_text(json.dumps(manifest, ensure_ascii=False, indent=2) + "\n")
            if target.exists():
                shutil.rmtree(target)
            os.replace(work, target)
        except BaseException:
            shutil.rmtree(work, ignore_errors=True)
            raise
    return manifest


def read_manifest(settings: Settings, name: str) -> dict[str, Any]:
    """The manifest of snapshot ``name``; :class:`SnapshotError` when there is none or it is not one."""
    check_name(name)
    folder = snapshots_dir(settings) / name
    try:
        manifest = json.loads((folder / MANIFEST).read_text())
    except FileNotFoundError:
        known = ", ".join(m["name"] for m in list_snapshots(settings)) or "none"
        raise SnapshotError(f"no snapshot named {name!r} in {snapshots_dir(settings)} (there are: {known})") from None
    except (OSError, ValueError) as exc:
        raise SnapshotError(f"snapshot {name!r} has no readable manifest ({exc})") from None
    if not isinstance(manifest, dict) or not isinstance(manifest.get("format"), int):
        raise SnapshotError(f"snapshot {name!r}: its manifest has no format version")
    if manifest["format"] > FORMAT:
        raise SnapshotError(
            f"snapshot {name!r} is of format {manifest['format']}; this egov-sim reads format {FORMAT} "
            "and older"
        )
    return manifest


def check_restorable(settings: Settings, name: str) -> dict[str, Any]:
    """The manifest of ``name`` if it can be restored in the run of ``settings``, else why not.

    Checked before anything is touched: the backend; every system named is one this egov-sim
    knows; every file named lies inside the snapshot and inside the data directory (relative, no
    ``..``, no link out) and is a file the world keeps (not a database, not ``snapshots/``); every
    source is there and opens (an SQLite copy passes ``PRAGMA quick_check``)."""
    manifest = read_manifest(settings, name)
    here = _backend(settings)
    if manifest.get("backend") != here:
        names = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}
        raise SnapshotError(
            f"snapshot {name!r} was taken on {names.get(manifest.get('backend'), manifest.get('backend'))}, "
            f"and this run keeps its state in {names[here]}: a snapshot is restored on the backend it was "
            "taken on (set or unset EGOV_SIM_DATABASE_URL as when it was saved)"
        )
    folder = snapshots_dir(settings) / name
    _check_systems(name, manifest, folder / here)
    _check_files(name, manifest, folder / "files", _data_dir(settings))
    return manifest


def _known_systems() -> set[str]:
    from simulation.database import STORE
    from simulation.topology import SYSTEMS

    return {*SYSTEMS, STORE}


def _check_systems(name: str, manifest: dict[str, Any], source_dir: Path) -> None:
    systems = manifest.get("systems")
    if not isinstance(systems, list) or not all(isinstance(system, str) for system in systems):
        raise SnapshotError(f"snapshot {name!r}: its manifest's 'systems' is not a list of names")
    known = _known_systems()
    for system in systems:
        if system not in known:
            raise SnapshotError(f"snapshot {name!r} holds a system this egov-sim does not know: {system!r} "
                                f"(known: {', '.join(sorted(known))})")
    for system in systems:
        if source_dir.name == "sqlite":
            _check_sqlite_copy(name, system, source_dir / f"{system}.sqlite")
        else:
            _check_postgres_copy(name, system, source_dir / system)


def _check_sqlite_copy(name: str, system: str, path: Path) -> None:
    if not path.is_file() or path.is_symlink():
        raise SnapshotError(f"snapshot {name!r} lacks the database of {system!r} ({path} is missing)")
    try:
        connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            verdict = connection.execute("PRAGMA quick_check").fetchall()
        finally:
            connection.close()
    except sqlite3.Error as exc:
        raise SnapshotError(f"snapshot {name!r}: the database of {system!r} does not open ({path}: {exc})") from None
    if verdict != [("ok",)]:
        problems = "; ".join(str(row[0]) for row in verdict[:3])
        raise SnapshotError(f"snapshot {name!r}: the database of {system!r} is damaged ({path}: {problems})")


def _check_postgres_copy(name: str, system: str, folder: Path) -> None:
    try:
        described = json.loads((folder / "schema.json").read_text())
        missing = [table["rows"] for table in described["tables"]
                   if not isinstance(table["rows"], str) or "/" in table["rows"]
                   or not (folder / table["rows"]).is_file()]
        described["sequences"]
    except FileNotFoundError:
        raise SnapshotError(f"snapshot {name!r} lacks the schema of {system!r} ({folder / 'schema.json'} "
                            "is missing)") from None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise SnapshotError(f"snapshot {name!r}: the schema of {system!r} is not readable "
                            f"({folder / 'schema.json'}: {exc!r})") from None
    if missing:
        raise SnapshotError(f"snapshot {name!r} lacks rows of {system!r}: {', '.join(missing[:3])} in {folder}")


def _check_files(name: str, manifest: dict[str, Any], source_dir: Path, data_dir: Path) -> None:
    files = manifest.get("files", [])
    if not isinstance(files, list) or not all(isinstance(entry, str) for entry in files):
        raise SnapshotError(f"snapshot {name!r}: its manifest's 'files' is not a list of paths")
    source_root = source_dir.resolve()
    for relative in files:
        path = Path(relative)
        refused = None
        if not relative or path.is_absolute() or ".." in path.parts or relative != path.as_posix():
            refused = "not a plain relative path"
        elif path.parts[0] in (SNAPSHOTS, UP_MARKER, TRAINER_MARKER) or (len(path.parts) == 1 and (
                path.suffix == ".sqlite" or path.name.endswith(tuple(".sqlite" + t for t in _TRANSIENT)))):
            refused = "not a file a snapshot keeps as a file (a database, up.json or the snapshots folder)"
        elif not (data_dir / path).resolve().is_relative_to(data_dir):
            refused = "it leads out of the data directory"
        elif not (source_dir / path).resolve().is_relative_to(source_root):
            refused = "it leads out of the snapshot"
        if refused:
            raise SnapshotError(f"snapshot {name!r}: its manifest names the file {relative!r}, which is refused: "
                                f"{refused}; nothing was restored")
        if not (source_dir / path).is_file():
            raise SnapshotError(f"snapshot {name!r} lacks the file {relative!r} ({source_dir / path} is missing)")


def restore(settings: Settings, name: str) -> dict[str, Any]:
    """Make the world of ``settings`` what snapshot ``name`` holds; its manifest.

    The run's systems must not be running (``egov-sim snapshot restore`` has ``up`` stop and start
    them again): an in-process :class:`~egov_sim.inprocess.Simulation` is restored before it starts.
    A snapshot that does not pass :func:`check_restorable` is refused with nothing touched."""
    read_manifest(settings, name)
    _refuse_if_running_here(settings)
    with _locked(settings):
        manifest = check_restorable(settings, name)  # under the lock: no save replaces it meanwhile
        _restore_checked(settings, snapshots_dir(settings) / name, manifest)
    return manifest


def restore_folder(settings: Settings, folder: Path) -> dict[str, Any]:
    """Make the (new, not yet started) world of ``settings`` what the snapshot in ``folder`` holds
    -- a snapshot of another data directory, left where it is (not copied among this world's
    snapshots): :mod:`egov_sim.templates` makes fresh worlds so. Checked as :func:`restore` checks."""
    name = folder.name
    try:
        manifest = json.loads((folder / MANIFEST).read_text())
    except (OSError, ValueError) as exc:
        raise SnapshotError(f"{folder}: not a snapshot ({exc})") from None
    if not isinstance(manifest, dict) or not isinstance(manifest.get("format"), int) or manifest["format"] > FORMAT:
        raise SnapshotError(f"{folder}: not a snapshot of format {FORMAT} or older")
    here = _backend(settings)
    if manifest.get("backend") != here:
        raise SnapshotError(f"{folder}: a snapshot of another backend than this run's ({here})")
    _refuse_if_running_here(settings)
    data_dir = _data_dir(settings)
    data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    _check_systems(name, manifest, folder / here)
    _check_files(name, manifest, folder / "files", data_dir)
    _restore_checked(settings, folder, manifest)
    return manifest


def _restore_checked(settings: Settings, folder: Path, manifest: dict[str, Any]) -> None:
    data_dir = _data_dir(settings)
    # the files first into place beside their targets (nothing of the world changed yet) ...
    staged = _stage_files(data_dir, folder / "files", manifest.get("files", []))
    try:
        if settings.database_url:
            _restore_postgres(settings, folder / "postgresql", manifest["systems"])
        else:
            _restore_sqlite(data_dir, folder / "sqlite", manifest["systems"])
    except BaseException:
        for temporary in staged.values():
            temporary.unlink(missing_ok=True)
        raise
    # ... then swapped in at once, and what came later removed
    _place_files(data_dir, staged)


def list_snapshots(settings: Settings) -> list[dict[str, Any]]:
    """The manifests of the data directory's snapshots, by name (unreadable ones are left out)."""
    found = []
    folder = snapshots_dir(settings)
    if not folder.is_dir():
        return found
    for path in sorted(folder.iterdir()):
        if path.name.startswith(".") or not path.is_dir():
            continue
        try:
            manifest = json.loads((path / MANIFEST).read_text())
        except (OSError, ValueError):
            continue
        if isinstance(manifest, dict):
            found.append(manifest)
    return found


def delete(settings: Settings, name: str) -> None:
    """Remove snapshot ``name``."""
    read_manifest(settings, name)
    with _locked(settings):
        shutil.rmtree(snapshots_dir(settings) / name)


def _refuse_if_running_here(settings: Settings) -> None:
    """Refuse a restore under systems of this run that run in this process (their timer
    workers are subscribed to the run's clock): they would go on with the old state in memory."""
    from simulation import clock

    if clock._wakeups.get(settings.run_id):
        raise SnapshotError(
            "systems of this run are running in this process (an in-process Simulation): restore "
            "before it starts, or after it ended"
        )


# ---- SQLite -----------------------------------------------------------------------------------


def _save_sqlite(data_dir: Path, into: Path) -> tuple[list[str], int | None]:
    into.mkdir(parents=True)
    systems = _sqlite_systems(data_dir)
    for system in systems:
        source = sqlite3.connect(data_dir / f"{system}.sqlite", timeout=30)
        copy = sqlite3.connect(into / f"{system}.sqlite")
        try:
            source.backup(copy)
            copy.execute("PRAGMA journal_mode=DELETE")  # one file, no -wal/-shm beside it
        finally:
            copy.close()
            source.close()
    return systems, _sqlite_clock(into / "simulation.sqlite")


def _sqlite_clock(path: Path) -> int | None:
    if not path.exists():
        return None
    connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        row = connection.execute("SELECT now_us FROM clock WHERE id = 1").fetchone()
    except sqlite3.Error:
        return None
    finally:
        connection.close()
    return None if row is None else int(row[0])


def _restore_sqlite(data_dir: Path, source_dir: Path, systems: list[str]) -> None:
    """Each database of the snapshot over the run's (the sources checked already), then the
    databases made after the snapshot removed."""
    for system in systems:
        source = sqlite3.connect(f"file:{source_dir / f'{system}.sqlite'}?mode=ro", uri=True)
        target = sqlite3.connect(data_dir / f"{system}.sqlite", timeout=30)
        try:
            source.backup(target)  # over the live file, WAL and all, as one write transaction
        finally:
            target.close()
            source.close()
    for system in _sqlite_systems(data_dir):
        if system not in systems:  # a system's database made after the snapshot: not of that world
            for suffix in ("", *_TRANSIENT):
                (data_dir / f"{system}.sqlite{suffix}").unlink(missing_ok=True)


# ---- PostgreSQL -------------------------------------------------------------------------------


def _postgres_url(settings: Settings) -> str:
    from sqlalchemy.engine import make_url

    url = make_url(settings.database_url)
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


def _schemas(settings: Settings) -> dict[str, str]:
    """Every schema a system of this run may have, by system (the store included)."""
    from simulation.database import STORE, schema_name
    from simulation.topology import SYSTEMS

    return {system: schema_name(settings, system) for system in (*SYSTEMS, STORE)}


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _save_postgres(settings: Settings, into: Path) -> tuple[list[str], int | None]:
    import psycopg

    from simulation.database import STORE

    into.mkdir(parents=True)
    systems = []
    now_us = None
    with psycopg.connect(_postgres_url(settings)) as connection:
        connection.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        connection.read_only = True
        connection.execute("SET lock_timeout = '30s'")
        existing = {row[0] for row in connection.execute("SELECT nspname FROM pg_namespace")}
        for system, schema in _schemas(settings).items():
            if schema not in existing:
                continue
            systems.append(system)
            connection.execute(f"SET search_path TO {_quote(schema)}")
            _save_schema(connection, schema, into / system)
            if system == STORE:
                try:
                    row = connection.execute("SELECT now_us FROM clock WHERE id = 1").fetchone()
                except psycopg.Error:
                    row = None
                now_us = None if row is None else int(row[0])
        connection.rollback()
    return systems, now_us


def _save_schema(connection, schema: str, into: Path) -> None:
    """A schema's definitions (schema.json) and rows (one binary COPY file a table)."""
    into.mkdir()
    tables = connection.execute(
        "SELECT c.oid, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = %s AND c.relkind IN ('r', 'p') ORDER BY c.relname", (schema,)).fetchall()
    described = []
    for number, (oid, table) in enumerate(tables):
        columns = []
        for column, kind, not_null, default, identity, generated in connection.execute(
            "SELECT a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull, "
            "pg_get_expr(d.adbin, d.adrelid), a.attidentity, a.attgenerated FROM pg_attribute a "
            "LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum "
            "WHERE a.attrelid = %s AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum", (oid,)):
            if identity or generated:
                raise SnapshotError(f"table {schema}.{table}: column {column} is an identity or generated "
                                    "column, which snapshots do not copy")
            columns.append({"name": column, "type": kind, "not_null": not_null, "default": default})
        constraints = [
            {"name": name, "kind": kind, "definition": definition}
            for name, kind, definition in connection.execute(
                "SELECT conname, contype, pg_get_constraintdef(oid) FROM pg_constraint "
                "WHERE conrelid = %s ORDER BY conname", (oid,))
        ]
        indexes = [
            _unqualified(row[0], schema) for row in connection.execute(
                "SELECT pg_get_indexdef(i.indexrelid) FROM pg_index i WHERE i.indrelid = %s AND NOT EXISTS "
                "(SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid AND c.conrelid = i.indrelid) "
                "ORDER BY i.indexrelid", (oid,))
        ]
        rows_file = f"{number:04d}.copy"
        with open(into / rows_file, "wb") as out, connection.cursor().copy(
                f"COPY {_quote(table)} TO STDOUT (FORMAT binary)") as copy:
            for block in copy:
                out.write(block)
        described.append({"name": table, "rows": rows_file, "columns": columns,
                          "constraints": constraints, "indexes": indexes})
    sequences = []
    for oid, sequence, kind, start, increment, low, high, cache, cycle in connection.execute(
        "SELECT c.oid, c.relname, format_type(s.seqtypid, NULL), s.seqstart, s.seqincrement, s.seqmin, "
        "s.seqmax, s.seqcache, s.seqcycle FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "JOIN pg_sequence s ON s.seqrelid = c.oid WHERE n.nspname = %s AND c.relkind = 'S' ORDER BY c.relname",
        (schema,)).fetchall():
        last_value, is_called = connection.execute(
            f"SELECT last_value, is_called FROM {_quote(sequence)}").fetchone()
        owner = connection.execute(
            "SELECT t.relname, a.attname FROM pg_depend d JOIN pg_class t ON t.oid = d.refobjid "
            "JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid "
            "WHERE d.classid = 'pg_class'::regclass AND d.objid = %s AND d.deptype = 'a'", (oid,)).fetchone()
        sequences.append({
            "name": sequence, "type": kind, "start": start, "increment": increment, "min": low, "max": high,
            "cache": cache, "cycle": cycle, "last_value": last_value, "is_called": is_called,
            "owned_by": list(owner) if owner else None,
        })
    (into / "schema.json").write_text(json.dumps({"tables": described, "sequences": sequences}, indent=1))


def _unqualified(index_definition: str, schema: str) -> str:
    """pg_get_indexdef names the table with its schema: the restore builds it in another."""
    for prefix in (f" ON {_quote(schema)}.", f" ON ONLY {_quote(schema)}.", f" ON {schema}.", f" ON ONLY {schema}."):
        if prefix in index_definition:
            return index_definition.replace(prefix, prefix.replace(f"{_quote(schema)}.", "").replace(f"{schema}.", ""), 1)
    return index_definition


def _connections_of_run(connection, settings: Settings) -> list[str]:
    """The application names of other sessions of this run's systems (simulation.database names them)."""
    marker = f"(egs_{settings.run_id}_"
    return [row[0] for row in connection.execute(
        "SELECT application_name FROM pg_stat_activity WHERE pid <> pg_backend_pid() "
        "AND position(%s in application_name) > 0", (marker,))]


def _restore_postgres(settings: Settings, source_dir: Path, systems: list[str]) -> None:
    import psycopg

    schemas = _schemas(settings)
    with psycopg.connect(_postgres_url(settings)) as connection:
        # a system that stopped a moment ago may still be listed for a little while
        deadline = time.monotonic() + 10.0
        while (users := _connections_of_run(connection, settings)) and time.monotonic() < deadline:
            connection.rollback()
            time.sleep(0.2)
        connection.rollback()
        if users:
            raise SnapshotError(
                "systems of this run are still connected to the database ("
                + ", ".join(sorted(set(users))) + "): stop them first, or restore through egov-sim up"
            )
        connection.execute("SET lock_timeout = '30s'")
        for schema in schemas.values():
            connection.execute(f"DROP SCHEMA IF EXISTS {_quote(schema)} CASCADE")
        for system in systems:
            if system not in schemas:
                raise SnapshotError(f"the snapshot holds a system this egov-sim does not know: {system!r}")
            _restore_schema(connection, schemas[system], source_dir / system)
        connection.commit()


def _restore_schema(connection, schema: str, source: Path) -> None:
    described = json.loads((source / "schema.json").read_text())
    connection.execute(f"CREATE SCHEMA {_quote(schema)}")
    connection.execute(f"SET search_path TO {_quote(schema)}")
    for sequence in described["sequences"]:
        connection.execute(
            f"CREATE SEQUENCE {_quote(sequence['name'])} AS {sequence['type']} INCREMENT BY {int(sequence['increment'])} "
            f"MINVALUE {int(sequence['min'])} MAXVALUE {int(sequence['max'])} START WITH {int(sequence['start'])} "
            f"CACHE {int(sequence['cache'])} {'CYCLE' if sequence['cycle'] else 'NO CYCLE'}")
    for table in described["tables"]:
        parts = [
            f"{_quote(c['name'])} {c['type']}" + (f" DEFAULT {c['default']}" if c["default"] is not None else "")
            + (" NOT NULL" if c["not_null"] else "")
            for c in table["columns"]
        ]
        parts += [f"CONSTRAINT {_quote(c['name'])} {c['definition']}"
                  for c in table["constraints"] if c["kind"] != "f"]
        connection.execute(f"CREATE TABLE {_quote(table['name'])} ({', '.join(parts)})")
        with open(source / table["rows"], "rb") as rows, connection.cursor().copy(
                f"COPY {_quote(table['name'])} FROM STDIN (FORMAT binary)") as copy:
            while block := rows.read(1 << 20):
                copy.write(block)
        for index in table["indexes"]:
            connection.execute(index)
    for table in described["tables"]:
        for constraint in table["constraints"]:
            if constraint["kind"] == "f":
                connection.execute(f"ALTER TABLE {_quote(table['name'])} ADD CONSTRAINT "
                                   f"{_quote(constraint['name'])} {constraint['definition']}")
    for sequence in described["sequences"]:
        if sequence["owned_by"]:
            table, column = sequence["owned_by"]
            connection.execute(f"ALTER SEQUENCE {_quote(sequence['name'])} OWNED BY {_quote(table)}.{_quote(column)}")
        connection.execute("SELECT setval(%s::regclass, %s, %s)",
                           (_quote(sequence["name"]), sequence["last_value"], sequence["is_called"]))


# ---- the other files --------------------------------------------------------------------------


def _stage_files(data_dir: Path, source_dir: Path, files: list[str]) -> dict[str, Path]:
    """Copy the snapshot's files to temporary names beside their places; {relative: temporary}.
    A failure removes what it copied (the world's files are untouched)."""
    staged: dict[str, Path] = {}
    try:
        for relative in files:
            destination = data_dir / relative
            destination.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            handle, temporary = tempfile.mkstemp(prefix=".restore.", dir=destination.parent)
            os.close(handle)
            staged[relative] = Path(temporary)
            shutil.copy2(source_dir / relative, temporary)
    except BaseException:
        for temporary in staged.values():
            temporary.unlink(missing_ok=True)
        raise
    return staged


def _place_files(data_dir: Path, staged: dict[str, Path]) -> None:
    temporaries = {temporary.relative_to(data_dir).as_posix() for temporary in staged.values()}
    for relative in _world_files(data_dir):
        if relative not in staged and relative not in temporaries:
            (data_dir / relative).unlink(missing_ok=True)
    for relative, temporary in staged.items():
        # a new file put in place: whoever caches a file by its inode and time reads it anew
        os.replace(temporary, data_dir / relative)


# ---- with egov-sim up running -----------------------------------------------------------------


def running_up(settings: Settings) -> int | None:
    """The process id of the ``egov-sim up`` that runs on this data directory, if one does."""
    try:
        pid = int(json.loads((_data_dir(settings) / UP_MARKER).read_text())["pid"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return pid if _alive(pid) else None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/status") as status:
            return "\nState:\tZ" not in status.read()
    except OSError:
        return True


def _write_json(path: Path, body: dict[str, Any]) -> None:
    temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex}")
    temporary.write_text(json.dumps(body, ensure_ascii=False))
    os.replace(temporary, path)


def ask_up(settings: Settings, pid: int, action: str, name: str, *, replace: bool = False,
           ceiling: float = UP_CEILING) -> dict[str, Any]:
    """Hand a save or restore to the running ``up`` and wait for its answer (``ok``, ``message``,
    ``manifest``). Past ``ceiling`` the request is withdrawn (``up`` skips one that has expired),
    so no restore is carried out later that nobody waits for."""
    folder = snapshots_dir(settings) / REQUESTS
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    request = folder / f"{uuid.uuid4().hex}.request"
    _write_json(request, {"action": action, "name": name, "replace": replace,
                          "expires": time.time() + ceiling})
    answer = request.with_suffix(".answer")
    deadline = time.monotonic() + ceiling
    while not answer.exists():
        if not _alive(pid):
            request.unlink(missing_ok=True)
            raise SnapshotError(f"egov-sim up (pid {pid}) ended before it answered")
        if time.monotonic() > deadline:
            try:
                request.unlink()
            except FileNotFoundError:  # up took it: it is carrying it out, its output will say how it went
                raise SnapshotError(
                    f"egov-sim up (pid {pid}) took the {action} of {name!r} but did not answer within "
                    f"{ceiling:g} s; its output says how it ended") from None
            raise SnapshotError(f"egov-sim up (pid {pid}) did not take the request within {ceiling:g} s "
                                f"(still starting, or hung); the {action} of {name!r} was withdrawn and will not "
                                "be carried out")
        time.sleep(0.1)
    body = json.loads(answer.read_text())
    answer.unlink(missing_ok=True)
    return body


class UpAgent:
    """``egov-sim up``'s side: marks the data directory as served by this ``up`` and carries out the
    snapshot requests the command leaves there (see the module's docstring)."""

    def __init__(self, cluster: Cluster, say: Callable[[str], None]) -> None:
        self.cluster = cluster
        self.say = say
        self.settings = cluster.settings
        self.folder = snapshots_dir(self.settings) / REQUESTS
        self.marker = _data_dir(self.settings) / UP_MARKER
        self.marker.parent.mkdir(parents=True, exist_ok=True)
        _write_json(self.marker, {"pid": os.getpid()})

    def close(self) -> None:
        try:
            if json.loads(self.marker.read_text()).get("pid") == os.getpid():
                self.marker.unlink()
        except (OSError, ValueError):
            pass

    def pending(self) -> bool:
        try:
            return any(entry.name.endswith(".request") for entry in os.scandir(self.folder))
        except OSError:
            return False

    def serve(self) -> set[str] | None:
        """Carry out the waiting requests. None when no system was restarted; after a restore,
        the systems that did not answer again within :data:`RESTART_CEILING` (empty: all did)."""
        restarted: set[str] | None = None
        self._sweep_answers()
        for path in sorted(self.folder.glob("*.request"), key=_mtime):
            written = _mtime(path)
            try:
                request = json.loads(path.read_text())
                path.unlink()
                action, name = request["action"], request["name"]
                expires = float(request.get("expires") or written + UP_CEILING)
            except (OSError, ValueError, KeyError, TypeError):
                path.unlink(missing_ok=True)
                continue
            if time.time() > expires:  # its command gave up waiting: nobody would read the answer
                self.say(f"snapshot {action} {name}: skipped, the command that asked gave up waiting")
                continue
            answer = path.with_suffix(".answer")
            try:
                if action == "save":
                    body = self._save(name, bool(request.get("replace")))
                elif action == "restore":
                    body, restarted = self._restore(name)
                else:
                    body = {"ok": False, "message": f"unknown snapshot action {action!r}"}
            except SnapshotError as exc:
                body = {"ok": False, "refused": True, "message": str(exc)}
            except Exception as exc:  # the answer says it; up goes on supervising
                body = {"ok": False, "message": f"{type(exc).__name__}: {exc}"}
            self.say(f"snapshot {action} {name}: {body['message']}")
            _write_json(answer, body)
        return restarted

    def _sweep_answers(self) -> None:
        """Remove answers nobody fetched within :data:`UP_CEILING` (their command gave up)."""
        for path in self.folder.glob("*.answer"):
            if time.time() - _mtime(path) > UP_CEILING:
                path.unlink(missing_ok=True)

    def _running(self) -> list[int]:
        return [child.pid for child in self.cluster.processes.values() if child.poll() is None]

    def _save(self, name: str, replace: bool) -> dict[str, Any]:
        check_name(name)
        frozen = self._running()
        for pid in frozen:
            os.kill(pid, signal.SIGSTOP)
        try:
            manifest = save(self.settings, name, replace=replace)
        finally:
            for pid in frozen:
                try:
                    os.kill(pid, signal.SIGCONT)
                except ProcessLookupError:
                    pass
        return {"ok": True, "manifest": manifest,
                "message": f"saved at virtual time {manifest['virtual_time']} (systems paused during the copy)"}

    def _restore(self, name: str) -> tuple[dict[str, Any], set[str]]:
        check_restorable(self.settings, name)  # refused before anything stops
        cluster = self.cluster
        cluster.stop()
        failure = None
        manifest = None
        try:
            manifest = restore(self.settings, name)
        except Exception as exc:
            failure = f"{type(exc).__name__}: {exc}" if not isinstance(exc, SnapshotError) else str(exc)
        unhealthy = self._start_again()
        if failure is not None:
            return {"ok": False, "message": f"not restored ({failure}); the systems were started again"}, unhealthy
        if unhealthy:
            return {"ok": False, "manifest": manifest, "message": "restored, but not answering after "
                    f"{RESTART_CEILING:g} s: {', '.join(sorted(unhealthy))}"}, unhealthy
        return {"ok": True, "manifest": manifest, "message": f"restored to virtual time {manifest['virtual_time']}; "
                "every system was started again"}, unhealthy

    def _start_again(self) -> set[str]:
        cluster = self.cluster
        cluster.processes.clear()  # all stopped: start() launches those it has no process for
        try:
            cluster.start(first_timeout=RESTART_CEILING)
            cluster.wait_healthy(RESTART_CEILING)
        except (RuntimeError, TimeoutError):
            return {system for system in cluster.systems if system not in cluster.processes
                    or not _answers(cluster.settings.url_of(system))}
        return set()


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:  # gone meanwhile
        return 0.0


def _answers(url: str) -> bool:
    import httpx

    try:
        return httpx.get(url + "/health", timeout=2.0).status_code == 200
    except httpx.HTTPError:
        return False


# ---- the command ------------------------------------------------------------------------------


def add_parser(commands) -> None:
    snapshot = commands.add_parser(
        "snapshot", help="save and restore the whole world (databases, keys, secrets, the clock)",
        description="Snapshots of the whole world in DATA_DIR/snapshots/NAME. With egov-sim up running on the "
                    "data directory, up pauses the systems for a save and restarts them for a restore "
                    "(docs/snapshots.md).")
    snapshot.add_argument("--data-dir", metavar="DIR", help="the run's data directory (default ./.egov-sim)")
    # --data-dir after the action too (egov-sim snapshot save NAME --data-dir DIR)
    where = argparse.ArgumentParser(add_help=False)
    where.add_argument("--data-dir", metavar="DIR", default=argparse.SUPPRESS,
                       help="the run's data directory (default ./.egov-sim)")
    sub = snapshot.add_subparsers(dest="snapshot_command", required=True, metavar="ACTION")
    original = sub.add_parser
    sub.add_parser = lambda *a, **k: original(*a, parents=[where], **k)  # type: ignore[method-assign]
    save_parser = sub.add_parser("save", help="take the world as snapshot NAME")
    save_parser.add_argument("name", metavar="NAME")
    save_parser.add_argument("--replace", action="store_true", help="overwrite a snapshot of that name")
    restore_parser = sub.add_parser("restore", help="make the world what snapshot NAME holds")
    restore_parser.add_argument("name", metavar="NAME")
    listing = sub.add_parser("list", help="the snapshots, with their virtual time and backend")
    listing.add_argument("--json", action="store_true", help="print their manifests as JSON")
    delete_parser = sub.add_parser("delete", help="remove snapshot NAME")
    delete_parser.add_argument("name", metavar="NAME")


def run_snapshot(args: argparse.Namespace, settings: Settings, out: TextIO, err: TextIO) -> int:
    """0 done, 1 failed, 2 refused (a bad name, an unknown snapshot, another backend…)."""
    action = args.snapshot_command
    try:
        if action == "list":
            manifests = list_snapshots(settings)
            if args.json:
                out.write(json.dumps(manifests, ensure_ascii=False, indent=2) + "\n")
            for manifest in [] if args.json else manifests:
                out.write(f"{manifest.get('name')}  virtual time {manifest.get('virtual_time')}  "
                          f"{manifest.get('backend')}  saved {manifest.get('created')}\n")
            return 0
        check_name(args.name)
        if action == "delete":
            delete(settings, args.name)
            out.write(f"deleted snapshot {args.name}\n")
            return 0
        pid = running_up(settings)
        if pid is not None:
            if action == "restore":
                check_restorable(settings, args.name)
            body = ask_up(settings, pid, action, args.name, replace=getattr(args, "replace", False))
            if not body.get("ok"):
                err.write(f"egov-sim snapshot {action}: {body.get('message')}\n")
                return 2 if body.get("refused") else 1
            out.write(f"snapshot {args.name}: {body['message']} (by egov-sim up, pid {pid})\n")
            return 0
        if action == "save":
            manifest = save(settings, args.name, replace=args.replace)
            out.write(f"snapshot {args.name}: saved at virtual time {manifest['virtual_time']} in "
                      f"{snapshots_dir(settings) / args.name}\n")
        else:
            manifest = restore(settings, args.name)
            out.write(f"snapshot {args.name}: restored to virtual time {manifest['virtual_time']}\n")
        return 0
    except SnapshotError as exc:
        err.write(f"egov-sim snapshot {action}: {exc}\n")
        return 2
    except (OSError, sqlite3.Error) as exc:
        err.write(f"egov-sim snapshot {action}: {exc}\n")
        return 1



def restore_into(settings: Settings, name: str, source: Path | None = None) -> dict[str, Any]:
    """Make the (new, not yet started) world of ``settings`` what snapshot ``name`` of another
    world holds: the snapshot is copied from ``source``'s snapshots (a data directory; default:
    ``EGOV_SIM_DATA_DIR``, else the default data directory) and restored here. A scenario's
    ``given.snapshot`` starts its fresh world this way."""
    check_name(name)
    source_dir = (source or Settings().data_dir).expanduser().resolve()
    found = source_dir / SNAPSHOTS / name
    if not (found / "manifest.json").is_file():
        known = [p.name for p in (source_dir / SNAPSHOTS).glob("*") if (p / "manifest.json").is_file()]
        raise SnapshotError(f"no snapshot {name!r} in {source_dir / SNAPSHOTS} "
                            f"(there: {', '.join(sorted(known)) or 'none'}; egov-sim snapshot save {name} makes one)")
    target = snapshots_dir(settings) / name
    if target.resolve() != found:
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.rmtree(target, ignore_errors=True)
        shutil.copytree(found, target)
    return restore(settings, name)
