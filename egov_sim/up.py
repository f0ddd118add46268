"""``egov-sim up``: every system as its own process on 127.0.0.1."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from typing import TextIO

import httpx

from simulation.settings import Settings
from simulation.topology import SYSTEMS

START_ORDER = ("signatures", "control", "gateway", "gateway-almaty", "registries",
               "portal", "corporation_ws", "provider_ws")


def child_environment(settings: Settings) -> dict[str, str]:
    env = dict(os.environ)
    env["EGOV_SIM_DATA_DIR"] = str(settings.data_dir.expanduser().resolve())
    env["EGOV_SIM_HOST"] = settings.host
    env["EGOV_SIM_BASE_PORT"] = str(settings.base_port)
    if settings.clock_start is not None:
        env["EGOV_SIM_CLOCK_START"] = settings.clock_start.isoformat()
    if settings.database_url:
        env["EGOV_SIM_DATABASE_URL"] = settings.database_url
    return env


def command(system: str, settings: Settings) -> list[str]:
    return [
        sys.executable, "-m", "uvicorn", "--factory", SYSTEMS[system].app,
        "--host", settings.host, "--port", str(settings.port_of(system)),
        "--log-level", "warning", "--no-access-log",
    ]


class Cluster:
    """The processes of one run; stops them all, whatever happens."""

    def __init__(self, settings: Settings, systems: Sequence[str] = START_ORDER) -> None:
        self.settings = settings
        self.systems = list(systems)
        self.processes: dict[str, subprocess.Popen[bytes]] = {}

    def start(self) -> None:
        env = child_environment(self.settings)
        for system in self.systems:
            self.processes[system] = subprocess.Popen(command(system, self.settings), env=env)

    def wait_healthy(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        pending = set(self.systems)
        with httpx.Client(timeout=2.0) as client:
            while pending:
                for system in sorted(pending):
                    process = self.processes[system]
                    if process.poll() is not None:
                        raise RuntimeError(f"{system} exited with code {process.returncode} while starting")
                    try:
                        if client.get(self.settings.url_of(system) + "/health").status_code == 200:
                            pending.discard(system)
                    except httpx.TransportError:
                        pass
                if pending:
                    if time.monotonic() > deadline:
                        raise TimeoutError(f"not healthy after {timeout:g} s: {', '.join(sorted(pending))}")
                    time.sleep(0.1)

    def stop(self, timeout: float = 5.0) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for process in self.processes.values():
            remaining = max(0.1, deadline - time.monotonic())
            try:
                process.wait(remaining)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def table(self) -> str:
        rows = [("system", "port", "url", "pid", "what it stands for")]
        for system in self.systems:
            spec = SYSTEMS[system]
            rows.append((system, str(self.settings.port_of(system)), self.settings.url_of(system),
                         str(self.processes[system].pid), f"{spec.title_kk} / {spec.title_en}"))
        widths = [max(len(r[i]) for r in rows) for i in range(4)]
        return "\n".join(
            "  ".join(cell.ljust(widths[i]) if i < 4 else cell for i, cell in enumerate(row))
            for row in rows
        )


def run_up(settings: Settings, out: TextIO) -> int:
    cluster = Cluster(settings)
    stopping = False

    def on_signal(signum, _frame) -> None:
        nonlocal stopping
        if not stopping:  # the first signal stops the run; repeats only wait for it
            stopping = True
            raise KeyboardInterrupt

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        cluster.start()
        cluster.wait_healthy()
        out.write(cluster.table() + "\n")
        out.write(f"All {len(cluster.systems)} systems are up; data in "
                  f"{settings.data_dir.expanduser().resolve()}. Ctrl-C stops them.\n")
        out.flush()
        while True:
            for system, process in cluster.processes.items():
                if process.poll() is not None:
                    out.write(f"{system} exited with code {process.returncode}; stopping the others\n")
                    return 1
            time.sleep(0.5)
    except KeyboardInterrupt:
        out.write("Stopping…\n")
        return 0
    except (RuntimeError, TimeoutError) as exc:
        out.write(f"egov-sim up failed: {exc}\n")
        return 1
    finally:
        stopping = True
        cluster.stop()
        for s, handler in previous.items():
            signal.signal(s, handler)
        out.write("All systems stopped.\n")
        out.flush()
