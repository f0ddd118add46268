"""The wheel alone runs egov-sim: built from what the Docker image is built from, installed into a
fresh virtual environment, `egov-sim demo` and `egov-sim up` work from outside the source tree,
and every file the systems open is one the wheel ships.

The Docker image is `pip install .` of the build context (.dockerignore), and its containers run
the factories `egov-sim up` runs (tests/test_docker_compose.py holds the compose commands to
simulation/topology.py). So what `up` opens from the installed wheel here is what the containers
open, without a Docker engine.

An audit hook (PEP 578), installed in the fresh environment by a .pth file, writes down every
file any of its Python processes opens, the forked systems of `up` included. Dependencies come
from the package index (pip's cache makes that quick after the first time).
"""

from __future__ import annotations

import asyncio
import csv
import fnmatch
import json
import os
import queue
import re
import shlex
import shutil
import signal
import subprocess
import sys
import threading
import time
import tomllib
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from egov_sim.ports import free_base_port
from simulation.database import drop_run
from simulation.settings import Settings
from simulation.topology import START_ORDER, SYSTEMS
from up_process import alive

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX venv layout and signals")

ROOT = Path(__file__).resolve().parents[1]
CEILING = 300.0
"""Seconds after which a wait is taken for a hang; it measures nothing."""
OPEN_LOG = "EGOV_SIM_TEST_OPEN_LOG"

AUDIT_MODULE = '''\
"""Test instrumentation (tests/test_wheel.py): every file opened, one absolute path a line."""
import os
import sys

_log = os.environ.get("EGOV_SIM_TEST_OPEN_LOG")
if _log:
    _fd = os.open(_log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)

    def _opened(event, args, _fd=_fd, _write=os.write, _fspath=os.fspath, _fsdecode=os.fsdecode,
                _abspath=os.path.abspath):
        if event != "open" or not args or args[0] is None or isinstance(args[0], int):
            return
        try:
            path = _abspath(_fsdecode(_fspath(args[0])))
            _write(_fd, (path + "\\n").encode("utf-8", "surrogateescape"))
        except Exception:
            pass

    sys.addaudithook(_opened)
'''


# ---- building and installing -------------------------------------------------------------------


def dockerignore_patterns() -> list[str]:
    lines = (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
    return [line.strip().rstrip("/") for line in lines if line.strip() and not line.lstrip().startswith("#")]


def ignored(relative: str, patterns: list[str]) -> bool:
    """Whether Docker leaves ``relative`` (or a folder it is in) out of the build context."""
    parts = relative.split("/")
    for pattern in patterns:
        if pattern.startswith("**/"):
            if any(fnmatch.fnmatchcase(part, pattern[3:]) for part in parts):
                return True
        elif any(fnmatch.fnmatchcase("/".join(parts[: i + 1]), pattern) for i in range(len(parts))):
            return True
    return False


def copy_build_context(target: Path) -> None:
    patterns = dockerignore_patterns()

    def leave_out(folder: str, names: list[str]) -> list[str]:
        base = Path(folder).relative_to(ROOT).as_posix()
        return [n for n in names if ignored(n if base == "." else f"{base}/{n}", patterns)]

    shutil.copytree(ROOT, target, ignore=leave_out)


def run(command: list[str], **kwargs) -> subprocess.CompletedProcess:
    done = subprocess.run(command, capture_output=True, text=True, **kwargs)
    assert done.returncode == 0, f"{shlex.join(command)} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}"
    return done


@dataclass
class Installed:
    wheel: Path
    venv: Path
    site_packages: Path
    record: set[str]
    """Files the wheel installed, relative to site-packages (its RECORD)."""
    packages: set[str]
    """The wheel's top-level packages."""
    home: Path
    """A folder outside the source tree, to run commands from."""

    def bin(self, name: str) -> str:
        return str(self.venv / "bin" / name)

    def environment(self, open_log: Path | None = None) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
        env.pop("EGOV_SIM_URLS", None)  # `up` on its own ports; EGOV_SIM_DATABASE_URL is kept (CI's PostgreSQL)
        env.pop("EGOV_SIM_DATA_DIR", None)
        env["PATH"] = f"{self.venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
        env["PYTHONDONTWRITEBYTECODE"] = "1"
        env["EGOV_SIM_POPULATION_SIZE"] = "300"  # as the other tests' runs: the registries load at once
        if open_log is not None:
            env[OPEN_LOG] = str(open_log)
        return env


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    work = tmp_path_factory.mktemp("wheel")
    context, dist, venv, home = work / "context", work / "dist", work / "venv", work / "home"
    copy_build_context(context)
    run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--disable-pip-version-check",
         "--wheel-dir", str(dist), str(context)])
    (wheel,) = dist.glob("egov_sim-*.whl")
    run([sys.executable, "-m", "venv", "--without-pip", str(venv)])
    python = venv / "bin" / "python"
    # this test's pip installs into the fresh environment, which needs no pip of its own
    run([sys.executable, "-m", "pip", "--python", str(python), "install", "--disable-pip-version-check",
         str(wheel)])
    site_packages = Path(run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             cwd=work).stdout.strip())
    (site_packages / "_egov_sim_open_audit.py").write_text(AUDIT_MODULE, encoding="utf-8")
    (site_packages / "_egov_sim_open_audit.pth").write_text("import _egov_sim_open_audit\n", encoding="utf-8")
    (dist_info,) = site_packages.glob("egov_sim-*.dist-info")
    with (dist_info / "RECORD").open(encoding="utf-8", newline="") as record_file:
        record = {row[0] for row in csv.reader(record_file) if row}
    packages = {
        name.split("/")[0] for name in record
        if "/" in name and not name.startswith("..") and not name.split("/")[0].endswith(".dist-info")
    }
    home.mkdir()
    return Installed(wheel, venv, site_packages, record, packages, home)


# ---- what a run opened ---------------------------------------------------------------------------


def opened_files(log: Path) -> set[Path]:
    assert log.exists(), "the audit hook wrote nothing: was it installed?"
    return {Path(line).resolve() for line in log.read_text(encoding="utf-8", errors="replace").splitlines() if line}


def check_opened(installed: Installed, log: Path, what: str, *, complete: bool = True) -> None:
    """No file from the source tree; every file of egov-sim's packages one the wheel installed;
    and, once the run is ``complete``, every data file of the wheel read from it."""
    opened = opened_files(log)
    site = installed.site_packages.resolve()
    from_source = sorted(str(p) for p in opened if p.is_relative_to(ROOT))
    assert not from_source, f"{what} opened files of the source tree, not of the wheel: {from_source}"
    ours = {
        p.relative_to(site).as_posix() for p in opened
        if p.is_relative_to(site) and p.relative_to(site).parts[0] in installed.packages
        and "__pycache__" not in p.parts
    }
    missing = sorted(ours - installed.record)
    assert not missing, f"{what} opened files that the wheel does not ship: {missing}"
    if not complete:
        return
    # The hook saw what it is here for: each system's data file, read from the installed package.
    data = {name for name in installed.record if name.endswith(".yaml") and name.split("/")[0] in installed.packages}
    assert data, "the wheel ships no data file at all"
    unread = sorted(data - ours)
    assert not unread, f"{what} never opened these data files of the wheel (is the audit hook working?): {unread}"


@pytest.fixture
def world(tmp_path: Path) -> Iterator[Path]:
    """A data directory for one run; its PostgreSQL schemas (CI) dropped afterwards."""
    data_dir = tmp_path / "world"
    yield data_dir
    asyncio.run(drop_run(Settings(data_dir=data_dir), (*SYSTEMS, "simulation")))


# ---- the tests -----------------------------------------------------------------------------------


def test_the_wheel_holds_every_file_of_the_packages(installed: Installed) -> None:
    """Every file in the source tree's packages -- code and data alike -- is in the wheel."""
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    includes = pyproject["tool"]["setuptools"]["packages"]["find"]["include"]
    tops = {p.name for p in ROOT.iterdir() if p.is_dir() and (p / "__init__.py").exists()
            and any(fnmatch.fnmatchcase(p.name, pattern) for pattern in includes)}
    assert tops == installed.packages
    with zipfile.ZipFile(installed.wheel) as wheel:
        names = set(wheel.namelist())
    patterns = dockerignore_patterns()
    missing = []
    for top in sorted(tops):
        for path in sorted((ROOT / top).rglob("*")):
            relative = path.relative_to(ROOT).as_posix()
            if path.is_file() and not ignored(relative, patterns) and relative not in names:
                missing.append(relative)
    assert not missing, f"files of the packages that the wheel leaves out: {missing}"


def test_compose_services_run_factories_the_wheel_ships(installed: Installed) -> None:
    """Each compose service's `uvicorn --factory module:attr` names a module of the wheel; every
    system has one service, and a replica (EGOV_SIM_REPLICA set) runs its system's factory again."""
    services = yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))["services"]
    factories = []
    for name, service in services.items():
        command = service.get("command")
        if command is None:
            continue
        replica = str((service.get("environment") or {}).get("EGOV_SIM_REPLICA", ""))
        if replica and not replica.endswith("#1"):
            continue  # a further replica of a system whose first is listed (docs/scaling.md)
        command = shlex.split(command) if isinstance(command, str) else [str(c) for c in command]
        factory = command[command.index("--factory") + 1]
        module = factory.split(":")[0].replace(".", "/") + ".py"
        assert module in installed.record, f"compose service {name}: {module} is not in the wheel"
        factories.append(factory)
    assert sorted(factories) == sorted(SYSTEMS[s].app for s in START_ORDER)


def test_egov_sim_is_imported_from_the_fresh_environment(installed: Installed) -> None:
    code = "import importlib, sys; print('\\n'.join(importlib.import_module(p).__file__ for p in sys.argv[1:]))"
    done = run([installed.bin("python"), "-c", code, *sorted(installed.packages)],
               cwd=installed.home, env=installed.environment())
    site = installed.site_packages.resolve()
    for line in done.stdout.splitlines():
        assert Path(line).resolve().is_relative_to(site), f"{line} is not the installed wheel's"


def test_demo_runs_from_the_wheel(installed: Installed, world: Path, tmp_path: Path) -> None:
    log = tmp_path / "opened.txt"
    done = subprocess.run(
        [installed.bin("egov-sim"), "demo", "--data-dir", str(world)],
        cwd=installed.home, env=installed.environment(log), capture_output=True, text=True, timeout=CEILING,
    )
    check_opened(installed, log, "egov-sim demo", complete=False)  # a missing file named, before its traceback
    assert done.returncode == 0, f"egov-sim demo failed ({done.returncode}):\n{done.stdout}\n{done.stderr}"
    for step in ("1-процесс", "8-процесс"):  # the reglament's steps, narrated as they happen
        assert step in done.stdout, done.stdout
    check_opened(installed, log, "egov-sim demo")


def test_up_runs_from_the_wheel_and_stops_on_sigterm(installed: Installed, world: Path, tmp_path: Path) -> None:
    log = tmp_path / "opened.txt"
    base = free_base_port()
    process = subprocess.Popen(
        [installed.bin("egov-sim"), "up", "--base-port", str(base), "--data-dir", str(world)],
        cwd=installed.home, env=installed.environment(log),
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    lines: queue.Queue[str | None] = queue.Queue()
    output: list[str] = []

    def read() -> None:
        for line in process.stdout:  # type: ignore[union-attr]
            lines.put(line)
        lines.put(None)

    threading.Thread(target=read, daemon=True).start()
    pids: set[int] = set()
    ended = False
    try:
        deadline = time.monotonic() + CEILING
        while True:
            try:
                line = lines.get(timeout=max(0.1, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError(f"egov-sim up: not up after {CEILING:g} s (a hang?):\n{''.join(output)}") from None
            if line is None:
                ended = True
                raise AssertionError("egov-sim up ended before its systems were up:\n" + "".join(output))
            output.append(line)
            pids |= {int(p) for p in re.findall(r"http://127\.0\.0\.1:\d+\s+(\d+)", line)}
            if re.search(r"systems (started here )?are up", line):
                break
        assert len(pids) == len(START_ORDER), "".join(output)
        # An application through the running systems has them read the rest of their data: the
        # reglament's definition, and the registries' fixtures, by which this citizen owns his
        # flat and is refused.
        applied = subprocess.run(
            [installed.bin("egov-sim"), "apply", "almaty-queue", "--channel", "portal", "--iin", "800404305123",
             "--run", "--json", "--base-port", str(base)],
            # the run's world, whose admin token apply reads (the clock, the trace)
            cwd=installed.home, env={**installed.environment(), "EGOV_SIM_DATA_DIR": str(world)},
            capture_output=True, text=True, timeout=CEILING,
        )
        assert applied.returncode == 0, f"egov-sim apply failed:\n{applied.stdout}\n{applied.stderr}"
        assert json.loads(applied.stdout)["outcome"] == "refused", applied.stdout
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=CEILING)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            raise AssertionError("egov-sim up did not stop on SIGTERM:\n" + "".join(output)) from None
        while not ended and (line := lines.get(timeout=CEILING)) is not None:
            output.append(line)
        check_opened(installed, log, "egov-sim up", complete=False)  # a missing file named, whatever failed
    assert process.returncode == 0, "".join(output)
    deadline = time.monotonic() + CEILING
    while (running := [pid for pid in pids if alive(pid)]) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not running, f"systems left running after up stopped: {running}"
    check_opened(installed, log, "egov-sim up")


def test_the_developer_guide_example_passes_with_the_plugin_from_the_wheel(installed: Installed, tmp_path: Path) -> None:
    """docs/developers.md's provider against the mock ЭҮШ, run by pytest in the wheel's environment:
    the egov-sim plugin comes from the wheel's pytest11 entry point (no checkout on sys.path)."""
    from importlib.metadata import version

    from test_developer_guide import run_example

    # the test extra's pytest, pytest-asyncio and respx, as this environment has them (pip's cache)
    run([sys.executable, "-m", "pip", "--python", str(installed.venv / "bin" / "python"), "install",
         "--disable-pip-version-check", *(f"{name}=={version(name)}" for name in ("pytest", "pytest-asyncio", "respx"))])
    folder = tmp_path / "developer"
    folder.mkdir()
    done = run_example(installed.bin("python"), folder, env=installed.environment())
    assert done.returncode == 0, done.stdout + done.stderr
    assert "3 passed" in done.stdout, done.stdout
