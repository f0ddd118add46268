"""`egov-sim trainer` (every system in one process, the view on a real socket) and the trainer's view
under `egov-sim up` (the control system's own process reaching the others over HTTP), each as a
subprocess whose output is read as it comes. The ceilings only stop a hung run; they measure
nothing."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time

import httpx
import pytest
from up_process import CEILING, UpProcess

from egov_sim.cli import main as egov_sim_main
from egov_sim.ports import free_base_port
from egov_sim.trainer.cli import serving
from simulation.access import TOKEN_HEADER
from simulation.database import drop_run
from simulation.settings import Settings
from simulation.topology import SYSTEMS

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")

TRAINER_COMMAND = [sys.executable, "-m", "egov_sim.trainer.cli"]
"""`egov-sim trainer`, through the same parser (egov_sim.cli's) as the installed command."""

ADDRESS = r"^trainer: (http://[^#\s]+/trainer)#token=(\S+)$"
UP_ADDRESS = r"^trainer: (http://[^#\s]+/trainer) \(the page asks for the admin token\)$"


class Process:
    """A command's output lines, read by threads as they come; waits for a line with a ceiling."""

    def __init__(self, command: list[str]) -> None:
        environment = dict(os.environ)
        environment.pop("EGOV_SIM_URLS", None)
        self.process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                        env=environment)
        self.lines: list[str] = []
        self.errors: list[str] = []
        self._changed = threading.Condition()
        self._readers = [threading.Thread(target=self._read, args=(stream, into), daemon=True)
                         for stream, into in ((self.process.stdout, self.lines), (self.process.stderr, self.errors))]
        for reader in self._readers:
            reader.start()

    def _read(self, stream, into: list[str]) -> None:
        for line in stream:
            with self._changed:
                into.append(line.rstrip("\n"))
                self._changed.notify_all()
        with self._changed:
            self._changed.notify_all()

    def output(self) -> str:
        return "\n".join(self.lines) + "\n--- stderr ---\n" + "\n".join(self.errors)

    def wait_for(self, pattern: str) -> re.Match:
        regex, deadline = re.compile(pattern), time.monotonic() + CEILING
        with self._changed:
            while True:
                for line in self.lines:
                    if match := regex.search(line):
                        return match
                if self.process.poll() is not None and all(not r.is_alive() for r in self._readers):
                    raise AssertionError(f"ended without a line matching {pattern!r}:\n{self.output()}")
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"no line matching {pattern!r} after {CEILING:g} s:\n{self.output()}")
                self._changed.wait(min(remaining, 0.5))

    def stop(self, signum: int = signal.SIGTERM) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signum)
        try:
            code = self.process.wait(CEILING)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise
        for reader in self._readers:
            reader.join(CEILING)
        return code


def _free_port() -> int:
    return free_base_port(span=1)


def _check_view(page_url: str, token: str) -> None:
    with httpx.Client(timeout=30) as client:
        page = client.get(page_url)
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html"), page.text
        assert "<html" in page.text.lower()
        assert client.get(f"{page_url}/api/whoami", headers={TOKEN_HEADER: token}).json() == {"role": "admin"}
        assert client.get(f"{page_url}/api/whoami").status_code == 401
        catalogue = client.get(f"{page_url}/api/catalogue").json()
        assert len(catalogue["reglaments"]) >= 7  # and any of EGOV_SIM_REGLAMENTS


async def test_the_trainer_command_serves_the_view_and_stops_on_sigterm(tmp_path):
    settings = Settings(data_dir=tmp_path / "world")
    port = _free_port()
    trainer = Process([*TRAINER_COMMAND, "--port", str(port), "--data-dir", str(settings.data_dir)])
    try:
        page_url, token = trainer.wait_for(ADDRESS).groups()
        assert page_url == f"http://127.0.0.1:{port}/trainer"
        assert token == (settings.data_dir / "admin.token").read_text().strip()
        _check_view(page_url, token)
        with httpx.Client(timeout=30) as client:  # the control system says where it listens
            listed = {s["name"]: s["url"] for s in client.get(f"http://127.0.0.1:{port}/systems").json()}
        assert listed["control"] == f"http://127.0.0.1:{port}"
        # trace show on the trainer's data directory reads through the view (the other systems
        # listen on no socket; the world is not opened a second time)
        assert serving(settings.data_dir.resolve()) == page_url
        with httpx.Client(base_url=page_url, timeout=60, headers={TOKEN_HEADER: token}) as client:
            started = client.post("/api/plays", json={"reglament": "almaty-queue", "channel": "portal", "case": "approved"})
            deadline = time.monotonic() + CEILING
            while (state := client.get(f"/api/plays/{started.json()['playId']}").json())["status"] == "running":
                assert time.monotonic() < deadline, "the play still runs (a hang?)"
                time.sleep(0.2)
        shown = subprocess.run([sys.executable, "-m", "egov_sim.cli", "trace", "show", state["applicationId"],
                                "--data-dir", str(settings.data_dir), "--base-port", str(free_base_port())],
                               capture_output=True, text=True, timeout=CEILING)
        assert shown.returncode == 0, shown.stderr
        assert "5-процесс" in shown.stdout and "8-процесс" in shown.stdout, shown.stdout
        code = trainer.stop(signal.SIGTERM)
        assert code == 0, trainer.output()
        assert trainer.lines[-1] == "egov-sim trainer: stopped.", trainer.output()
        assert "Traceback" not in trainer.output()
        with socket.socket() as again:  # the port is free again
            again.bind(("127.0.0.1", port))
        assert serving(settings.data_dir.resolve()) is None  # and the marker gone
    finally:
        trainer.stop(signal.SIGKILL)
        await drop_run(settings, (*SYSTEMS, "simulation"))


def test_a_taken_port_is_refused_by_name_before_any_system_starts(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        result = subprocess.run([*TRAINER_COMMAND, "--port", str(port), "--data-dir", str(tmp_path / "world")],
                                capture_output=True, text=True, timeout=CEILING)
    assert result.returncode == 1, result
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr and "--port" in result.stderr, result.stderr
    assert "Traceback" not in result.stderr and result.stdout == ""
    assert not (tmp_path / "world").exists()  # nothing was started


def test_the_trainer_command_is_registered(capsys):
    with pytest.raises(SystemExit) as exited:
        egov_sim_main(["trainer", "--help"])
    assert exited.value.code == 0
    shown = capsys.readouterr().out
    assert "--port" in shown and "--data-dir" in shown and "--host" in shown


async def test_up_prints_the_trainer_address_and_the_view_plays_over_http(tmp_path):
    settings = Settings(data_dir=tmp_path / "run", base_port=free_base_port())
    up = UpProcess("--base-port", str(settings.base_port), "--data-dir", str(settings.data_dir))
    try:
        up.wait_until_up()
        (page_url,) = up.wait_for(UP_ADDRESS).groups()
        assert page_url == f"{settings.url_of('control')}/trainer"
        token = (settings.data_dir / "admin.token").read_text().strip()
        assert token not in up.output()  # up names where the token is, never the token
        _check_view(page_url, token)
        # the control system plays a case, reaching the other systems over HTTP, and reads its flow
        admin = {TOKEN_HEADER: token}
        with httpx.Client(base_url=page_url, timeout=60, headers=admin) as client:
            started = client.post("/api/plays", json={"reglament": "almaty-queue", "channel": "portal",
                                                      "case": "approved"})
            assert started.status_code == 202, started.text
            deadline = time.monotonic() + CEILING
            while (state := client.get(f"/api/plays/{started.json()['playId']}").json())["status"] == "running":
                assert time.monotonic() < deadline, f"the play still runs after {CEILING:g} s (a hang?)"
                time.sleep(0.2)
            assert state["status"] == "done" and state["outcome"] == "approved", state
            flow = client.get(f"/api/flow/{state['applicationId']}").json()
            assert flow["outcome"] == "approved" and flow["steps"][-1]["label"] == "8-процесс"
            assert any(s["verdict"] == "VALID" for m in flow["messages"] for s in m["signatures"])
            listed = client.get("/api/applications").json()["applications"]
            assert [a["applicationId"] for a in listed] == [state["applicationId"]]
        assert up.stop() == 0, up.output()
    finally:
        up.stop(signal.SIGKILL)
        await drop_run(settings, (*SYSTEMS, "simulation"))


def test_the_address_holds_only_the_runs_own_token_url_encoded(tmp_path):
    from urllib.parse import unquote

    from egov_sim.trainer.cli import address_line, drawn_admin_token, view_url

    url = view_url("0.0.0.0", 8700)
    assert url == "http://127.0.0.1:8700/trainer"
    line = address_line(url, "a%b&c#d e")
    assert line == "trainer: http://127.0.0.1:8700/trainer#token=a%25b%26c%23d%20e"
    assert unquote(line.split("#token=", 1)[1]) == "a%b&c#d e"
    assert address_line(url, None) == "trainer: http://127.0.0.1:8700/trainer"
    drawn = Settings(data_dir=tmp_path / "drawn")
    assert drawn_admin_token(drawn) == (tmp_path / "drawn" / "admin.token").read_text().strip()
    shared = Settings(data_dir=tmp_path / "shared", admin_token="set-by-the-environment")
    assert drawn_admin_token(shared) is None  # a token the environment sets is never printed
