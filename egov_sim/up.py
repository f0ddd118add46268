"""``egov-sim up``: every system as its own process on 127.0.0.1."""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import signal
import subprocess
import time
from importlib import import_module
from collections.abc import Sequence
from typing import TextIO

import httpx

from simulation.settings import Settings
from simulation.topology import START_ORDER, SYSTEMS



def _serve(system: str, settings: Settings) -> None:
    """A child process: one system's app under uvicorn, until SIGTERM or SIGINT."""
    import uvicorn

    from egov_sim.inprocess import create
    from simulation.serving import HttpProtocol

    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, signal.SIG_DFL)
    asyncio.events._set_running_loop(None)  # forked from a process whose loop was running
    app = create(system, settings, transport=None)
    config = uvicorn.Config(
        app, host=settings.host, port=settings.port_of(system), log_level="warning",
        access_log=False, lifespan="on",
        # systems are reached directly, never through a proxy, and name themselves in their answers'
        # signatures: no X-Forwarded-* rewriting and no Server header on every answer
        proxy_headers=False, server_header=False,
        http=HttpProtocol,  # uvicorn's httptools protocol, each answer written in one piece
    )
    uvicorn.Server(config).run()


class _Child:
    """One system's process (forked after the code is loaded, so each starts in a moment)."""

    def __init__(self, system: str, settings: Settings) -> None:
        self.process = _FORK.Process(target=_serve, args=(system, settings), name=f"egov-sim {system}")
        self.process.start()

    @property
    def pid(self) -> int:
        assert self.process.pid is not None
        return self.process.pid

    @property
    def returncode(self) -> int | None:
        return self.process.exitcode

    def poll(self) -> int | None:
        return None if self.process.is_alive() else self.process.exitcode

    def send_signal(self, signum: int) -> None:
        if self.process.is_alive():
            os.kill(self.pid, signum)

    def wait(self, timeout: float | None = None) -> None:
        self.process.join(timeout)
        if self.process.is_alive():
            raise subprocess.TimeoutExpired(self.process.name, timeout)

    def kill(self) -> None:
        self.process.kill()


_FORK = multiprocessing.get_context("fork")


class Cluster:
    """The processes of one run; stops them all, whatever happens."""

    def __init__(self, settings: Settings, systems: Sequence[str] = START_ORDER) -> None:
        self.settings = settings
        self.systems = list(systems)
        self.processes: dict[str, _Child] = {}

    def start(self, first_timeout: float = 30.0) -> None:
        for system in self.systems:  # load every app's code once, before forking
            import_module(SYSTEMS[system].app.split(":")[0])
        # The certification authority first, alone: every other system enrols with it as it
        # starts, so starting them all at once only has them wait (and poll) while the CA,
        # sharing the cores with them, creates its keys and the seeded people's.
        first = [s for s in self.systems if s == "signatures"]
        for system in first:
            self.processes[system] = _Child(system, self.settings)
        if first:
            self.wait_healthy(first_timeout, first)
        for system in self.systems:
            if system not in self.processes:
                self.processes[system] = _Child(system, self.settings)

    def restart(self, system: str) -> None:
        """Start one system again (after it stopped or was killed), on the same data."""
        self.processes[system] = _Child(system, self.settings)

    def wait_healthy(self, timeout: float = 30.0, systems: Sequence[str] | None = None) -> None:
        deadline = time.monotonic() + timeout
        pending = set(self.systems if systems is None else systems)
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
