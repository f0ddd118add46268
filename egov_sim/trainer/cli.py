"""``egov-sim trainer``: the trainer's web view with every system in one process.

Every system runs in this process (:class:`egov_sim.inprocess.Simulation`), as ``egov-sim demo``
runs them; the control system alone also listens on a real socket (uvicorn), and serves the view at
``/trainer``. The command prints the view's address with the run's admin token in the fragment
(``#token=``: a browser never sends a fragment to the server, and the page moves it to its
session storage), then serves until Ctrl-C, SIGTERM or SIGHUP, and stops every system (exit 0).

Exit status: 0 stopped by a signal, 1 the socket cannot be had (the port taken: the message says
which) or the systems did not start, 2 a bad setting.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import errno
import signal
import socket
import sys
from pathlib import Path
from urllib.parse import quote
from typing import TextIO

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def add_parser(commands: argparse._SubParsersAction) -> None:
    trainer = commands.add_parser(
        "trainer", help="the trainer's web view with every system in one process",
        description="Every system in one process, the control system on a real socket with the trainer's "
                    "view at /trainer. Prints the view's address with the admin token; Ctrl-C, SIGTERM or "
                    "SIGHUP stops it (exit 0).")
    trainer.add_argument("--data-dir", type=Path, metavar="DIR",
                         help="the world to serve (created if new; default: EGOV_SIM_DATA_DIR, else ./.egov-sim)")
    trainer.add_argument("--port", type=int, metavar="PORT",
                         help="the port to listen on (default: the control system's, 8700 unless "
                              "EGOV_SIM_BASE_PORT says otherwise; 0: any free port)")
    trainer.add_argument("--host", default="127.0.0.1",
                         help="the address to listen on (default 127.0.0.1; the view needs the run's token "
                              "for anything beyond the catalogue)")


def view_url(host: str, port: int) -> str:
    """The view's address as a browser on this machine opens it (a wildcard host shown as loopback)."""
    shown = "127.0.0.1" if host in ("0.0.0.0", "") else "[::1]" if host == "::" else \
        f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}/trainer"


def address_line(url: str, token: str | None) -> str:
    """What the trainer opens: the view's URL, with the run's own admin token (URL-encoded) in the
    fragment -- never a token the environment sets, which may be shared beyond this run; the page
    then asks for it."""
    return f"trainer: {url}#token={quote(token, safe='')}" if token else f"trainer: {url}"


def drawn_admin_token(settings) -> str | None:
    """The run's admin token when the run drew it into its data directory (None when
    EGOV_SIM_ADMIN_TOKEN sets it)."""
    from simulation.credentials import RunCredentials

    return RunCredentials.of(settings).admin_token if settings.admin_token is None else None


MARKER = "trainer.json"  # egov_sim.snapshot.TRAINER_MARKER: never part of a snapshot
"""Left in the data directory while ``egov-sim trainer`` serves it: its process id and the view's
address, so that ``egov-sim trace show --data-dir`` reads the application through the view instead
of opening the same world a second time (see :func:`serving`)."""


def _mark(data_dir: Path, url: str) -> Path:
    import json
    import os

    marker = data_dir / MARKER
    marker.write_text(json.dumps({"pid": os.getpid(), "url": url}) + "\n")
    return marker


def _forget(marker: Path) -> None:
    marker.unlink(missing_ok=True)


def serving(data_dir: Path) -> str | None:
    """The view's address when an ``egov-sim trainer`` serves ``data_dir`` now (its process alive)."""
    import json
    import os

    try:
        found = json.loads((data_dir / MARKER).read_text())
        pid, url = int(found["pid"]), str(found["url"])
        os.kill(pid, 0)
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return url


def _listen(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(128)
        sock.set_inheritable(False)
    except OSError:
        sock.close()
        raise
    return sock


async def serve(settings, sock: socket.socket, host: str, out: TextIO, err: TextIO) -> int:
    import uvicorn

    from egov_sim.inprocess import Simulation

    class Server(uvicorn.Server):
        @contextlib.contextmanager
        def capture_signals(self):  # this command's own handlers (below): a signal ends it with 0
            yield

    loop = asyncio.get_running_loop()
    stopping = asyncio.Event()
    server: uvicorn.Server | None = None

    def stop() -> None:  # a signal: stop serving (a second one: without waiting for open requests)
        stopping.set()
        if server is not None:
            if server.should_exit:
                server.force_exit = True
            server.should_exit = True

    for signum in STOP_SIGNALS:  # before the systems start: a signal while they start stops them too
        loop.add_signal_handler(signum, stop)
    try:
        async with contextlib.AsyncExitStack() as running:
            try:
                simulation = await running.enter_async_context(Simulation(settings))
            except Exception as exc:  # noqa: BLE001 -- one line, not a traceback
                print(f"egov-sim trainer: the systems did not start: {type(exc).__name__}: {exc}", file=err)
                return 1
            if not stopping.is_set():
                config = uvicorn.Config(
                    simulation.apps["control"], log_level="warning", access_log=False,
                    lifespan="off",  # the control system's lifespan is the simulation's to run
                    proxy_headers=False, server_header=False, log_config=None,
                )
                server = Server(config)
                data = settings.data_dir.expanduser().resolve()
                running.callback(_forget, _mark(data, view_url(host, sock.getsockname()[1])))
                out.write(f"egov-sim trainer: every system in this process; data in {data}\n")
                token = drawn_admin_token(settings)
                out.write(address_line(view_url(host, sock.getsockname()[1]), token) + "\n")
                out.write(("Open the address in a browser (it holds the admin token: keep it to yourself). "
                           if token else "Open the address in a browser; it asks for the admin token. ")
                          + "Ctrl-C stops it.\n")
                out.flush()
                await server.serve(sockets=[sock])
    finally:
        for signum in STOP_SIGNALS:
            loop.remove_signal_handler(signum)
    out.write("egov-sim trainer: stopped.\n")
    out.flush()
    return 0


def run_trainer(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from pydantic import ValidationError

    from simulation.settings import Settings
    from simulation.topology import SYSTEMS

    try:
        chosen = {"data_dir": args.data_dir} if args.data_dir else {}
        settings = Settings(**chosen)
        port = settings.port_of("control") if args.port is None else args.port
        if not 0 <= port <= 65535:
            print(f"egov-sim trainer: --port {port} is no port (0-65535)", file=err)
            return 2
        try:
            sock = _listen(args.host, port)
        except OSError as exc:
            hint = " (egov-sim up or another trainer there? --port chooses another)" if exc.errno == errno.EADDRINUSE else ""
            print(f"egov-sim trainer: cannot listen on {args.host}:{port}: {exc.strerror or exc}{hint}", file=err)
            return 1
        bound = sock.getsockname()[1]
        highest = max(system.port_offset for system in SYSTEMS.values())
        if bound != settings.port_of("control") and "control" not in settings.urls and bound + highest <= 65535:
            # the control system's URL is where it listens, so what it says of itself (/systems) holds;
            # the others listen on no socket here (every request to them stays in this process)
            settings = Settings(**chosen, base_port=bound)
    except ValidationError as exc:
        print(f"egov-sim trainer: bad setting: {exc}", file=err)
        return 2
    with sock:
        return asyncio.run(serve(settings, sock, args.host, out, err))


def main(args: argparse.Namespace) -> int:
    return run_trainer(args, sys.stdout, sys.stderr)


if __name__ == "__main__":  # python -m egov_sim.trainer.cli ...: the same as `egov-sim trainer ...`
    from egov_sim.cli import build_parser

    argv = ["trainer", *sys.argv[1:]]
    sys.exit(main(build_parser(argv).parse_args(argv)))
