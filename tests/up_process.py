"""`egov-sim up` in a subprocess, its output read as it comes, for the tests of `up`.

Tests wait for the line they need; the ceiling only stops a hung run, it measures nothing.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from typing import IO

UP_COMMAND = [sys.executable, "-m", "egov_sim.cli", "up"]
CEILING = 180.0
"""Seconds after which a wait is taken for a hang (a loaded two-core machine starts thirteen
systems in well under a minute)."""


class UpProcess:
    def __init__(self, *args: str, env: dict[str, str] | None = None) -> None:
        environment = dict(os.environ)
        environment.pop("EGOV_SIM_URLS", None)
        environment.update(env or {})
        self.process = subprocess.Popen(
            [*UP_COMMAND, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=environment, text=True,
        )
        self.stdout: list[str] = []
        self.stderr: list[str] = []
        self._changed = threading.Condition()
        self._open = 2
        self._readers = [
            threading.Thread(target=self._read, args=(stream, lines), daemon=True)
            for stream, lines in ((self.process.stdout, self.stdout), (self.process.stderr, self.stderr))
        ]
        for reader in self._readers:
            reader.start()

    def _read(self, stream: IO[str], lines: list[str]) -> None:
        for line in stream:
            with self._changed:
                lines.append(line)
                self._changed.notify_all()
        with self._changed:
            self._open -= 1
            self._changed.notify_all()

    def output(self) -> str:
        with self._changed:
            return "".join(self.stdout) + "\n--- stderr ---\n" + "".join(self.stderr)

    def mark(self, stream: str = "stdout") -> int:
        """Where the next line of ``stream`` will be: a starting point for :meth:`wait_for`."""
        with self._changed:
            return len(getattr(self, stream))

    def wait_for(self, pattern: str, *, stream: str = "stdout", since: int = 0, ceiling: float = CEILING) -> re.Match:
        """The first line of ``stream`` from line ``since`` on that matches ``pattern``."""
        regex = re.compile(pattern)
        lines: list[str] = getattr(self, stream)
        deadline = time.monotonic() + ceiling
        with self._changed:
            seen = since
            while True:
                for line in lines[seen:]:
                    if match := regex.search(line):
                        return match
                seen = max(seen, len(lines))
                if self._open == 0:
                    raise AssertionError(f"up ended without a line matching {pattern!r}:\n{self.output()}")
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"no line matching {pattern!r} after {ceiling:g} s (a hang?):\n{self.output()}")
                self._changed.wait(remaining)

    def wait_until_up(self) -> re.Match:
        return self.wait_for(r"^All \d+ systems (started here )?are up")

    def pids(self) -> dict[str, int]:
        """The process id of each system in the table `up` printed."""
        with self._changed:
            text = "".join(self.stdout)
        return {m[1]: int(m[2]) for m in re.finditer(r"^(\S+)\s+\d+\s+http://\S+\s+(\d+)\s", text, re.MULTILINE)}

    def wait(self, ceiling: float = CEILING) -> int:
        """Wait for `up` to end by itself; its exit code."""
        code = self.process.wait(ceiling)
        for reader in self._readers:
            reader.join(ceiling)
        return code

    def stop(self, signum: int = signal.SIGTERM) -> int:
        """Stop `up` (if it still runs) as an operator would; its exit code."""
        if self.process.poll() is None:
            self.process.send_signal(signum)
        try:
            return self.wait()
        except subprocess.TimeoutExpired:
            self.process.kill()
            raise


def alive(pid: int) -> bool:
    """Whether a process runs (a zombie, exited but not yet reaped, does not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        with open(f"/proc/{pid}/status") as status:
            return "\nState:\tZ" not in status.read()
    except FileNotFoundError:
        return os.name != "posix" or not os.path.isdir("/proc")
